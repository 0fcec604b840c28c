"""tether's exception hierarchy: every failure an application can see derives from `TetherError`.

Engines map their library's exceptions onto these classes in exactly one place each, so the same
failure raises the same class on every engine. Timeouts also derive from the builtin `TimeoutError`
and connection failures from `ConnectionError`, so code written against the standard library still
catches them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tether.response import HttpResponse

__all__ = [
    "BodyAlreadyConsumedError",
    "BodyLengthMismatchError",
    "BodyNotReplayableError",
    "ClientClosedError",
    "ClientRequestException",
    "ConnectError",
    "ConnectTimeoutException",
    "EngineNotFoundError",
    "HttpRequestTimeoutException",
    "InvalidHeaderError",
    "InvalidMethodError",
    "InvalidUrlError",
    "ProtocolError",
    "RedirectResponseException",
    "ResponseClosedError",
    "ResponseException",
    "SSEClientException",
    "SendCountExceedException",
    "ServerResponseException",
    "SocketTimeoutException",
    "TetherError",
    "TlsError",
    "UnsafeHeaderException",
    "UnsupportedCapabilityError",
]


class TetherError(Exception):
    """The root of every exception tether raises on purpose."""


# --- responses that the caller asked to be treated as failures (expect_success) -----------------


class ResponseException(TetherError):
    """A response that failed validation; `response` is the full response (its body stays readable)."""

    def __init__(self, response: HttpResponse, cached_text: str, message: str | None = None) -> None:
        self.response = response
        self.cached_text = cached_text
        request = response.request
        default = f"Bad response: {request.method} {request.url} returned {response.status}."
        super().__init__(message or f"{default} Text: {cached_text!r}")


class RedirectResponseException(ResponseException):
    """A 3xx response that was not followed while `expect_success` was set."""

    def __init__(self, response: HttpResponse, cached_text: str) -> None:
        request = response.request
        super().__init__(
            response,
            cached_text,
            f"Unhandled redirect: {request.method} {request.url} returned {response.status}. Text: {cached_text!r}",
        )


class ClientRequestException(ResponseException):
    """A 4xx response while `expect_success` was set."""

    def __init__(self, response: HttpResponse, cached_text: str) -> None:
        request = response.request
        super().__init__(
            response,
            cached_text,
            f"Client request({request.method} {request.url}) invalid: {response.status}. Text: {cached_text!r}",
        )


class ServerResponseException(ResponseException):
    """A 5xx response while `expect_success` was set."""

    def __init__(self, response: HttpResponse, cached_text: str) -> None:
        request = response.request
        super().__init__(
            response,
            cached_text,
            f"Server error({request.method} {request.url}: {response.status}. Text: {cached_text!r}",
        )


# --- timeouts -------------------------------------------------------------------------------------


class HttpRequestTimeoutException(TetherError, TimeoutError):
    """The whole exchange (sending, waiting and reading the body) took longer than `request_timeout`."""

    def __init__(self, url: object, timeout: float | None) -> None:
        self.url = str(url)
        self.timeout = timeout
        shown = "unknown" if timeout is None else f"{timeout * 1000:g} ms"
        super().__init__(f"Request timeout has expired [url={self.url}, request_timeout={shown}]")


class ConnectTimeoutException(TetherError, TimeoutError):
    """Establishing the connection (TCP and TLS) took longer than `connect_timeout`."""

    def __init__(self, url: object, timeout: float | None, detail: str = "") -> None:
        self.url = str(url)
        self.timeout = timeout
        shown = "unknown" if timeout is None else f"{timeout * 1000:g} ms"
        suffix = f": {detail}" if detail else ""
        super().__init__(f"Connect timeout has expired [url={self.url}, connect_timeout={shown}]{suffix}")


class SocketTimeoutException(TetherError, TimeoutError):
    """No byte was sent or received for longer than `socket_timeout`."""

    def __init__(self, url: object, timeout: float | None, detail: str = "") -> None:
        self.url = str(url)
        self.timeout = timeout
        shown = "unknown" if timeout is None else f"{timeout * 1000:g} ms"
        suffix = f": {detail}" if detail else ""
        super().__init__(f"Socket timeout has expired [url={self.url}, socket_timeout={shown}]{suffix}")


# --- transport ------------------------------------------------------------------------------------


class ConnectError(TetherError, ConnectionError):
    """The connection could not be established (refused, unreachable, DNS failure)."""


class TlsError(ConnectError):
    """The TLS handshake failed: untrusted certificate, wrong hostname, protocol mismatch."""


class ProtocolError(TetherError):
    """The peer broke HTTP: a malformed status line or header, a body shorter than its
    Content-Length, a connection closed mid-response. Never silently turned into short data."""


class UnsafeHeaderException(TetherError, ValueError):
    """The request sets a header that the engine controls (`Transfer-Encoding`, `Upgrade`, ...)."""

    def __init__(self, header: str) -> None:
        self.header = header
        super().__init__(f"Header(s) [{header}] are controlled by the engine and cannot be set explicitly")


class UnsupportedCapabilityError(TetherError):
    """The request needs a capability the engine does not declare. Raised before any I/O."""

    def __init__(self, engine: str, capability: object, detail: str = "") -> None:
        self.engine = engine
        self.capability = capability
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"Engine {engine} doesn't support {capability}{suffix}")


class SendCountExceedException(TetherError):
    """A request was re-sent (redirects, retries, auth) more often than the client's send limit."""

    def __init__(self, max_send_count: int, url: object = None) -> None:
        self.max_send_count = max_send_count
        where = f" for {url}" if url is not None else ""
        super().__init__(f"Max send count {max_send_count} exceeded{where}; a redirect loop?")


