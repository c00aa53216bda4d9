"""The async and the sync face offer the same surface, method for method and parameter for parameter."""

from __future__ import annotations

import inspect

import pytest

import sdk
from sdk.memory import MemoryConnector
from tests.core.toy import toy_adapter

SAME_ROLE = {"__aenter__": "__enter__", "__aexit__": "__exit__", "__aiter__": "__iter__", "aclose": "close"}
"""Async names and their blocking counterparts."""

ONE_FACE_ONLY = {
    "__anext__": "the sync face iterates with a generator (__iter__)",
    "session": "the sans-I/O core lives on the feed's event loop thread; the sync face reads it through the portal",
    "on_event": "callback delivery on the background thread exists because the sync caller's thread is busy",
}


def surface(face: object) -> set[str]:
    names = {name for name in dir(face) if not name.startswith("_")}
    names |= {name for name in ("__aenter__", "__aexit__", "__aiter__", "__anext__", "__enter__", "__exit__", "__iter__") if hasattr(face, name)}
    return names


def faces() -> tuple[sdk.Feed, sdk.SyncFeed]:
    return sdk.connect(toy_adapter(), connector=MemoryConnector()), sdk.connect_sync(toy_adapter(), connector=MemoryConnector())


def test_every_public_name_exists_on_both_faces() -> None:
    feed, sync = faces()
    async_names = {SAME_ROLE.get(name, name) for name in surface(feed)} - ONE_FACE_ONLY.keys()
    sync_names = surface(sync) - ONE_FACE_ONLY.keys()
    assert async_names == sync_names, f"only async: {async_names - sync_names}; only sync: {sync_names - async_names}"


@pytest.mark.parametrize("name", ["subscribe", "unsubscribe", "state", "orderbook", "book", "next_batch"])
def test_shared_methods_take_the_same_parameters(name: str) -> None:
    feed, sync = faces()
    async_parameters = list(inspect.signature(getattr(feed, name)).parameters.values())
    sync_parameters = list(inspect.signature(getattr(sync, name)).parameters.values())
    assert [(p.name, p.kind, p.default) for p in async_parameters] == [(p.name, p.kind, p.default) for p in sync_parameters]


def test_both_faces_return_the_same_book_view_type() -> None:
    feed, sync = faces()
    assert inspect.signature(feed.orderbook).return_annotation == inspect.signature(sync.orderbook).return_annotation


ACCOUNT_ONE_FACE_ONLY = {
    **ONE_FACE_ONLY,
    "ready_timeout": "an option of the account the sync face passes through untouched",
}
"""As ``ONE_FACE_ONLY``, for accounts (which have no callbacks of their own to count)."""

CREDENTIALS = sdk.Credentials(key="face-test-key", secret="c2VjcmV0")


def test_both_account_faces_return_the_same_book_view_type() -> None:
    account, sync = account_faces()
    assert inspect.signature(account.orderbook).return_annotation == inspect.signature(sync.orderbook).return_annotation


def account_faces() -> tuple[sdk.Account, sdk.SyncAccount]:
    return sdk.account("kraken", CREDENTIALS), sdk.account_sync("kraken", CREDENTIALS)


def test_every_public_account_name_exists_on_both_faces() -> None:
    account, sync = account_faces()
    async_names = {SAME_ROLE.get(name, name) for name in surface(account)} - ACCOUNT_ONE_FACE_ONLY.keys()
    sync_names = surface(sync) - ACCOUNT_ONE_FACE_ONLY.keys()
    assert async_names == sync_names, f"only async: {async_names - sync_names}; only sync: {sync_names - async_names}"


@pytest.mark.parametrize(
    "name",
    ["place", "place_batch", "amend", "cancel", "cancel_all", "cancel_all_after", "next_batch", "subscribe", "unsubscribe", "orderbook"],
)
def test_shared_account_methods_take_the_same_parameters(name: str) -> None:
    account, sync = account_faces()
    async_parameters = list(inspect.signature(getattr(account, name)).parameters.values())
    sync_parameters = list(inspect.signature(getattr(sync, name)).parameters.values())
    assert [(p.name, p.kind, p.default) for p in async_parameters] == [(p.name, p.kind, p.default) for p in sync_parameters]


@pytest.mark.parametrize("name", ["subscribe", "next_batch"])
def test_both_merge_faces_take_the_same_parameters(name: str) -> None:
    merged = sdk.merge(sdk.connect(toy_adapter(), connector=MemoryConnector()))
    blocking = sdk.merge_sync(sdk.connect(toy_adapter(), connector=MemoryConnector()))
    async_parameters = inspect.signature(getattr(merged, name)).parameters.values()
    sync_parameters = inspect.signature(getattr(blocking, name)).parameters.values()
    assert [(p.name, p.kind, p.default) for p in async_parameters] == [(p.name, p.kind, p.default) for p in sync_parameters]


SHARDED_ONLY = {
    "connections": "the feeds it spreads its subscriptions over",
    "limit": "how many subscriptions each of them holds at most",
}
"""What a feed over several connections has beyond a feed of one (it has no one ``session``)."""


def test_a_feed_over_several_connections_has_the_surface_of_a_feed() -> None:
    feed = sdk.connect(toy_adapter(), connector=MemoryConnector())
    spread = sdk.connect(toy_adapter(), connector=MemoryConnector(), subscriptions_per_connection=2)
    assert isinstance(spread, sdk.ShardedFeed)
    assert surface(spread) - SHARDED_ONLY.keys() == surface(feed) - {"session"}
    for name in ["subscribe", "unsubscribe", "state", "orderbook", "book", "next_batch"]:
        expected = [(p.name, p.kind, p.default) for p in inspect.signature(getattr(feed, name)).parameters.values()]
        got = [(p.name, p.kind, p.default) for p in inspect.signature(getattr(spread, name)).parameters.values()]
        assert got == expected, name
