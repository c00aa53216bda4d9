"""The JSON Schemas of ``Event`` and of ``TradingEvent``, for consumers outside Python.

The committed copies live beside this module as ``event.schema.json`` and ``trading.schema.json``;
regenerate both with ``xfeeds schema --write`` whenever a schema type changes (a test fails while
either is stale). The trading schema validates a ``TradingEvent`` and also defines
``OrderRequest`` under ``$defs``, so a client in another language can build requests from it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import msgspec

from schemas.events import Event
from schemas.trading import OrderRequest, TradingEvent

SCHEMA_PATH = Path(__file__).with_name("event.schema.json")
TRADING_SCHEMA_PATH = Path(__file__).with_name("trading.schema.json")


def _clean_descriptions(node: Any) -> Any:
    """Descriptions with docstring indentation removed, whatever msgspec version produced them."""
    if isinstance(node, dict):
        return {
            key: _clean(key, value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(item) for item in node]
    return node


def _clean(key: str, value: Any) -> Any:
    return inspect.cleandoc(value) if key == "description" and isinstance(value, str) else _clean_descriptions(value)


def _text(schema: dict[str, Any], title: str) -> str:
    """``schema`` as stable, indented JSON text, the same under every msgspec version."""
    schema = _clean_descriptions(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = title
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2).decode() + "\n"


def render() -> str:
    """The schema of the ``Event`` union."""
    return _text(msgspec.json.schema(Event), "xfeeds Event")


def render_trading() -> str:
    """The schema of the ``TradingEvent`` union, with ``OrderRequest`` among its definitions."""
    (union, _request), definitions = msgspec.json.schema_components(
        [TradingEvent, OrderRequest], ref_template="#/$defs/{name}"
    )
    return _text({**union, "$defs": definitions}, "xfeeds TradingEvent")


def write() -> list[Path]:
    """Write both current schemas beside this module and return their paths."""
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    TRADING_SCHEMA_PATH.write_text(render_trading(), encoding="utf-8")
    return [SCHEMA_PATH, TRADING_SCHEMA_PATH]
