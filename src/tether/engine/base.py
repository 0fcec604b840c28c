"""The engine SPI: one `execute(HttpRequestData) -> HttpResponseData`, `capabilities`, `close`."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from tether.engine.capabilities import (
    DEFAULT_CAPABILITIES,
    HttpClientEngineCapability,
    HttpTimeoutCapability,
    SocksProxyCapability,
    WebSocketCapability,
)
from tether.engine.config import HttpClientEngineConfig, ProxyType
from tether.exceptions import (
    ClientClosedError,
    InvalidHeaderError,
    InvalidMethodError,
    SocketTimeoutException,
    UnsafeHeaderException,
    UnsupportedCapabilityError,
)
from tether.http import TOKEN, UNSAFE_HEADERS, Headers

if TYPE_CHECKING:
    from tether.engine.upgrade import Upgrade
    from tether.request import HttpRequestData
    from tether.response import HttpResponseData

__all__ = [
    "DeadlineTimer",
    "HeadDeadline",
    "HttpClientEngine",
    "HttpClientEngineBase",
    "check_request",
    "head_deadline",
    "head_timeout_error",
]

C = TypeVar("C", bound=HttpClientEngineConfig)
R = TypeVar("R")


class HttpClientEngine(ABC):
    """What an engine adapter implements. The core never imports an engine; engines see only
    `HttpRequestData` and return `HttpResponseData`, mapping their library's exceptions onto tether's
    hierarchy in one place."""

    name: str = "engine"
    config: HttpClientEngineConfig

    @property
    def capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:
        """What this engine can do; a request needing anything else fails before any I/O."""
        return DEFAULT_CAPABILITIES

    @property
    def executor(self) -> Executor | None:
        """Where blocking work for this engine's calls runs (Ktor's dispatcher): the engine's own
        blocking I/O, and the blocking user code tether calls for it (`read_to` into a file, progress
        listeners). The configured `executor`; None means the event loop's default executor."""
        return self.config.executor

    @abstractmethod
    async def execute(self, request: HttpRequestData) -> HttpResponseData:
        """Send one request and return as soon as the response head has arrived.

        The body is a `ByteReadChannel` that streams; closing it releases the connection.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release every connection and worker. Called once, by the last client sharing the engine."""

    def capability_hint(self, capability: HttpClientEngineCapability[Any]) -> str | None:
        """How to get `capability` on this engine when a setting turns it on (e.g. Curl's duplex
        streaming), for the `UnsupportedCapabilityError` a request needing it raises; None: it cannot."""
        return None

    async def upgrade(self, request: HttpRequestData, protocol: str) -> Upgrade:
        """Send `request` over HTTP/1.1 with `Connection: Upgrade` / `Upgrade: protocol` and return the
        head and, on a 101, the connection as a byte stream (see `tether.engine.upgrade`). Engines that
        declare `WebSocketCapability` implement it."""
        raise UnsupportedCapabilityError(self.name, WebSocketCapability, f"needed by {request.method} {request.url}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class HttpClientEngineBase(HttpClientEngine, Generic[C]):
    """A convenient base: keeps the typed config, guards against use after close, and owns a pool of
    `threads_count` threads for blocking work when no `executor` is configured."""

    _blocking_pool: ThreadPoolExecutor | None = None

    def __init__(self, config: C) -> None:
        self.config: C = config
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def executor(self) -> Executor:
        """The configured `executor`, else a pool of `threads_count` threads the engine owns (made on
        first use, its threads on first task; shut down when the engine closes)."""
        if self.config.executor is not None:
            return self.config.executor
        if self._blocking_pool is None:
            self._blocking_pool = ThreadPoolExecutor(
                self.config.threads_count, thread_name_prefix=f"tether-{self.name}"
            )
        return self._blocking_pool

    def execute(self, request: HttpRequestData) -> Coroutine[Any, Any, HttpResponseData]:
        if self._closed:
            raise ClientClosedError(f"Engine {self.name} is already closed")
        return with_engine_defaults(self.config, request, self._execute)

    @abstractmethod
    async def _execute(self, request: HttpRequestData) -> HttpResponseData: ...

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._close()
        finally:
            pool, self._blocking_pool = self._blocking_pool, None
            if pool is not None:
                pool.shutdown(wait=False)

    async def _close(self) -> None:
        """Override to release the library's resources."""
        await asyncio.sleep(0)


#: id(capabilities) -> (capabilities, connect timeout, the capabilities with it filled in)
_capabilities_with: dict[int, tuple[object, float, Mapping[Any, Any]]] = {}


def _with_default_connect(request: HttpRequestData, connect_timeout: float) -> HttpRequestData:
    """The request with the engine's default connect timeout filled in (engines read only
    `request.timeout`). Requests that share their capabilities (the common case: none, when no
    HttpTimeout is installed) share the filled-in mapping too."""
    capabilities = request.capabilities
    cached = _capabilities_with.get(id(capabilities))
    filled: Mapping[Any, Any]
    if cached is not None and cached[0] is capabilities and cached[1] == connect_timeout:
        filled = cached[2]
    else:
        timeouts = dataclasses.replace(request.timeout, connect_timeout=connect_timeout)
        filled = MappingProxyType({**capabilities, HttpTimeoutCapability: timeouts})
        if not capabilities or isinstance(capabilities, MappingProxyType):  # shared, long-lived mappings
            if len(_capabilities_with) > 64:
                _capabilities_with.clear()
            _capabilities_with[id(capabilities)] = (capabilities, connect_timeout, filled)
    return type(request)(request.url, request.method, request.headers, request.body, request.attributes, filled)


class HeadDeadline:
    """The response-head deadline of one request: its task is cancelled when the deadline passes.
    Made by `head_deadline`; `end()` it when the call is over, and on `CancelledError` ask
    `timed_out()` whether the cancellation was the deadline's."""

    __slots__ = ("_before", "_deadlines", "deadline", "expired", "task")

    def __init__(self, deadlines: _HeadDeadlines, task: asyncio.Task[Any], deadline: float) -> None:
        self._deadlines = deadlines
        self._before = cast(Any, task).cancelling() if _CANCELLING else 0
        self.task = task
        self.deadline = deadline
        self.expired = False

    def timed_out(self) -> bool:
        """On `CancelledError`: True when the deadline cancelled the task and nobody else did (then
        the caller raises `head_timeout_error`), False when the cancellation must propagate."""
        if not self.expired:
            return False
        # Someone else cancelled the task too (as asyncio.timeout decides): theirs wins.
        return not (_CANCELLING and cast(Any, self.task).uncancel() > self._before)

    def end(self) -> None:
        self._deadlines._waiting.pop(self, None)


class DeadlineTimer:
    """One timer for many deadlines (a timer each costs a heap push and a cancelled handle per
    request): while watched, `check` runs every eighth of the shortest limit watched (5 ms to 1 s),
    so a deadline is noticed within its limit plus an eighth of it (at most 1 s more). `check` calls
    `again()` while deadlines remain. Used for the response-head deadlines of every engine."""

    __slots__ = ("_check", "_loop", "_timer", "interval")

    def __init__(self, loop: asyncio.AbstractEventLoop, check: Callable[[], None]) -> None:
        self._loop = loop
        self._check = check
        self._timer: asyncio.TimerHandle | None = None
        self.interval = 1.0

    def watch(self, limit: float) -> None:
        """A deadline `limit` seconds away is being watched: start the timer, or make it more frequent."""
        if self._timer is not None and limit >= self.interval * 8:
            return
        interval = min(1.0, max(0.005, limit / 8))
        if interval < self.interval:
            self.interval = interval
            self.cancel()
        if self._timer is None:
            self._timer = self._loop.call_later(self.interval, self._fire)

    def again(self) -> None:
        self._timer = self._loop.call_later(self.interval, self._fire)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        self._check()


class _HeadDeadlines:
    """The response-head deadlines of the requests in flight on one event loop (`DeadlineTimer`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._waiting: dict[HeadDeadline, None] = {}
        self._timer = DeadlineTimer(loop, self._check)

    def add(self, task: asyncio.Task[Any], limit: float) -> HeadDeadline:
        wait = HeadDeadline(self, task, self.loop.time() + limit)
        self._waiting[wait] = None
        self._timer.watch(limit)
        return wait

    def _check(self) -> None:
        now = self.loop.time()
        expired = [wait for wait in self._waiting if wait.deadline <= now]
        for wait in expired:
            del self._waiting[wait]
            wait.expired = True
            wait.task.cancel()
        if self._waiting:
            self._timer.again()


_head_deadlines: dict[asyncio.AbstractEventLoop, _HeadDeadlines] = {}
_CANCELLING = sys.version_info >= (3, 11)  # Task.cancelling() and uncancel()


def head_deadline(limit: float) -> HeadDeadline:
    """Start the engine's `response_head_timeout` for the running task: a head dripped byte by byte,
    or endless interim 1xx heads, never hang a request that has no timeout of its own. An engine
    whose call runs in one coroutine bounds it inline, as `_head_within` bounds a whole call: on
    `CancelledError`, `timed_out()` says to raise `head_timeout_error`; `end()` when the call is over.
    """
    task = asyncio.current_task()
    assert task is not None
    loop = task.get_loop()  # the running loop (one lookup, not two)
    deadlines = _head_deadlines.get(loop)
    if deadlines is None:
        for stale in [other for other in _head_deadlines if other.is_closed()]:
            del _head_deadlines[stale]
        deadlines = _head_deadlines[loop] = _HeadDeadlines(loop)
    return deadlines.add(task, limit)


def head_timeout_error(request: HttpRequestData, limit: float) -> SocketTimeoutException:
    """The error of a response head that did not arrive within `response_head_timeout`."""
    return SocketTimeoutException(
        request.url, limit, f"no complete response head within {limit:g} s (response_head_timeout)"
    )


async def _head_within(call: Coroutine[Any, Any, R], limit: float, request: HttpRequestData) -> R:
    """`call` (an engine's `_execute`, which returns at the response head), bounded by the engine's
    `response_head_timeout` (`head_deadline`)."""
    deadline = head_deadline(limit)
    try:
        return await call
    except asyncio.CancelledError:
        if deadline.timed_out():
            raise head_timeout_error(request, limit) from None
        raise
    finally:
        deadline.end()


def with_engine_defaults(
    config: HttpClientEngineConfig,
    request: HttpRequestData,
    call: Callable[[HttpRequestData], Coroutine[Any, Any, R]],
) -> Coroutine[Any, Any, R]:
    """`call(request)` (which returns at the response head) under the engine's default limits:
    `connect_timeout` when the request sets none, and `response_head_timeout` unless the request has
    a `request_timeout` or a body produced while it is sent. Returned, not awaited: no extra
    coroutine frame per request."""
    if request.timeout.connect_timeout is None and config.connect_timeout is not None:
        request = _with_default_connect(request, config.connect_timeout)
    limit = default_head_limit(config, request)
    if limit is not None:
        return _head_within(call(request), limit, request)
    return call(request)


def default_head_limit(config: HttpClientEngineConfig, request: HttpRequestData) -> float | None:
    """The engine's `response_head_timeout` when it bounds `request`: not when the request has a
    `request_timeout` of its own, nor when its body is produced while it is sent (the head may wait
    for the body). None: no default bound."""
    limit = config.response_head_timeout
    if limit is not None and request.timeout.request_timeout is None and not request.body.produced_while_sent:
        return limit
    return None


async def upgrade_with_defaults(engine: HttpClientEngine, request: HttpRequestData, protocol: str) -> Upgrade:
    """`engine.upgrade(request, protocol)` under the engine's default limits, as `execute` applies
    them (the 101 or a refusal must arrive within `response_head_timeout`)."""
    return await with_engine_defaults(engine.config, request, lambda data: engine.upgrade(data, protocol))


def unsupported_capability(
    engine: HttpClientEngine, capability: HttpClientEngineCapability[Any], detail: str
) -> UnsupportedCapabilityError:
    """The error for a request needing `capability`, with the engine's hint when a setting turns it on."""
    hint = engine.capability_hint(capability)
    return UnsupportedCapabilityError(engine.name, capability, f"{detail}; {hint}" if hint else detail)


def check_request(engine: HttpClientEngine, request: HttpRequestData) -> HttpRequestData:
    """The central pre-flight check, run right before `engine.execute` and so before any I/O:
    the method must be a token, engine-owned headers are rejected, header fields must be sendable as
    given on every engine, and every required capability must be declared. Returns the request to
    send: the same one, or a copy whose header values lost their surrounding whitespace."""
    method = request.method
    if method not in _COMMON_METHODS and (type(method) is not str or _METHOD.fullmatch(method) is None):
        # libcurl sends a CR LF inside a method as is: a second request on the wire.
        raise InvalidMethodError(method)
    headers = request.headers
    fields = headers.multidict  # the C multidict: this runs for every request
    if fields:
        if "Transfer-Encoding" in fields or "Upgrade" in fields:
            unsafe = {name.lower() for name in UNSAFE_HEADERS}  # istr hashes by case: compare folded
            raise UnsafeHeaderException(", ".join(name for name in headers if name.lower() in unsafe))
        request = _sendable_fields(request)
    supported = engine.capabilities
    for capability in request.capabilities:
        if capability not in supported:
            raise unsupported_capability(engine, capability, f"needed by {request.method} {request.url}")
    proxy = getattr(engine.config, "proxy", None)
    if proxy is not None and proxy.type is ProxyType.SOCKS and SocksProxyCapability not in supported:
        raise UnsupportedCapabilityError(engine.name, SocksProxyCapability, f"configured {proxy}")
    return request


#: The methods nearly every request uses: a set lookup instead of a regex match.
_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_METHOD = re.compile(TOKEN)

_VALUE = r"[\t\x20-\x7e]*"  # visible ASCII, SP and HTAB (RFC 9110 5.5)
#: The same, without surrounding whitespace (possessive: no backtracking; Python 3.10 has no possessive
#: quantifiers, and there the classes being disjoint keeps the backtracking linear).
_P = "+" if sys.version_info >= (3, 11) else ""
_TRIMMED_VALUE = rf"(?:[\x21-\x7e]+{_P}(?:[ \t]+{_P}[\x21-\x7e]+{_P})*{_P})?{_P}"
#: Every field at once, as `name NUL value` joined by SOH. A NUL or SOH inside a name or value either
#: breaks the match or adds a field, which the count of SOHs shows.
_FIELDS = re.compile(rf"{TOKEN}\x00{_VALUE}(?:\x01{TOKEN}\x00{_VALUE})*\Z")
_TRIMMED_FIELDS = re.compile(rf"{TOKEN}\x00{_TRIMMED_VALUE}(?:\x01{TOKEN}\x00{_TRIMMED_VALUE})*{_P}\Z")


def _sendable_fields(request: HttpRequestData) -> HttpRequestData:
    """The header fields as every engine sends them, or InvalidHeaderError naming the first that no
    engine may send: h11, llhttp, http.client and libcurl each let a different set through (libcurl
    sends a CR LF in a value on as a new header line)."""
    fields = request.headers.multidict.items()
    try:
        joined = "\x01".join(map("\x00".join, fields))
    except TypeError:
        name, value = next((n, v) for n, v in fields if type(v) is not str)
        raise InvalidHeaderError(name, f"its value must be a str, not {type(value).__name__}") from None
    joins = len(fields) - 1
    if _TRIMMED_FIELDS.match(joined) is not None and joined.count("\x01") == joins:
        return request
    if _FIELDS.match(joined) is None or joined.count("\x01") != joins:
        raise _invalid_field(fields)
    # Surrounding whitespace is not part of a field value (RFC 9110 5.5); h11 refuses to send it.
    trimmed = Headers([(name, value.strip(" \t")) for name, value in fields])
    return dataclasses.replace(request, headers=trimmed)


def _invalid_field(fields: Iterable[tuple[str, str]]) -> InvalidHeaderError:
    for name, value in fields:
        if re.fullmatch(TOKEN, name) is None:
            return InvalidHeaderError(
                name, "a header name is a token of letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 5.1)"
            )
        bad = next((char for char in value if not ("\x20" <= char <= "\x7e" or char == "\t")), None)
        if bad is None:
            continue
        if bad > "\x7f":
            return InvalidHeaderError(
                name,
                f"its value holds the non-ASCII character {bad!r}; encode it first "
                "(percent-encoding, or RFC 8187 for parameters)",
            )
        return InvalidHeaderError(
            name, f"its value holds the control character {bad!r} (CR and LF would start a new header line)"
        )
    raise AssertionError("no invalid header field found")  # pragma: no cover - the caller found one
