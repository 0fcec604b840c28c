"""CurlMulti driven by the asyncio event loop: libcurl tells us which sockets to watch and when its
timer fires; the loop tells libcurl when a socket is ready. No thread per request, no polling.

One `Transfer` per request: libcurl appends the response head's lines to a list (a C call per line,
no Python frame); the head is taken from it when the first body bytes arrive, when the transfer ends,
or -- for a head that arrives alone, as a stream's does -- by a check once per loop iteration. It
buffers the body from the write callback (pausing the transfer when the reader falls behind), feeds
the upload from a producer task through the read callback (pausing when the producer falls behind),
and watches for socket inactivity.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import os
import re
import select
from collections.abc import AsyncIterator, Callable
from typing import Any

import pycurl

from tether.engine.base import DeadlineTimer

__all__ = ["CurlError", "CurlMultiLoop", "HeadTimeout", "Transfer"]

#: Body bytes buffered per transfer before the transfer is paused (bounded memory per response).
BODY_HIGH_WATER = 1024 * 1024
#: Upload bytes queued ahead of libcurl per transfer.
UPLOAD_HIGH_WATER = 1024 * 1024
#: Seconds a socket libcurl stopped watching stays watched at least (through the engine's own duplicate;
#: at most twice that), in case the next transfer on the same kept-alive connection wants it again (it
#: usually does, at once). One libcurl closed is let go at the next sweep.
IDLE_SWEEP = 0.05
#: Seconds an idle handle keeps a send buffer libcurl enlarged for a large in-memory body (up to 2 MiB)
#: before the handle is closed to free it (its connection stays in the multi's pool).
LARGE_BUFFER_IDLE = 1.0

_CSELECT_IN = pycurl.CSELECT_IN
_EPOLL = hasattr(select, "epoll")
if _EPOLL:
    _EPOLL_MASKS = {
        pycurl.POLL_IN: select.EPOLLIN,
        pycurl.POLL_OUT: select.EPOLLOUT,
        pycurl.POLL_INOUT: select.EPOLLIN | select.EPOLLOUT,
    }
    # An error or hang-up wakes both directions (as asyncio's selector does): libcurl finds out which.
    _EPOLL_READABLE = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
    _EPOLL_WRITABLE = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP
_CRLF = b"\r\n"
_LF = b"\n"
_STATUS_LINE = re.compile(r"HTTP/(1\.[01]|2|3)(?:\.0)? ([0-9]{3})(?: ([^\r\n]*))?\r?\n\Z")


class CurlError(Exception):
    """A transfer failed inside libcurl (`code`, libcurl's message), or the head was malformed."""

    def __init__(self, code: int, message: str, *, connected: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.connected = connected


class HeadError(Exception):
    """The response head broke HTTP syntax (seen in the raw header lines)."""


class Transfer:
    """One request/response on one easy handle."""

    __slots__ = (
        "_activity",
        "_body_paused",
        "_buffered",
        "_checked_at",
        "_chunks",
        "_fields",
        "_head_done",
        "_head_from",
        "_producer",
        "_quiet_since",
        "_raw_head",
        "_replay",
        "_seen_activity",
        "_sends",
        "_socket_timeout",
        "_upload",
        "_upload_finished",
        "_upload_length",
        "_upload_paused",
        "_upload_queued",
        "_upload_sent",
        "_upload_space",
        "_waiter",
        "_watchdog",
        "abort_reason",
        "error",
        "finished",
        "handle",
        "head",
        "head_deadline",
        "head_limit",
        "owner",
    )

    def __init__(self, owner: CurlMultiLoop, handle: pycurl.Curl) -> None:
        self.owner = owner
        self.handle = handle
        loop = owner.loop
        #: The final head: what the loop's `check_head` made of it (by default the status line's
        #: version, status and reason, and the field lines).
        self.head: asyncio.Future[Any] = loop.create_future()
        # Completion as plain flags: most transfers finish before anyone waits for the body.
        self.finished = False
        self.error: BaseException | None = None
        #: Every head line libcurl delivers, in order (interim heads, the head, trailers); never
        #: replaced, as libcurl holds its `append`.
        self._raw_head: list[bytes] = []
        self._head_from = 0  # where the head not yet taken starts (after interim 1xx heads)
        self._head_done = False
        #: Body pieces libcurl delivered that the reader has not taken yet (it takes them all at once).
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._body_paused = False
        self._waiter: asyncio.Future[None] | None = None  # made only when the reader has to wait
        self._upload: collections.deque[memoryview] = collections.deque()
        self._upload_queued = 0
        self._upload_length: int | None = None  # a streamed body's declared length
        self._upload_sent = 0  # bytes handed to libcurl
        self._upload_finished = False
        self._upload_paused = False
        self._upload_space: asyncio.Event | None = None  # made only for streamed uploads
        self._producer: asyncio.Task[None] | None = None
        self._replay: bytes | None = None  # the in-memory body libcurl may send again (`upload_bytes`)
        self._fields = 0  # the handle holds the body as POSTFIELDS (`hold_fields`); 2: in a large send buffer
        self._sends = 0  # requests libcurl started to send (`send_once`)
        self.abort_reason: BaseException | None = None
        self._activity = 0  # bumped when data moves without a socket event (a resume): the idle watchdog compares it
        self._seen_activity = -1
        self._quiet_since = 0.0
        self._checked_at = 0.0
        self._socket_timeout: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        #: The loop time by which the head must be complete (0.0: no bound), and the bound in seconds.
        self.head_deadline = 0.0
        self.head_limit = 0.0

    # -- setup ----------------------------------------------------------------------------------
    def install_callbacks(self) -> None:
        handle = self.handle
        handle.setopt(pycurl.HEADERFUNCTION, self._raw_head.append)
        handle.setopt(pycurl.WRITEFUNCTION, self._on_write)

    def upload_bytes(self, data: bytes, *, replayable: bool) -> None:
        """The whole body is in memory: libcurl reads it straight from a memoryview. `replayable`:
        libcurl may rewind it to send the request again (it does so on a kept-alive connection that
        died before the response; tether allows that for idempotent requests only)."""
        if data:
            self._upload.append(memoryview(data))
            self._upload_queued = len(data)
        self._upload_finished = True
        self._replay = data if replayable else None
        handle = self.handle
        handle.setopt(pycurl.READFUNCTION, self._on_read)
        handle.setopt(pycurl.SEEKFUNCTION, self._on_seek)

    def hold_fields(self, *, large_buffer: bool = False) -> None:
        """The handle carries the whole body (POSTFIELDS, a reference pycurl keeps): dropped when the
        transfer ends, so an idle handle holds no request body. `large_buffer`: the handle's send
        buffer was enlarged to hold the body (libcurl keeps it until the handle is closed): the handle
        is closed once it has idled `LARGE_BUFFER_IDLE`."""
        self._fields = 2 if large_buffer else 1

    def upload_stream(self, source: AsyncIterator[bytes], length: int | None = None) -> None:
        """The body is produced while it is sent; the read callback pauses when it runs dry. `length`:
        the declared length, if any."""
        self._upload_length = length
        self.handle.setopt(pycurl.READFUNCTION, self._on_read)
        self.handle.setopt(pycurl.SEEKFUNCTION, self._on_seek)  # a stream cannot be rewound
        self._producer = self.owner.loop.create_task(self._produce(source))

    def watch_socket(self, timeout: float | None) -> None:
        self._socket_timeout = timeout

    def bound_head(self, limit: float) -> None:
        """The complete response head must arrive within `limit` seconds of the start (the engine's
        `response_head_timeout`): else the transfer fails with `HeadTimeout`."""
        self.head_limit = limit
        self.head_deadline = self.owner.loop.time() + limit

    @property
    def connected(self) -> bool:
        """Whether the connection is set up (TLS and any proxy tunnel included): request bytes have
        gone out, which they do only then (a tunnel's CONNECT is not counted). Until then libcurl's
        connect timeout governs. Read while the handle still carries this transfer."""
        return bool(self.handle.getinfo(pycurl.REQUEST_SIZE))

    def head_arrived(self) -> bool:
        """Take the response head if its lines are complete; True once the head is resolved (or the
        transfer failed on it). Interim heads (100 Continue ...) are skipped; lines after the head
        (trailers) are not looked at."""
        raw = self._raw_head
        while True:
            start = self._head_from
            end = _blank_line(raw, start)
            if end < 0:
                return False
            parsed = _status_line(raw[start])
            if parsed is None:
                self._head_done = True
                self._fail_head(f"malformed status line {raw[start].decode('latin-1').strip()!r}")
                return True
            self._head_from = end + 1
            version, status, reason = parsed
            if 100 <= status < 200 and status != 101:
                continue  # an interim response: the real head follows
            # The field lines are checked and split once the engine has them (`header_block`).
            self._head_done = True
            fields = b"".join(raw[start + 1 : end]).decode("latin-1")
            check = self.owner.check_head
            head = check(version, status, reason, fields) if check is not None else (version, status, reason, fields)
            if type(head) is str:
                # Refused now, inside libcurl's callback: libcurl fails the transfer and closes its
                # connection instead of keeping it for the next request.
                self._fail_head(head)
            elif not self.head.done():
                self.head.set_result(head)
            return True

    def _fail_head(self, message: str) -> None:
        if self.abort_reason is None:
            self.abort_reason = HeadError(message)
        self.owner.abort_soon(self)

    # -- libcurl callbacks (run inside multi.socket_action, on the loop thread) ------------------
    def _on_write(self, data: bytes) -> int | None:
        # Called for every 16 KiB at most (libcurl's CURL_MAX_WRITE_SIZE, whatever BUFFERSIZE is): kept
        # to a few attribute reads; the reader takes the pieces in one batch per loop iteration.
        if not self._head_done and not self.head_arrived():
            self._head_done = True
            self._fail_head("body bytes before a complete response head")
        if self.abort_reason is not None:
            return 0  # makes libcurl fail the transfer with CURLE_WRITE_ERROR
        if self._buffered >= BODY_HIGH_WATER:
            self._body_paused = True
            return pycurl.WRITEFUNC_PAUSE  # libcurl keeps this chunk and offers it again on resume
        self._chunks.append(data)
        self._buffered += len(data)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return None

    def _on_read(self, size: int) -> bytes | int:
        self._activity += 1
        if not self._upload:
            if self._upload_finished:
                return b""
            self._upload_paused = True
            return pycurl.READFUNC_PAUSE
        view = self._upload[0]
        piece = view[:size]
        if len(view) > size:
            self._upload[0] = view[size:]
        else:
            self._upload.popleft()
        self._upload_queued -= len(piece)
        self._upload_sent += len(piece)
        if self._upload_queued < UPLOAD_HIGH_WATER and self._upload_space is not None:
            self._upload_space.set()
        return bytes(piece)

    def send_once(self) -> None:
        """Refuse a second send of this request (libcurl retries any request on a kept-alive
        connection that died before the response; a non-idempotent one must not go out twice)."""
        self.handle.setopt(pycurl.PREREQFUNCTION, self._on_send)

    def _on_send(self, *connection: object) -> int:
        self._sends += 1
        if self._sends == 1:
            return pycurl.PREREQFUNC_OK
        if self.abort_reason is None:
            self.abort_reason = HeadError(
                "the kept-alive connection closed before the response; a non-idempotent request is not sent again"
            )
        return pycurl.PREREQFUNC_ABORT

    def _on_seek(self, offset: int, origin: int) -> int:
        """libcurl rewinds the body to send the request again: only a replayable one, to its start."""
        data = self._replay
        if data is None or offset != 0 or origin != 0:
            return pycurl.SEEKFUNC_CANTSEEK  # the transfer fails (CURLE_SEND_FAIL_REWIND)
        self._upload.clear()
        if data:
            self._upload.append(memoryview(data))
        self._upload_sent = 0
        self._upload_queued = len(data)
        return pycurl.SEEKFUNC_OK

    # -- the asyncio side --------------------------------------------------------------------------
    async def _produce(self, source: AsyncIterator[bytes]) -> None:
        space = self._upload_space = asyncio.Event()
        space.set()
        try:
            async for chunk in source:
                if not chunk:
                    continue
                await space.wait()
                if self.finished:
                    return
                self._upload.append(memoryview(bytes(chunk)))
                self._upload_queued += len(chunk)
                if self._upload_queued >= UPLOAD_HIGH_WATER:
                    space.clear()
                self._resume_upload()
            self._upload_finished = True
            self._resume_upload()
        except BaseException as exc:
            if not self.finished:
                self.abort_reason = exc
                self.owner.abort_soon(self)
            if not isinstance(exc, Exception):
                raise

    def _resume_upload(self) -> None:
        if self._upload_paused and not self.finished:
            self._upload_paused = False
            self.owner.unpause(self, pycurl.PAUSE_CONT if not self._body_paused else pycurl.PAUSE_RECV)

    def completed_body(self) -> bytes | None:
        """The whole body when the transfer already finished successfully, else None."""
        if not self.finished or self.error is not None:
            return None
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        return data

    def take_chunks(self) -> list[bytes]:
        """Every body piece that arrived since the last call (maybe none); resumes a transfer that
        was paused because its reader fell behind."""
        chunks = self._chunks
        if chunks:
            self._chunks = []
            self._buffered = 0
            if self._body_paused:
                self._body_paused = False
                self._activity += 1  # data moves again without a socket event: not idle
                self.owner.unpause(self, pycurl.PAUSE_CONT if not self._upload_paused else pycurl.PAUSE_SEND)
        return chunks

    async def arrival(self) -> None:
        """Wait until body pieces arrive or the transfer ends."""
        if self._chunks or self.finished:
            return
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = self.owner.loop.create_future()
        await waiter

    def start_watchdog(self) -> None:
        if self._socket_timeout is not None:
            self._seen_activity = self._activity
            self._quiet_since = self._checked_at = self.owner.loop.time()
            self._schedule_watchdog(self._socket_timeout)

    def _schedule_watchdog(self, delay: float) -> None:
        self._watchdog = self.owner.loop.call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        # Idle means no byte moved on the transfer's socket for socket_timeout seconds. Each time the
        # socket becomes ready counts (a byte of a header line too, not only whole lines), and the
        # check runs again when the quiet time would reach the timeout: it fires within the timeout
        # plus the loop's latency, not up to twice the timeout.
        timeout = self._socket_timeout
        if self.finished or timeout is None:
            return
        owner = self.owner
        now = owner.loop.time()
        activity = self._activity + len(self._raw_head)
        last_io = owner.last_io(self.handle)
        if activity != self._seen_activity:
            self._seen_activity = activity
            if last_io <= self._checked_at:  # data moved with no socket event (a resumed transfer)
                self._quiet_since = now
        quiet_since = max(self._quiet_since, last_io)
        if not self.connected or self._body_paused:  # a slow reader is not a silent socket
            quiet_since = now
        self._quiet_since = quiet_since
        self._checked_at = now
        if now - quiet_since < timeout:
            self._schedule_watchdog(quiet_since + timeout - now)
            return
        self.abort_reason = SocketIdle(timeout)
        owner.abort_soon(self)

    def finish(self, error: BaseException | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        producer = self._producer
        if producer is not None and not producer.done():
            length = self._upload_length
            # A streamed body that went out whole before its response came: the source's own end (what
            # a generator does after its last chunk, e.g. a last progress report) still runs. Anything
            # else stops it.
            if error is not None or self.abort_reason is not None or length is None or self._upload_sent < length:
                producer.cancel()
        if self._upload_space is not None:
            self._upload_space.set()
        if not self._head_done:
            self.head_arrived()  # a response without body bytes: its head is taken (or refused) here
        if self.abort_reason is not None:
            error = self.abort_reason
        if not self.head.done():
            if error is not None:
                self.head.set_exception(error)
            else:
                self.head.set_exception(CurlError(0, "transfer ended without a response head"))
            self.head.exception()  # retrieved: no "never retrieved" warning when nobody waits
        if not self.finished:
            self.finished = True
            self.error = error
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


def _blank_line(raw: list[bytes], start: int) -> int:
    """Index of the first blank line (the end of a head) at or after `start`, -1 when none yet."""
    try:
        end = raw.index(_CRLF, start)
    except ValueError:
        end = len(raw)
    if _LF in raw:  # rare: a head with bare LF line ends
        with contextlib.suppress(ValueError):
            end = raw.index(_LF, start, end)
    return end if end < len(raw) else -1


@functools.lru_cache(maxsize=64)
def _status_line(line: bytes) -> tuple[str, int, str] | None:
    """(version, status, reason) of a status line, None when it is malformed; a server sends the
    same few status lines over and over, so they are parsed once."""
    match = _STATUS_LINE.match(line.decode("latin-1"))
    if match is None:
        return None
    return match.group(1), int(match.group(2)), match.group(3) or ""


class HeadTimeout(Exception):
    """No complete response head within `limit` seconds of the start."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"no complete response head within {limit:g} s")
        self.limit = limit


class SocketIdle(Exception):
    """No byte moved for `timeout` seconds."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no data for {timeout:g} s")
        self.timeout = timeout


class _Watch:
    """How the loop watches one of libcurl's sockets: through `dup`, a duplicate of libcurl's `fd` that
    the engine owns (registered with the loop, closed by the engine only); `ino` tells whether `fd`
    still is the same socket."""

    __slots__ = ("dup", "events", "fd", "ino", "swept", "wanted")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.dup = os.dup(fd)
        self.ino = os.fstat(self.dup).st_ino
        self.events = 0  # registered with the loop (on `dup`)
        self.wanted = 0  # what libcurl wants now; 0: it stopped watching (POLL_REMOVE)
        self.swept = False  # a sweep found it unwanted (and it has not been wanted since)

    def same_socket(self) -> bool:
        try:
            return os.fstat(self.fd).st_ino == self.ino
        except OSError:
            return False


class CurlMultiLoop:
    """The CurlMulti of one engine, bound to the event loop it was first used on."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, max_total: int, max_per_host: int, *, own_epoll: bool = True
    ) -> None:
        self.loop = loop
        self.multi = pycurl.CurlMulti()
        #: Where libcurl's sockets are watched: an epoll set of the engine's own (Linux), which the loop
        #: watches as one descriptor; else the loop itself, through duplicates (`_Watch`).
        self._epoll: Any = select.epoll() if own_epoll and _EPOLL else None
        self._polled: dict[int, int] = {}  # in the epoll set: libcurl's fd -> its event mask
        if self._epoll is not None:
            loop.add_reader(self._epoll.fileno(), self._on_ready)
        self.multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket if self._epoll is None else self._poll_socket)
        self.multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self.multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, max_total)
        if max_per_host:
            self.multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, max_per_host)
        self.multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._transfers: dict[pycurl.Curl, Transfer] = {}
        #: Started transfers whose head may not be resolved yet (an insertion-ordered set).
        self._awaiting_head: dict[Transfer, None] = {}
        self._running = 0  # libcurl's count of running transfers after the last socket action
        #: One timer checks the head deadlines of every transfer awaiting its head (`bound_head`): a
        #: bound fires within its limit plus an eighth of it (at most 1 s more).
        self._deadline_timer = DeadlineTimer(loop, self._check_deadlines)
        self._watches: dict[int, _Watch] = {}  # libcurl's fd -> how the loop watches it
        self._sweep: asyncio.TimerHandle | None = None
        self._io_at: dict[int, float] = {}  # fd -> loop time it last became ready (the idle watchdog's clock)
        self._kick_pending = False
        self._timer: asyncio.TimerHandle | None = None
        self._idle_handles: list[pycurl.Curl] = []
        #: Idle handles whose send buffer libcurl enlarged for a large in-memory body, with when they
        #: went idle: closed after `LARGE_BUFFER_IDLE` unused, which frees the buffer.
        self._large_idle: dict[pycurl.Curl, float] = {}
        self._large_sweep: asyncio.TimerHandle | None = None
        #: Handles that carry the engine's fixed options, with the per-request values they carry now.
        self.applied: dict[pycurl.Curl, list[Any]] = {}
        self._max_idle = max_total
        self._closed = False
        #: The engine's head checks, given a final head (version, status, reason, field lines) as it
        #: arrives: a str says what is wrong with it (the transfer fails inside libcurl's callback, so
        #: a refused head never leaves its connection reusable), anything else is the head's result.
        self.check_head: Callable[[str, int, str, str], object] | None = None

    # -- handles ------------------------------------------------------------------------------------
    def acquire_handle(self) -> pycurl.Curl:
        if self._idle_handles:
            handle = self._idle_handles.pop()
            if self._large_idle:
                self._large_idle.pop(handle, None)
            return handle
        return pycurl.Curl()

    def _release_handle(self, handle: pycurl.Curl, *, large_buffer: bool = False) -> None:
        # Kept configured (no reset()): the engine sets every per-request option explicitly. A handle
        # with a large send buffer is kept too: the next large body reuses the buffer's pages instead
        # of faulting in fresh ones (that costs more than the copy into them), until it idles too long.
        if len(self._idle_handles) < self._max_idle and not self._closed:
            self._idle_handles.append(handle)
            if large_buffer:
                self._large_idle[handle] = self.loop.time()
                if self._large_sweep is None:
                    self._large_sweep = self.loop.call_later(LARGE_BUFFER_IDLE, self._close_large_idle)
        else:
            self.discard_handle(handle)

    def _close_large_idle(self) -> None:
        self._large_sweep = None
        if self._closed:
            return
        expired = self.loop.time() - LARGE_BUFFER_IDLE
        for handle, since in list(self._large_idle.items()):
            if since <= expired:
                del self._large_idle[handle]
                self._idle_handles.remove(handle)
                self.discard_handle(handle)
        if self._large_idle:
            self._large_sweep = self.loop.call_later(LARGE_BUFFER_IDLE, self._close_large_idle)

    def discard_handle(self, handle: pycurl.Curl) -> None:
        self.applied.pop(handle, None)
        handle.close()

    # -- transfers ----------------------------------------------------------------------------------
    def start(self, transfer: Transfer) -> None:
        self._transfers[transfer.handle] = transfer
        self._awaiting_head[transfer] = None
        self.multi.add_handle(transfer.handle)
        if transfer._socket_timeout is not None:
            transfer.start_watchdog()
        if transfer.head_deadline:
            self._deadline_timer.watch(transfer.head_limit)  # the timer to start, or to make more frequent
        # libcurl asks for a timer on add_handle; kick it now so the transfer starts promptly. Never
        # acted on here: libcurl can send the request and read a fast answer in the same action, and a
        # caller sending requests one after another would then never let other tasks run.
        self._kick()

    def _check_deadlines(self) -> None:
        if self._closed:
            return
        now = self.loop.time()
        bounded = False
        for transfer in list(self._awaiting_head):
            deadline = transfer.head_deadline
            if not deadline or transfer._head_done or transfer.finished or transfer.head.done():
                continue
            if now < deadline:
                bounded = True
            elif self._owns(transfer):
                del self._awaiting_head[transfer]
                if transfer.abort_reason is None:
                    transfer.abort_reason = HeadTimeout(transfer.head_limit)
                self._complete(transfer.handle, transfer.abort_reason)
        if bounded:
            self._deadline_timer.again()

    def _kick(self) -> None:
        # One timeout action per loop iteration serves every transfer started or resumed in it.
        if not self._kick_pending:
            self._kick_pending = True
            self.loop.call_soon(self._kicked)

    def _kicked(self) -> None:
        self._kick_pending = False
        self._action(pycurl.SOCKET_TIMEOUT, 0)
        self._acted()

    def abort_soon(self, transfer: Transfer) -> None:
        # Never remove a handle from inside a libcurl callback.
        self.loop.call_soon(self._abort, transfer)

    def _owns(self, transfer: Transfer) -> bool:
        # Handles are reused: the handle may already carry a newer transfer.
        return self._transfers.get(transfer.handle) is transfer

    def _abort(self, transfer: Transfer) -> None:
        if self._owns(transfer):
            self._complete(transfer.handle, transfer.abort_reason or CurlError(42, "aborted"))

    def cancel(self, transfer: Transfer) -> None:
        """Stop a transfer now (the caller stopped reading, or was cancelled)."""
        if self._owns(transfer):
            if transfer.abort_reason is None:
                transfer.abort_reason = asyncio.CancelledError()
            self._complete(transfer.handle, transfer.abort_reason)

    def unpause(self, transfer: Transfer, flags: int) -> None:
        if self._owns(transfer):
            try:
                transfer.handle.pause(flags)
            except pycurl.error as exc:
                details: tuple[Any, ...] = exc.args
                transfer.abort_reason = CurlError(int(details[0]), str(details[-1]))
                self.abort_soon(transfer)
                return
            self._kick()

    def _complete(self, handle: pycurl.Curl, error: BaseException | None) -> None:
        transfer = self._transfers.pop(handle)
        self.multi.remove_handle(handle)
        fields = transfer._fields
        if fields:
            handle.setopt(pycurl.POSTFIELDS, b"")  # pycurl's reference to the body (the method stays POST)
        transfer.finish(error)
        self._release_handle(handle, large_buffer=fields == 2)

    # -- libcurl -> asyncio ---------------------------------------------------------------------------
    def _on_socket(self, event: int, fd: int, multi: Any, data: Any) -> None:
        # The loop never watches libcurl's file descriptor itself: libcurl closes a socket right
        # after POLL_REMOVE, and its number may then be reused at once, by libcurl or by any other
        # code on this loop; a registration of that number (epoll drops the closed file, asyncio's
        # selector keeps the number) would leave the new socket unwatched, or have us unregister
        # someone else's. The loop watches a duplicate instead (`_Watch.dup`), a number the engine
        # owns and alone closes. A socket libcurl stopped watching stays watched for a moment
        # (`IDLE_SWEEP`): the next request on a kept-alive connection usually wants it again at once,
        # and then costs one fstat (is it still the same socket?) instead of two epoll_ctl calls.
        watch = self._watches.get(fd)
        if event == pycurl.POLL_REMOVE or self._closed:  # closing: libcurl may still ask, never watch
            if watch is not None:
                watch.wanted = 0
                watch.swept = False
                if self._closed:
                    self._drop(watch)
                elif self._sweep is None:
                    self._sweep = self.loop.call_later(IDLE_SWEEP, self._sweep_idle)
            return
        if watch is not None and not watch.wanted and not watch.same_socket():
            self._drop(watch)  # libcurl closed it and opened another socket with the same number
            watch = None
        if watch is None:
            watch = self._watches[fd] = _Watch(fd)
        watch.wanted = event
        if watch.events != event:
            self._register(watch, event)

    def _poll_socket(self, event: int, fd: int, multi: Any, data: Any) -> None:
        # The engine's epoll set holds libcurl's own descriptors; the loop watches only the set, a
        # descriptor the engine owns, so nothing libcurl does with its numbers can reach the loop's
        # registrations. A socket libcurl stops watching stays in the set (the next request on a
        # kept-alive connection wants it again at once); when libcurl closes it, the kernel drops it
        # from the set. So every time libcurl wants a socket, it is set with `modify`, which fails
        # (ENOENT) for a number that is a new socket since -- then registered afresh: one epoll_ctl,
        # a C call, per request on a kept-alive connection.
        epoll, polled = self._epoll, self._polled
        if event == pycurl.POLL_REMOVE or self._closed:
            if fd in polled:
                polled[fd] = 0  # unwanted; events for it unregister it (`_on_ready`)
                if self._closed:
                    del polled[fd]
                    with contextlib.suppress(OSError):
                        epoll.unregister(fd)
            return
        mask = _EPOLL_MASKS.get(event, 0)
        if fd in polled:
            try:
                epoll.modify(fd, mask)
            except FileNotFoundError:
                epoll.register(fd, mask)
        else:
            try:
                epoll.register(fd, mask)
            except FileExistsError:
                epoll.modify(fd, mask)
        polled[fd] = mask

    def _on_ready(self) -> None:
        # Every ready socket of the set in one loop callback: one `socket_action` each, no Handle each.
        if self._closed:
            return
        now = self.loop.time()
        io_at, polled = self._io_at, self._polled
        for fd, ready in self._epoll.poll(0):
            wanted = polled.get(fd)
            if not wanted:
                # Unwanted: an idle kept-alive connection the server closed, or libcurl stopped
                # watching it in this batch. Out of the set until libcurl wants it again.
                polled.pop(fd, None)
                io_at.pop(fd, None)
                with contextlib.suppress(OSError):
                    self._epoll.unregister(fd)
                continue
            io_at[fd] = now
            events = 0
            if ready & _EPOLL_READABLE and wanted & select.EPOLLIN:
                events = _CSELECT_IN
            if ready & _EPOLL_WRITABLE and wanted & select.EPOLLOUT:
                events |= pycurl.CSELECT_OUT
            self._action(fd, events)
        self._acted()

    def _register(self, watch: _Watch, event: int) -> None:
        registered, dup = watch.events, watch.dup
        if registered & pycurl.POLL_IN and not event & pycurl.POLL_IN:
            self.loop.remove_reader(dup)
        if registered & pycurl.POLL_OUT and not event & pycurl.POLL_OUT:
            self.loop.remove_writer(dup)
        if event & pycurl.POLL_IN and not registered & pycurl.POLL_IN:
            self.loop.add_reader(dup, self._readable, watch)
        if event & pycurl.POLL_OUT and not registered & pycurl.POLL_OUT:
            self.loop.add_writer(dup, self._writable, watch)
        watch.events = event

    def _drop(self, watch: _Watch) -> None:
        """Stop watching and close the duplicate (the socket itself is libcurl's)."""
        if self._watches.get(watch.fd) is watch:
            del self._watches[watch.fd]
        self._io_at.pop(watch.fd, None)
        self._register(watch, 0)
        os.close(watch.dup)

    def _sweep_idle(self) -> None:
        # A watch is dropped once unwanted for a whole sweep period, or at once when libcurl closed its
        # socket (the duplicate keeps the connection open). Dropping every watch unwanted at the moment
        # of the sweep cost a dup, an fstat, two epoll_ctl and a close for about a third of the
        # requests at c64: connections between two requests are unwanted for a moment.
        self._sweep = None
        waiting = False
        for watch in list(self._watches.values()):
            if watch.wanted:
                continue
            if watch.swept or not watch.same_socket():
                self._drop(watch)
            else:
                watch.swept = True
                waiting = True
        if waiting and not self._closed:
            self._sweep = self.loop.call_later(IDLE_SWEEP, self._sweep_idle)

    def _readable(self, watch: _Watch) -> None:
        if watch.wanted & pycurl.POLL_IN:
            self._io_at[watch.fd] = self.loop.time()
            self._action(watch.fd, _CSELECT_IN)
            self._acted()
        else:  # an idle kept-alive connection became readable (the server closed it): stop watching
            self._register(watch, watch.events & ~pycurl.POLL_IN)

    def _writable(self, watch: _Watch) -> None:
        if watch.wanted & pycurl.POLL_OUT:
            self._io_at[watch.fd] = self.loop.time()
            self._action(watch.fd, pycurl.CSELECT_OUT)
            self._acted()
        else:
            self._register(watch, watch.events & ~pycurl.POLL_OUT)

    def last_io(self, handle: pycurl.Curl) -> float:
        """When the socket `handle` uses last became readable or writable (0.0: not seen)."""
        try:
            fd = handle.getinfo(pycurl.ACTIVESOCKET)
        except pycurl.error:
            return 0.0
        return self._io_at.get(fd, 0.0)

    def _on_timer(self, timeout_ms: int) -> None:
        if timeout_ms == 0:  # "act now", as on every add_handle: one action per loop iteration
            if not self._kick_pending:
                self._kick_pending = True
                self.loop.call_soon(self._kicked)
            return
        if timeout_ms < 0:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        when = self.loop.time() + timeout_ms / 1000
        if self._timer is not None and not self._timer.cancelled() and self._timer.when() <= when:
            # An earlier wake-up is already set: firing early is harmless (libcurl sets a new
            # timer), and keeping it spares a timer per transfer.
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._action(pycurl.SOCKET_TIMEOUT, 0)
        self._acted()

    def _action(self, fd: int, events: int) -> None:
        # The caller runs `_acted` once after its batch of actions.
        if self._closed:
            return
        while True:
            result, running = self.multi.socket_action(fd, events)
            if result != pycurl.E_CALL_MULTI_PERFORM:
                break
        self._running = running

    def _acted(self) -> None:
        """After a batch of socket actions (all the ready sockets of a loop iteration, a timer):
        finished transfers are collected -- now, before any task a head resolved in the batch runs
        (it then finds its transfer finished and its body whole) -- and heads that arrived without
        body bytes (a stream's, a slow body's) are taken. Once per batch, however many sockets acted."""
        if self._closed:
            return
        if self._running < len(self._transfers):  # libcurl's count of transfers still running
            self._collect()
        if self._awaiting_head:
            self._check_heads()

    def _check_heads(self) -> None:
        awaiting = self._awaiting_head
        resolved = [
            transfer
            for transfer in awaiting
            if transfer._head_done
            or transfer.finished
            or ((raw := transfer._raw_head) and (raw[-1] == _CRLF or raw[-1] == _LF) and transfer.head_arrived())
        ]
        for transfer in resolved:
            del awaiting[transfer]

    def _collect(self) -> None:
        while True:
            queued, succeeded, failed = self.multi.info_read()
            for handle in succeeded:
                if handle in self._transfers:
                    self._complete(handle, None)
            for handle, code, message in failed:
                if handle in self._transfers:
                    connected = self._transfers[handle].connected
                    self._complete(handle, CurlError(code, message, connected=connected))
            if queued == 0:
                break

    # -- shutdown ----------------------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True
        for handle in list(self._transfers):
            self._complete(handle, CurlError(42, "engine closed"))
        if self._timer is not None:
            self._timer.cancel()
        if self._sweep is not None:
            self._sweep.cancel()
        if self._large_sweep is not None:
            self._large_sweep.cancel()
        self._deadline_timer.cancel()
        self._large_idle.clear()
        for handle in self._idle_handles:
            handle.close()
        self._idle_handles.clear()
        self._awaiting_head.clear()
        self.applied.clear()
        self.multi.close()
        for watch in list(self._watches.values()):  # the duplicates are the engine's to close
            self._drop(watch)
        if self._epoll is not None:
            self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._polled.clear()


TransferFactory = Callable[[CurlMultiLoop, pycurl.Curl], Transfer]
