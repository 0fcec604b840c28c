"""The engine SPI: one `execute(HttpRequestData) -> HttpResponseData`, `capabilities`, `close`."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tether.engine.capabilities import (
    DEFAULT_CAPABILITIES,
    HttpClientEngineCapability,
    SocksProxyCapability,
)
from tether.engine.config import HttpClientEngineConfig, ProxyType
from tether.exceptions import (
    ClientClosedError,
    InvalidHeaderError,
    InvalidMethodError,
    UnsafeHeaderException,
    UnsupportedCapabilityError,
)
from tether.http import TOKEN, UNSAFE_HEADERS, Headers

if TYPE_CHECKING:
    from tether.request import HttpRequestData
    from tether.response import HttpResponseData

__all__ = ["HttpClientEngine", "HttpClientEngineBase", "check_request"]

C = TypeVar("C", bound=HttpClientEngineConfig)


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

    @abstractmethod
    async def execute(self, request: HttpRequestData) -> HttpResponseData:
        """Send one request and return as soon as the response head has arrived.

        The body is a `ByteReadChannel` that streams; closing it releases the connection.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release every connection and worker. Called once, by the last client sharing the engine."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class HttpClientEngineBase(HttpClientEngine, Generic[C]):
    """A convenient base: keeps the typed config, guards against use after close."""

    def __init__(self, config: C) -> None:
        self.config: C = config
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def execute(self, request: HttpRequestData) -> Coroutine[Any, Any, HttpResponseData]:
        if self._closed:
            raise ClientClosedError(f"Engine {self.name} is already closed")
        return self._execute(request)  # returned, not awaited: no extra coroutine frame per request

    @abstractmethod
    async def _execute(self, request: HttpRequestData) -> HttpResponseData: ...

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._close()

    async def _close(self) -> None:
        """Override to release the library's resources."""
        await asyncio.sleep(0)


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
            raise UnsupportedCapabilityError(engine.name, capability, f"needed by {request.method} {request.url}")
    proxy = getattr(engine.config, "proxy", None)
    if proxy is not None and proxy.type is ProxyType.SOCKS and SocksProxyCapability not in supported:
        raise UnsupportedCapabilityError(engine.name, SocksProxyCapability, f"configured {proxy}")
    return request


#: The methods nearly every request uses: a set lookup instead of a regex match.
_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_METHOD = re.compile(TOKEN)

_VALUE = r"[\t\x20-\x7e]*"  # visible ASCII, SP and HTAB (RFC 9110 5.5)
#: The same, without surrounding whitespace (possessive: no backtracking).
_TRIMMED_VALUE = r"(?:[\x21-\x7e]++(?:[ \t]++[\x21-\x7e]++)*+)?+"
#: Every field at once, as `name NUL value` joined by SOH. A NUL or SOH inside a name or value either
#: breaks the match or adds a field, which the count of SOHs shows.
_FIELDS = re.compile(rf"{TOKEN}\x00{_VALUE}(?:\x01{TOKEN}\x00{_VALUE})*\Z")
_TRIMMED_FIELDS = re.compile(rf"{TOKEN}\x00{_TRIMMED_VALUE}(?:\x01{TOKEN}\x00{_TRIMMED_VALUE})*+\Z")


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
