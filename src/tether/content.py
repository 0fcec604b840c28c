"""What a request carries: the `OutgoingContent` kinds.

Every kind but `StreamContent` holds its bytes, so it can be sent any number of times (redirects,
retries, auth challenges). A `StreamContent` made from an async iterable is one-shot; made from a
callable that returns a fresh iterable, it is replayable.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import IO, ClassVar, Union
from urllib.parse import quote_plus

from tether.exceptions import BodyNotReplayableError, ProtocolError

__all__ = [
    "ByteArrayContent",
    "FileField",
    "FormDataContent",
    "FormPart",
    "MultiPartFormDataContent",
    "NoContent",
    "OutgoingContent",
    "PendingMultiPartContent",
    "StreamContent",
    "TextContent",
    "WriterChannelContent",
]


class OutgoingContent:
    """Base of all request bodies. `content_length` is None when unknown (sent chunked)."""

    content_type: str | None = None
    #: The bytes are produced while they are sent (an upload from a stream, a duplex body), so the
    #: response head may come late: the engine's `response_head_timeout` does not apply.
    produced_while_sent: ClassVar[bool] = False

    @property
    def content_length(self) -> int | None:
        return None

    @property
    def replayable(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(content_type={self.content_type!r}, length={self.content_length})"


class NoContent(OutgoingContent):
    """No body at all (GET, HEAD, ...). Engines send no Content-Length unless the method needs one."""

    @property
    def content_length(self) -> int:
        return 0


NO_CONTENT = NoContent()


class ByteArrayContent(OutgoingContent):
    """A body held in memory."""

    def __init__(self, data: bytes, content_type: str | None = "application/octet-stream") -> None:
        self.data = bytes(data)
        self.content_type = content_type

    @property
    def content_length(self) -> int:
        return len(self.data)


class TextContent(ByteArrayContent):
    """Text, encoded with the charset named in the content type (UTF-8 by default)."""

    def __init__(self, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self.text = text
        charset = _charset_of(content_type) or "utf-8"
        super().__init__(text.encode(charset), content_type)


FormFields = Union[Mapping[str, str | int | float | Sequence[str | int | float]], Iterable[tuple[str, str]]]


def _field_pairs(fields: FormFields) -> list[tuple[str, str]]:
    if isinstance(fields, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in fields.items():
            if isinstance(value, (list, tuple)):
                pairs.extend((name, str(v)) for v in value)
            else:
                pairs.append((name, str(value)))
        return pairs
    return [(str(name), str(value)) for name, value in fields]


class FormDataContent(ByteArrayContent):
    """`application/x-www-form-urlencoded` fields."""

    def __init__(self, fields: FormFields) -> None:
        self.fields = _field_pairs(fields)
        body = "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in self.fields)
        super().__init__(body.encode("ascii"), "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class FormPart:
    """One part of a multipart body: a plain field (no filename) or a file."""

    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


FileValue = Union[bytes, str, IO[bytes]]
FileField = Union[
    FileValue,
    tuple[str | None, FileValue],
    tuple[str | None, FileValue, str | None],
    tuple[str | None, FileValue, str | None, Mapping[str, str]],
]


_FILES_FORMS = (
    "bytes, str, a binary file object (with .read()), or a tuple (filename, value), "
    "(filename, value, content_type) or (filename, value, content_type, headers)"
)


def _file_value_ok(value: object) -> bool:
    return isinstance(value, (bytes, str)) or callable(getattr(value, "read", None))


def check_files(
    files: Mapping[str, FileField] | Iterable[tuple[str, FileField]],
) -> list[tuple[str, FileField]]:
    """`files=` as (name, spec) pairs; TypeError naming `files=`, the field and the accepted forms
    when a value is none of them (`files={"f": 123}` would otherwise fail later on `.read()`)."""
    if isinstance(files, Mapping):
        items = list(files.items())
    elif isinstance(files, (str, bytes)) or not isinstance(files, Iterable):
        raise TypeError(
            f"files= must be a mapping of field name to file, or (name, file) pairs; got {type(files).__name__}"
        )
    else:
        items = list(files)
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise TypeError(
                    f"files= as a list must hold (name, file) pairs; got {type(item).__name__} {item!r:.80}"
                )
    for name, spec in items:
        if isinstance(spec, tuple):
            ok = (
                2 <= len(spec) <= 4
                and (spec[0] is None or isinstance(spec[0], str))
                and _file_value_ok(spec[1])
                and (len(spec) < 3 or spec[2] is None or isinstance(spec[2], str))
                and (len(spec) < 4 or isinstance(spec[3], Mapping))
            )
        else:
            ok = _file_value_ok(spec)
        if not ok:
            raise TypeError(f"files= field {name!r} must be {_FILES_FORMS}; got {type(spec).__name__} {spec!r:.80}")
    return items


def _file_bytes(value: FileValue) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return value.read()


def _quote_param(value: str) -> str:
    # RFC 7578 4.2: quote as in HTML forms; escape the quote and line breaks.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultiPartFormDataContent(ByteArrayContent):
    """`multipart/form-data` built from fields and files (httpx's `data=` + `files=` conventions)."""

    def __init__(self, parts: Sequence[FormPart], boundary: str | None = None) -> None:
        self.parts = list(parts)
        self.boundary = boundary or secrets.token_hex(16)
        chunks: list[bytes] = []
        for part in self.parts:
            disposition = f'form-data; name="{_quote_param(part.name)}"'
            if part.filename is not None:
                disposition += f'; filename="{_quote_param(part.filename)}"'
            lines = [f"--{self.boundary}", f"Content-Disposition: {disposition}"]
            content_type = part.content_type
            if content_type is None and part.filename is not None:
                content_type = "application/octet-stream"
            if content_type:
                lines.append(f"Content-Type: {content_type}")
            lines.extend(f"{name}: {value}" for name, value in part.headers.items())
            chunks.append(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
            chunks.append(part.value)
            chunks.append(b"\r\n")
        chunks.append(f"--{self.boundary}--\r\n".encode("ascii"))
        super().__init__(b"".join(chunks), f"multipart/form-data; boundary={self.boundary}")

    @classmethod
    def from_fields(
        cls,
        data: FormFields | None,
        files: Mapping[str, FileField] | Iterable[tuple[str, FileField]],
    ) -> MultiPartFormDataContent:
        parts = [FormPart(name, value.encode("utf-8")) for name, value in _field_pairs(data or {})]
        for name, spec in check_files(files):
            filename: str | None
            content_type: str | None = None
            headers: Mapping[str, str] = {}
            if isinstance(spec, tuple):
                filename, value = spec[0], spec[1]
                if len(spec) > 2:
                    content_type = spec[2]
                if len(spec) > 3:
                    headers = spec[3]
            else:
                value = spec
                raw_name = getattr(spec, "name", None)
                filename = os.path.basename(raw_name) if isinstance(raw_name, str) else "upload"
            parts.append(FormPart(name, _file_bytes(value), filename, content_type, headers))
        return cls(parts)


class PendingMultiPartContent(OutgoingContent):
    """`data=` + `files=` with file objects not read yet: what `files=` gives while the request is
    being built, so that reading a file never blocks the event loop.

    The client reads the files (and builds the body) on the engine's executor when the call starts,
    before any plugin sees the body, and puts the `MultiPartFormDataContent` in its place: `load` runs
    once, and every later send -- a redirect, a retry, a statement executed again -- reuses those bytes,
    as a body read at build time would. A prepared statement reads its files when first executed, so
    they must stay open until then (httpx reads them while sending, for the same reason).
    """

    content_type = "multipart/form-data"

    def __init__(
        self,
        data: FormFields | None,
        files: Mapping[str, FileField] | Iterable[tuple[str, FileField]],
    ) -> None:
        self._data = data
        self._files = list(files.items() if isinstance(files, Mapping) else files)
        self._content: MultiPartFormDataContent | None = None
        self._loading: asyncio.Future[MultiPartFormDataContent] | None = None

    @staticmethod
    def needed(files: Mapping[str, FileField] | Iterable[tuple[str, FileField]]) -> bool:
        """Whether any of `files` is a file object (bytes and str need no reading). The client asks
        while building the request, so this is also where a malformed `files=` raises TypeError."""
        items = check_files(files)
        return any(not isinstance(spec[1] if isinstance(spec, tuple) else spec, (bytes, str)) for _, spec in items)

    async def load(self, executor: Executor | None) -> MultiPartFormDataContent:
        """The body, its files read on `executor` (None: the loop's default one) the first time."""
        if self._content is not None:
            return self._content
        if self._loading is None:
            build = MultiPartFormDataContent.from_fields
            self._loading = asyncio.get_running_loop().run_in_executor(executor, build, self._data, self._files)
        # Not `await self._loading`: a caller cancelled meanwhile must not cancel the read the other
        # senders of this body wait for (and the thread cannot be stopped anyway).
        await asyncio.wait((self._loading,))
        self._content = self._loading.result()
        self._data, self._files = None, []  # read: nothing more to hold
        return self._content


StreamSource = Union[AsyncIterable[bytes], Callable[[], AsyncIterable[bytes]]]


class StreamContent(OutgoingContent):
    """A body produced by an async iterable of bytes, sent as it is produced.

    Give a callable that returns a fresh iterable to make it replayable (redirects, retries, auth).
    """

    produced_while_sent = True

    def __init__(
        self,
        source: StreamSource,
        content_length: int | None = None,
        content_type: str | None = "application/octet-stream",
    ) -> None:
        if not callable(source) and not isinstance(source, AsyncIterable):
            raise TypeError(
                f"StreamContent takes an async iterable of bytes (or a function returning one), got "
                f"{type(source).__name__}: write an async generator, or pass a blocking iterable to "
                "tether.sync.HttpClient"
            )
        self._source = source
        self._length = content_length
        self.content_type = content_type
        self._opened = False
        #: What the source (or the length check) raised while an engine sent this body, if anything
        #: (set by `tether.engine.support.chunks_of`; the client raises it in place of the engine's
        #: own wrapping of it).
        self.failure: Exception | None = None

    @property
    def content_length(self) -> int | None:
        return self._length

    @property
    def replayable(self) -> bool:
        return callable(self._source) and not hasattr(self._source, "__aiter__")

    @property
    def consumed(self) -> bool:
        """True once a one-shot stream has been handed to an engine."""
        return self._opened and not self.replayable

    def open(self) -> AsyncIterator[bytes]:
        """A fresh iterator over the body; a one-shot stream can be opened only once."""
        if self.replayable:
            factory: Callable[[], AsyncIterable[bytes]] = self._source  # type: ignore[assignment]
            return aiter(factory())
        if self._opened:
            raise BodyNotReplayableError(
                "The request body is a one-shot async stream that was already sent; "
                "pass a callable returning a fresh stream to allow re-sending it"
            )
        self._opened = True
        return aiter(self._source)  # type: ignore[arg-type]


class WriterChannelContent(OutgoingContent):
    """A request body written by the caller while the call runs: the body of `client.duplex(...)`.

    `write` waits while `max_chunks` chunks are queued (backpressure) and fails with `ProtocolError`
    once the engine stopped taking the body (the call ended). One-shot: never replayed.
    """

    produced_while_sent = True

    def __init__(self, content_type: str | None = "application/octet-stream", max_chunks: int = 16) -> None:
        self.content_type = content_type
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(max_chunks)
        self._closed = False
        self._consumer_gone = asyncio.Event()
        self._opened = False

    @property
    def replayable(self) -> bool:
        return False

    @property
    def consumed(self) -> bool:
        return self._opened

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise RuntimeError("the request body was closed with close_send(); nothing more can be sent")
        await self._put(bytes(data))

    async def close(self) -> None:
        """End the request body (the engine sends its end: the last chunk, or END_STREAM)."""
        if not self._closed:
            self._closed = True
            await self._put(None)

    async def _put(self, item: bytes | None) -> None:
        if self._consumer_gone.is_set():
            if item is None:
                return
            raise ProtocolError("the request body is no longer being sent: the call has ended")
        put = asyncio.ensure_future(self._queue.put(item))
        gone = asyncio.ensure_future(self._consumer_gone.wait())
        try:
            await asyncio.wait({put, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not put.done():
            put.cancel()
            if item is not None:
                raise ProtocolError("the request body is no longer being sent: the call has ended")

    async def chunks(self) -> AsyncIterator[bytes]:
        """What the engine sends, as the caller writes it. Can be consumed once."""
        if self._opened:
            raise BodyNotReplayableError("A duplex request body can be sent only once")
        self._opened = True
        try:
            while (item := await self._queue.get()) is not None:
                if item:
                    yield item
        finally:
            self._consumer_gone.set()


def _charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None
