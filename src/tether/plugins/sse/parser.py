"""The Server-Sent Events parser: bytes in, events out, no I/O (WHATWG HTML, "Parsing an event stream").

- Lines end with CRLF, LF or CR, also when the CR and the LF arrive in different chunks.
- One UTF-8 BOM at the very start of the stream is dropped (also when split across chunks).
- `field:value` with one leading space stripped from the value; a line without a colon is a field with
  an empty value; a line starting with a colon is a comment.
- `data` lines are joined with "\\n"; a block without a `data` line dispatches no event (but an `id` in
  it still updates the last event id); `id` values containing NUL are ignored; the last id carries over
  to later events; `retry` counts only when it is all ASCII digits.
- An event still open when the stream ends is discarded.
- `max_event_size` bounds the data of one event and any single line: past it, `SSEEventTooLargeError`
  names the limit (never a silent truncation, never unbounded memory).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tether.exceptions import ProtocolError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEEventTooLargeError", "SSEParser", "ServerSentEvent"]

#: 8 MiB: far above any sane event, far below what would hurt the process.
DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    """One event. `data` is None only for comment or retry blocks (shown when the session asks).

    `event` is the `event:` field (None means the default type, "message"); `id` is the last event id in
    force when the event was dispatched (None when empty); `retry` the reconnection time in milliseconds
    set inside this event's block; `comments` the block's comment lines, joined with "\\n".
    """

    data: str | None = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: str | None = None

    @property
    def type(self) -> str:
        return self.event or "message"


class SSEEventTooLargeError(ProtocolError):
    """An event (or a single line) grew past the parser's `max_event_size`."""

    def __init__(self, limit: int, size: int) -> None:
        self.limit = limit
        self.size = size
        super().__init__(f"Server-Sent Event larger than max_event_size={limit} bytes (at least {size} bytes)")


class SSEParser:
    """Incremental: `feed(chunk)` returns the events completed by that chunk."""

    __slots__ = (
        "_bom_checked",
        "_buffer",
        "_comments",
        "_data",
        "_data_size",
        "_event_type",
        "_id_buffer",
        "_last_id",
        "_max",
        "_on_line",
        "_pending_cr",
        "_retry",
        "reconnection_time",
    )

    def __init__(
        self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE, on_line: Callable[[str], None] | None = None
    ) -> None:
        if max_event_size <= 0:
            raise ValueError(f"max_event_size must be positive, got {max_event_size}")
        self._max = max_event_size
        self._on_line = on_line
        self._buffer = b""
        self._pending_cr = False
        self._bom_checked = False
        self._data: list[str] = []
        self._data_size = 0
        self._event_type = ""
        self._id_buffer = ""
        self._last_id = ""
        self._retry: int | None = None
        self._comments: list[str] = []
        #: The reconnection time in milliseconds set by the last valid `retry:` field (None: never set).
        self.reconnection_time: int | None = None

    @property
    def last_event_id(self) -> str:
        return self._last_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        data = self._buffer + chunk if self._buffer else chunk
        if self._pending_cr:
            self._pending_cr = False
            if data[:1] == b"\n":
                data = data[1:]  # the LF of a CRLF that was split across chunks
        if not self._bom_checked:
            if len(data) < 3 and _BOM.startswith(data):
                self._buffer = data
                return []
            self._bom_checked = True
            if data.startswith(_BOM):
                data = data[3:]
        if b"\r" in data:
            lines = _LINE_BREAK.split(data)
            if data.endswith(b"\r"):
                self._pending_cr = True
        else:
            lines = data.split(b"\n")
        rest = lines.pop()
        if len(rest) > self._max:
            raise SSEEventTooLargeError(self._max, len(rest))
        self._buffer = rest
        events: list[ServerSentEvent] = []
        on_line = self._on_line
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if on_line is not None:
                on_line(line)
            if not line:
                event = self._dispatch()
                if event is not None:
                    events.append(event)
            elif line[0] == ":":
                self._comments.append(line[2:] if line[1:2] == " " else line[1:])
            else:
                self._field(line)
        return events

    def _field(self, line: str) -> None:
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size > self._max:
                raise SSEEventTooLargeError(self._max, self._data_size)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\x00" not in value:
                self._id_buffer = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.reconnection_time = self._retry = int(value)

    def _dispatch(self) -> ServerSentEvent | None:
        self._last_id = self._id_buffer
        data, comments, retry = self._data, self._comments, self._retry
        event_type = self._event_type
        self._data, self._comments, self._retry = [], [], None
        self._data_size = 0
        self._event_type = ""
        if not data:
            if comments or retry is not None:
                return ServerSentEvent(
                    None, event_type or None, self._last_id or None, retry, "\n".join(comments) or None
                )
            return None
        return ServerSentEvent(
            "\n".join(data), event_type or None, self._last_id or None, retry, "\n".join(comments) if comments else None
        )

    def close(self) -> None:
        """The stream ended: whatever event was still open is discarded."""
        self._buffer = b""
        self._data, self._comments, self._retry = [], [], None
        self._data_size = 0
        self._event_type = ""
        self._id_buffer = self._last_id
