"""The JSON Schema of ``Event``, for consumers outside Python.

The committed copy lives beside this module as ``event.schema.json``; regenerate it with
``xfeeds schema --write`` whenever a schema type changes (a test fails while it is stale).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import msgspec

from schemas.events import Event

SCHEMA_PATH = Path(__file__).with_name("event.schema.json")


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


def render() -> str:
    """The schema of the ``Event`` union as stable, indented JSON text, the same under every msgspec version."""
    schema = _clean_descriptions(msgspec.json.schema(Event))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "xfeeds Event"
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2).decode() + "\n"


def write(path: Path = SCHEMA_PATH) -> Path:
    """Write the current schema to ``path`` and return it."""
    path.write_text(render(), encoding="utf-8")
    return path
