"""The sync facade has the async surface, name for name: a method added to the async client (say
`websocket`) fails here until `tether.sync` has it too."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import tether.sync as sync
from tether import ByteReadChannel, HttpClient, HttpResponse, HttpStatement
from tether.duplex import DuplexCall
from tether.plugins.sse import SSEConfig, SSESession
from tether.testing import MockEngine, respond

#: How an async name is spelt on the blocking side.
RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__", "__aiter__": "__iter__"}

#: Async names with no blocking twin, each with the reason.
NOT_MIRRORED: dict[type, dict[str, str]] = {
    ByteReadChannel: {
        "from_bytes": "constructor of async channels (engines, plugins)",
        "empty": "constructor of async channels (engines, plugins)",
        "set_deadline": "plugin API: deadlines are the event loop's clock",
        "take_memory": "engine/plugin fast path on the loop",
    },
    HttpResponse: {
        "set_deadline": "plugin API: plugins run on the async client",
        "wrap_body": "plugin API: plugins run on the async client",
    },
}

#: Blocking-only conveniences (kept small on purpose).
SYNC_EXTRAS: dict[type, set[str]] = {sync.HttpResponse: {"iter_bytes", "read_to"}}

PAIRS = [
    (HttpClient, sync.HttpClient),
    (HttpResponse, sync.HttpResponse),
    (HttpStatement, sync.HttpStatement),
    (SSESession, sync.SSESession),
    (DuplexCall, sync.DuplexCall),
    (ByteReadChannel, sync.ByteReadChannel),
]

DUNDERS = {"__aenter__", "__aexit__", "__aiter__", "__enter__", "__exit__", "__iter__"}


def public_names(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") or name in DUNDERS}


def public(instance: object) -> set[str]:
    return {name for name in vars(instance) if not name.startswith("_")}


def instance_attributes() -> dict[type, set[str]]:
    """Attributes set in __init__ (not visible on the class), read off real instances."""
    engine = MockEngine(lambda request: respond("x"))
    async_client = HttpClient(engine)
    sync_client = sync.HttpClient(engine)
    try:
        found = {
            HttpClient: public(async_client),
            sync.HttpClient: public(sync_client),
            HttpStatement: public(async_client.prepare_get("http://h/")),
            sync.HttpStatement: public(sync_client.prepare_get("http://h/")),
            HttpResponse: public(asyncio.run(async_client.get("http://h/"))),
            sync.HttpResponse: public(sync_client.get("http://h/")),
            SSESession: public(SSESession(async_client, "GET", "http://h/", SSEConfig(), {})),
        }
    finally:
        sync_client.close()
        asyncio.run(async_client.close())
    return found


def missing_and_extra(async_type: type, sync_type: type) -> tuple[list[str], list[str]]:
    attributes = instance_attributes()
    async_names = public_names(async_type) | attributes.get(async_type, set())
    sync_names = public_names(sync_type) | attributes.get(sync_type, set())
    skipped = NOT_MIRRORED.get(async_type, {})
    expected = {RENAMED.get(name, name) for name in async_names if name not in skipped}
    extra = sync_names - expected - SYNC_EXTRAS.get(sync_type, set())
    return sorted(expected - sync_names), sorted(extra)


@pytest.mark.parametrize(("async_type", "sync_type"), PAIRS, ids=lambda t: t.__name__)
def test_the_sync_twin_has_every_public_name_of_the_async_type(async_type: type, sync_type: type) -> None:
    missing, extra = missing_and_extra(async_type, sync_type)
    assert not missing, f"tether.sync.{sync_type.__name__} lacks {missing} (present on {async_type.__name__})"
    assert not extra, f"tether.sync.{sync_type.__name__} has {extra} that {async_type.__name__} does not"


def positional(function: Any) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in inspect.signature(function).parameters.values() if p.kind in kinds]


def accepted(function: Any) -> set[str]:
    """Keyword names a call may pass; `**kwargs` forwarding to the async method accepts its keywords."""
    parameters = inspect.signature(function).parameters.values()
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD and not p.name.startswith("_")}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        names.add("**")
    return names


def keyword_only(function: Any) -> set[str]:
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _members(cls: type) -> dict[str, Any]:
    return {name: inspect.getattr_static(cls, name) for name in public_names(cls)}


@pytest.mark.parametrize(("async_type", "sync_type"), PAIRS, ids=lambda t: t.__name__)
def test_methods_take_the_same_parameters_and_block(async_type: type, sync_type: type) -> None:
    sync_members = _members(sync_type)
    for name, member in _members(async_type).items():
        twin = sync_members.get(RENAMED.get(name, name))
        if twin is None or not callable(member) or name in DUNDERS:
            continue  # presence is the other test's business; dunders differ by protocol
        if isinstance(member, property) != isinstance(twin, property):
            pytest.fail(f"{async_type.__name__}.{name}: property on one side only")
        lacking = accepted(member) - accepted(twin)
        if "**" in accepted(twin):  # forwards keywords to the async method
            lacking -= keyword_only(member)
        assert not lacking, f"tether.sync.{sync_type.__name__}.{name} does not accept {sorted(lacking)}"
        assert positional(twin) == positional(member), f"{async_type.__name__}.{name} positional parameters differ"
        assert not inspect.iscoroutinefunction(twin), f"tether.sync.{sync_type.__name__}.{name} is async"


def test_a_new_async_method_is_flagged_until_the_sync_facade_has_it() -> None:
    class Grown(HttpClient):
        async def teleport(self, url: str) -> None: ...

    missing, _ = missing_and_extra(Grown, sync.HttpClient)
    assert missing == ["teleport"]
