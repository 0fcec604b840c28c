"""Responses: the engine's `HttpResponseData` and the `HttpResponse` applications read."""

from __future__ import annotations

import base64
import html
import json as jsonlib
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tether.channel import ByteReadChannel
from tether.content import _charset_of
from tether.exceptions import BodyAlreadyConsumedError
from tether.http import Headers, HttpProtocolVersion, HttpStatusCode
from tether.request import _SET_ATTRIBUTE, HttpRequestData

if TYPE_CHECKING:
    from typing import Protocol

    class PrettyPrinter(Protocol):  # the part of IPython.lib.pretty.PrettyPrinter used here
        def text(self, obj: str) -> None: ...
        def break_(self) -> None: ...


__all__ = ["HttpResponse", "HttpResponseData"]

T = TypeVar("T")


@dataclass(frozen=True, init=False)
class HttpResponseData:
    """What an engine returns: status line, headers and a body stream that has not been read yet.

    `request_time` and `response_time` are `time.monotonic()` stamps: when the request was handed to
    the engine and when the response head arrived.
    """

    status: HttpStatusCode
    headers: Headers
    version: HttpProtocolVersion
    body: ByteReadChannel
    request_time: float = 0.0
    response_time: float = 0.0

    def __init__(
        self,
        status: HttpStatusCode,
        headers: Headers,
        version: HttpProtocolVersion,
        body: ByteReadChannel,
        request_time: float = 0.0,
        response_time: float = 0.0,
    ) -> None:
        # One per response: all fields at once instead of a frozen dataclass's setattr per field.
        _SET_ATTRIBUTE(
            self,
            "__dict__",
            {
                "status": status,
                "headers": headers,
                "version": version,
                "body": body,
                "request_time": request_time,
                "response_time": response_time,
            },
        )


BodyTransformer = Callable[["HttpResponse", ByteReadChannel, type], Awaitable[object]]

_MISSING = object()


