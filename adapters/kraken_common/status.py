"""Kraken's system status, as the shared ``Status`` event: both protocols report it alike."""

from __future__ import annotations

from typing import Final, TypeGuard, get_args

from schemas.events import Status, SystemState

_REPORTED: Final = frozenset(get_args(SystemState)) - {"unknown"}
"""The states Kraken reports are the schema's own names."""


def system_status(exchange: str, system: str, version: str, received_ns: int) -> Status:
    """A ``Status`` for Kraken's ``system`` state (``unknown`` if it is new), naming the version."""
    detail = f"{system} (version {version})" if version else system
    state: SystemState = system if _is_reported(system) else "unknown"
    return Status(exchange=exchange, state=state, detail=detail, ts_received=received_ns)


def _is_reported(system: str) -> TypeGuard[SystemState]:
    return system in _REPORTED
