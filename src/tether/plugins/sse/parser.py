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

import codecs
from collections.abc import Callable
from typing import NamedTuple

from tether.exceptions import ProtocolError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEEventTooLargeError", "SSEParser", "ServerSentEvent"]

#: 8 MiB: far above any sane event, far below what would hurt the process.
DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024


class ServerSentEvent(NamedTuple):
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
        "_buffer",
        "_comments",
        "_data",
        "_data_size",
        "_decoder",
        "_event_type",
        "_id_buffer",
        "_last_id",
        "_max",
        "_more",
        "_on_line",
        "_open_size",
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
        # utf-8-sig drops one BOM at the very start (even split across chunks) and no other;
        # "replace" turns invalid bytes into U+FFFD as the spec says. Multi-byte characters may
        # arrive split across chunks: the incremental decoder keeps the partial bytes.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")("replace")
        # The open (unterminated) line, as the pieces it arrived in: joined once, when its end comes,
        # so a long line costs time linear in its length (not a re-join per chunk).
        self._buffer: list[str] = []
        self._open_size = 0
        self._pending_cr = False
        # The open event's data. Most events have one data line: it waits in `_data` as it is (no list,
        # no join); a second line moves them all to the list `_more`. `_data` is None: no data line yet.
        self._data: str | None = None
        self._more: list[str] | None = None
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
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text[0] == "\n":
                text = text[1:]  # the LF of a CRLF that was split across chunks
                if not text:
                    return []
        # Only the new text is scanned and rewritten: the open line holds no CR (a CR ends a line).
        if "\r" in text:
            if text[-1] == "\r":
                self._pending_cr = True
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:  # the open line grows: keep the piece, join nothing yet
            self._open_size += len(text)
            if self._open_size > self._max:
                raise SSEEventTooLargeError(self._max, self._open_size)
            self._buffer.append(text)
            return []
        if self._buffer:
            self._buffer.append(text)
            text = "".join(self._buffer)
            self._buffer = []
        lines = text.split("\n")
        rest = lines.pop()
        if len(rest) > self._max:
            raise SSEEventTooLargeError(self._max, len(rest))
        if rest:
            self._buffer.append(rest)
        self._open_size = len(rest)
        # The hot loop keeps the parser's state in locals (CPython: much cheaper than attributes)
        # and writes it back once at the end.
        events: list[ServerSentEvent] = []
        on_line = self._on_line
        data = self._data
        more = self._more
        comments = self._comments
        size = self._data_size
        limit = self._max
        event_type = self._event_type
        id_buffer = self._id_buffer
        last_id = self._last_id
        retry = self._retry
        if on_line is not None:
            for line in lines:
                on_line(line)
        # Data can only pass the limit in this chunk if the open event plus all of the chunk could:
        # otherwise the per-line accounting is skipped (and redone once for the event left open).
        counting = size + len(text) > limit
        # The open event's data lines before this index were counted in `size` already.
        first_new = 0 if data is None else 1 if more is None else len(more)
        no_nul = "\x00" not in text  # one scan of the chunk instead of one per `id` line
        new_event = tuple.__new__  # skips the NamedTuple's Python-level __new__
        event_class = ServerSentEvent  # a local is cheaper to read than the global, once per event
        # True while the open event has at most one data line and no comment or retry: the common event,
        # dispatched in the fewest steps.
        plain = more is None and retry is None and not comments
        for line in lines:
            if not line:
                last_id = id_buffer
                if plain:
                    if data is not None:
                        events.append(new_event(event_class, (data, event_type or None, last_id or None, None, None)))
                        data = None
                        size = 0
                else:
                    events.append(
                        new_event(
                            event_class,
                            (
                                data if more is None else "\n".join(more),
                                event_type or None,
                                last_id or None,
                                retry,
                                "\n".join(comments) if comments else None,
                            ),
                        )
                    )
                    data = more = retry = None
                    comments = []
                    size = 0
                    plain = True
                event_type = ""
                continue
            # "name: value" with one space is by far the common form: one C call, and the usual names
            # are matched first. A line without a colon is all name (value ""), as the partition gives.
            name, _, value = line.partition(": ")
            if name == "data":
                if data is None:
                    data = value
                elif more is None:
                    more = [data, value]
                    plain = False
                else:
                    more.append(value)
                if counting:
                    size += len(value) + 1
                    if size > limit:
                        raise SSEEventTooLargeError(limit, size)
                continue
            if name == "id":
                if no_nul or "\x00" not in value:
                    id_buffer = value
                continue
            if name == "event":
                event_type = value
                continue
            if ":" in name:
                # "data:x", "data:x: y", ":comment": the name ends at the first colon. No space follows
                # that colon (that would have been the ": " found), so the value has none to strip. The
                # usual names are then handled as above (repeated here: one more check per line would
                # cost the common form more than the copy costs the reader).
                name, _, value = line.partition(":")
                if name == "data":
                    if data is None:
                        data = value
                    elif more is None:
                        more = [data, value]
                        plain = False
                    else:
                        more.append(value)
                    if counting:
                        size += len(value) + 1
                        if size > limit:
                            raise SSEEventTooLargeError(limit, size)
                    continue
                if name == "id":
                    if no_nul or "\x00" not in value:
                        id_buffer = value
                    continue
                if name == "event":
                    event_type = value
                    continue
            if not name:
                comments.append(value)  # a line starting with ":" is a comment
                plain = False
            elif name == "retry" and value.isascii() and value.isdigit():
                self.reconnection_time = retry = int(value)
                plain = False
        self._data = data
        self._more = more
        self._comments = comments
        if events:
            first_new = 0  # the event open at the start was dispatched: every line of the open one is new
        if not counting:
            # Only this chunk's lines are added up: summing every line of a long-open event on every
            # chunk would make an event of many lines quadratic.
            open_lines = [] if data is None else [data] if more is None else more
            new_lines = open_lines[first_new:] if first_new else open_lines
            size += sum(map(len, new_lines)) + len(new_lines)
        self._data_size = size
        self._event_type = event_type
        self._id_buffer = id_buffer
        self._last_id = last_id
        self._retry = retry
        return events

    def close(self) -> None:
        """The stream ended: whatever event was still open is discarded."""
        self._buffer = []
        self._open_size = 0
        self._pending_cr = False
        self._data = self._more = self._retry = None
        self._comments = []
        self._data_size = 0
        self._event_type = ""
        self._id_buffer = self._last_id
        self._decoder.reset()