class HttpResponse:
    """A response. Its body can be read as bytes, text, JSON or a channel.

    A response returned by `client.get(...)` (or `await statement.execute()`) has its body in memory and
    can be read any number of times. Inside `async with statement.execute() as response:` the body
    streams: read it once, as a channel or in full.
    """

    def __init__(
        self,
        data: HttpResponseData,
        request: HttpRequestData,
        body_transformer: BodyTransformer | None = None,
        executor: Executor | None = None,
    ) -> None:
        self._data = data
        self.request = request
        self._channel_taken = False
        self._content: bytes | None = None
        self._body_transformer = body_transformer
        #: Where blocking work on this body runs (`read_to` into a file): the engine's executor.
        self.executor = executor

    # -- status line and headers ------------------------------------------------------------------
    @property
    def status(self) -> HttpStatusCode:
        return self._data.status

    @property
    def headers(self) -> Headers:
        return self._data.headers

    @property
    def version(self) -> HttpProtocolVersion:
        return self._data.version

    @property
    def request_time(self) -> float:
        return self._data.request_time

    @property
    def response_time(self) -> float:
        return self._data.response_time

    @property
    def url(self) -> str:
        return str(self.request.url)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def is_body_in_memory(self) -> bool:
        return self._content is not None

    # -- body ---------------------------------------------------------------------------------------
    def body_as_channel(self) -> ByteReadChannel:
        """The body as a stream. A body kept in memory gives a fresh channel every time."""
        if self._content is not None:
            channel = ByteReadChannel.from_bytes(self._content)
        elif self._channel_taken:
            raise BodyAlreadyConsumedError(
                f"The body of {self.request.method} {self.request.url} was already read as a stream"
            )
        else:
            self._channel_taken = True
            channel = self._data.body
        channel.executor = self.executor
        return channel

    async def body_as_bytes(self) -> bytes:
        """The whole body; kept so it can be read again."""
        if self._content is None:
            self._content = await self.body_as_channel().read_all()
        return self._content

    async def body_as_text(self, fallback_charset: str = "utf-8") -> str:
        """The body decoded with the charset of its Content-Type (else `fallback_charset`).

        Undecodable bytes become U+FFFD rather than an exception.
        """
        data = await self.body_as_bytes()
        charset = _charset_of(self.content_type) or fallback_charset
        try:
            return data.decode(charset, errors="replace")
        except LookupError:
            return data.decode(fallback_charset, errors="replace")

    async def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(await self.body_as_bytes())

    async def body(self, type_: type[T]) -> T:
        """The body converted to `type_`: plugins' `transform_response_body` hooks first, then the
        built-in conversions for bytes, str, ByteReadChannel, dict and list."""
        if self._body_transformer is not None and (self._content is not None or not self._channel_taken):
            in_memory = self._content is not None
            channel = ByteReadChannel.from_bytes(self._content) if in_memory else self._data.body  # type: ignore[arg-type]
            result = await self._body_transformer(self, channel, type_)
            if result is not _MISSING:
                self._channel_taken = self._channel_taken or not in_memory
                return cast(T, result)
        if type_ is bytes:
            return cast(T, await self.body_as_bytes())
        if type_ is str:
            return cast(T, await self.body_as_text())
        if type_ is ByteReadChannel:
            return cast(T, self.body_as_channel())
        if type_ in (dict, list, object):
            value = await self.json()
            if type_ is not object and not isinstance(value, type_):
                raise TypeError(f"Expected a JSON {type_.__name__}, got {type(value).__name__}")
            return cast(T, value)
        raise TypeError(
            f"No transformation found from the response body to {type_.__name__}; "
            "install ContentNegotiation or a plugin with transform_response_body"
        )

    def raise_for_status(self) -> HttpResponse:
        """Raise what `expect_success` would for this response (3xx, 4xx, 5xx), else return it.

        The per-response spelling of `config.expect_success = True` / `expect_success=True`:

        >>> users = await (await client.get("users")).raise_for_status().json()

        The message quotes the body when it is in memory; a streaming body is not read.
        """
        if int(self.status) < 300:
            return self
        from tether.plugins.validator import excerpt, status_exception

        text = ""
        if self._content is not None:
            text = excerpt(self._content.decode(_charset_of(self.content_type) or "utf-8", errors="replace"))
        error = status_exception(self, text)
        if error is None:
            return self
        raise error

    def set_deadline(self, loop_time: float, error: Callable[[], BaseException]) -> None:
        """Bound reading the (not yet read) body; see `ByteReadChannel.set_deadline`."""
        if self._content is None:
            self._data.body.set_deadline(loop_time, error)

    def wrap_body(
        self, wrap: Callable[[ByteReadChannel], ByteReadChannel], *, drop_headers: tuple[str, ...] = ()
    ) -> None:
        """For plugins (`on_response`): replace the body stream with `wrap(body)` before anyone reads
        it (decompression, progress, logging), optionally dropping headers that no longer hold
        (`Content-Encoding`, `Content-Length`)."""
        if self._content is not None or self._channel_taken:
            raise RuntimeError("wrap_body must run before the body is read")
        headers = self._data.headers
        if drop_headers:
            kept = headers.to_multidict()
            for name in drop_headers:
                kept.popall(name, None)
            headers = Headers(kept)
        self._data = replace(self._data, headers=headers, body=wrap(self._data.body))

    def _with_content(self, content: bytes) -> HttpResponse:
        """The same response with `content` as its (in-memory) body: what a failed SSE session kept."""
        clone = HttpResponse(self._data, self.request, self._body_transformer, self.executor)
        clone._content = content
        return clone

    async def aclose(self) -> None:
        """Release the connection without reading the rest of the body."""
        await self._data.body.aclose()

    async def _read_fully(self) -> None:
        if self._content is None and not self._channel_taken:
            self._channel_taken = True
            body = self._data.body
            content = body.take_memory()  # a body the engine already read: no coroutine to await
            self._content = content if content is not None else await body.read_all()

    # -- display ------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<HttpResponse [{self.status}] {self.request.method} {self.request.url}>"

    def _preview(self, limit: int = 2048) -> str | None:
        """The body as display text: JSON pretty-printed, text cut at `limit`, a binary body described
        by type and size. None while the body is not read."""
        content = self._content
        if content is None:
            return None
        kind = _display_kind(self.content_type, content)
        if kind == "json":
            try:
                text = jsonlib.dumps(jsonlib.loads(content), indent=2, ensure_ascii=False)
            except ValueError:
                kind = "text"
        if kind == "text":
            text = content[:limit].decode(_charset_of(self.content_type) or "utf-8", errors="replace")
            return text + ("…" if len(content) > limit else "")
        if kind != "json":
            return f"<binary body: {self.content_type or 'no Content-Type'}, {len(content):,} bytes>"
        return text[:limit] + ("…" if len(text) > limit else "")

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(v)}</code></td></tr>"
            for k, v in self.headers.items()
        )
        content = self._content
        if content is None:
            body = "<p><i>body not read (streaming)</i></p>"
        elif content and _display_kind(self.content_type, content) == "image" and len(content) <= _INLINE_IMAGE_LIMIT:
            media_type = (self.content_type or "").split(";")[0].strip()
            data = base64.b64encode(content).decode("ascii")
            body = (
                f"<p><small>{html.escape(media_type)}, {len(content):,} bytes</small></p>"
                f"<img src='data:{html.escape(media_type)};base64,{data}' style='max-width:100%'/>"
            )
        else:
            body = f"<pre>{html.escape(self._preview() or '')}</pre>"
        colour = "#2e7d32" if self.status.is_success() else "#c62828"
        return (
            f"<div><b style='color:{colour}'>{html.escape(str(self.status))}</b> "
            f"{html.escape(self.request.method)} <code>{html.escape(str(self.request.url))}</code> "
            f"<small>{html.escape(str(self.version))}</small>"
            f"<table>{rows}</table>{body}</div>"
        )

    def _repr_pretty_(self, printer: PrettyPrinter, cycle: bool) -> None:
        if cycle:
            printer.text(repr(self))
            return
        printer.text(f"{self.version} {self.status}  ({self.request.method} {self.request.url})")
        for name, value in self.headers.items():
            printer.break_()
            printer.text(f"{name}: {value}")
        preview = self._preview(512)
        if preview is not None:
            printer.break_()
            printer.break_()
            printer.text(preview)


MISSING_TRANSFORM = _MISSING

#: Images up to this size are shown inline in notebooks; larger ones by type and size only.
_INLINE_IMAGE_LIMIT = 2 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/xml", "application/javascript", "application/x-www-form-urlencoded")


def _display_kind(content_type: str | None, content: bytes) -> str:
    """How a notebook shows a body: "json", "text", "image" or "binary"."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return "json"
    if media_type.startswith("image/") and media_type != "image/svg+xml":
        return "image"
    if media_type.startswith(_TEXT_TYPES) or media_type.endswith("+xml") or _charset_of(content_type):
        return "text"
    if not media_type:  # no Content-Type: text if it looks like text
        try:
            sample = content[:1024].decode("utf-8")
        except UnicodeDecodeError as exc:
            sample = "\x00" if exc.start < 1020 else ""
        return "binary" if "\x00" in sample else "text"
    return "binary"