class SSEClientException(TetherError):
    """A Server-Sent Events session failed; `response` keeps what the buffer policy buffered."""

    def __init__(self, response: HttpResponse | None, cause: BaseException | None, message: str | None = None) -> None:
        self.response = response
        self.cause = cause
        if message is None:
            message = str(cause) if cause is not None else "SSE session failed"
        super().__init__(message)
        if cause is not None:
            self.__cause__ = cause


# --- misuse ---------------------------------------------------------------------------------------


class InvalidHeaderError(TetherError, ValueError):
    """A request header no engine may send as given: a name that is not an RFC 9110 token, or a value
    with a control character (CR and LF would inject header lines) or a non-ASCII character. Raised
    before any I/O, the same on every engine."""

    def __init__(self, header: str, problem: str) -> None:
        self.header = header
        super().__init__(f"Request header {header!r} cannot be sent: {problem}")


class InvalidMethodError(TetherError, ValueError):
    """A request method that is not an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~, at least
    one): an empty method, or one with a space, CR or LF that would put a second request on the wire.
    Raised before any I/O, the same on every engine."""

    def __init__(self, method: object) -> None:
        self.method = method
        super().__init__(
            f"Request method {method!r} cannot be sent: a method is a token of letters, digits and "
            "!#$%&'*+-.^_`|~ (RFC 9110 9.1)"
        )


class InvalidUrlError(TetherError, ValueError):
    """A URL tether cannot send a request to (no host, unsupported scheme, unparsable)."""


class ClientClosedError(TetherError, RuntimeError):
    """The client (or its engine) was already closed."""


class EngineNotFoundError(TetherError, LookupError):
    """No engine was given and none is installed (see `tether.engine.discover_engines`)."""


class BodyNotReplayableError(TetherError, RuntimeError):
    """A one-shot request body (an async stream) would have to be sent a second time (a redirect,
    a retry, an auth challenge). Pass a callable that returns a fresh stream to make it replayable."""


class BodyLengthMismatchError(TetherError, ValueError):
    """A streamed request body produced more or fewer bytes than the `content_length` it declared.
    Raised as the mismatch shows (before the first extra byte is sent, or when the stream ends
    short), so the server never reads past the request; the connection is not reused."""


class BodyAlreadyConsumedError(TetherError, RuntimeError):
    """A streamed response body was read once already and was not kept in memory."""


class ResponseClosedError(TetherError, RuntimeError):
    """A streamed response body was read after the response was closed (after its
    `async with statement.execute()` block, or `await response.aclose()`) before the whole body had
    been read: the rest is gone, and an empty read would pass for the end of the body."""
