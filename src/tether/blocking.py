"""Blocking user code kept off the event loop: sinks that `read_to` writes into, progress listeners.

A blocking call on the loop thread (a file write, a terminal refresh) stalls every task of the loop for
as long as it takes. tether runs such calls on the engine's executor (`HttpClientEngineConfig.executor`,
else a pool of `threads_count` threads the engine owns: Ktor's dispatcher), one at a time and in order,
and batches what arrives meanwhile so throughput does not drop. Async code is awaited on the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Union

__all__ = ["MIN_WRITE_BATCH", "WRITE_BATCH", "ProgressNotifier", "is_blocking_sink", "outcome", "settle", "write_batch"]

#: `read_to` hands a blocking sink at least this many bytes per write (unless the body ends first):
#: a trip to a worker thread and back costs tens of microseconds, so one per network chunk would
#: cost more than a fast disk's write.
MIN_WRITE_BATCH = 256 * 1024
#: ... and lets at most this many bytes wait while a write is in flight: enough to keep a fast
#: network and a slow disk both busy, little enough to keep memory flat.
WRITE_BATCH = 1024 * 1024


def is_blocking_sink(sink: object) -> bool:
    """Whether `sink.write` must run off the loop: true for files and any object with a plain `write`,
    false for coroutine `write`s (awaited on the loop), in-memory buffers (they never block) and
    asyncio stream writers (not thread-safe, and they never block either)."""
    write = getattr(sink, "write", None)
    if inspect.iscoroutinefunction(write):
        return False
    return not isinstance(sink, (io.BytesIO, asyncio.StreamWriter, asyncio.Transport))


def write_batch(sink: Any, chunks: list[bytes], flush: bool = False) -> None:
    """On a worker: write `chunks` to `sink` (then flush it when asked).

    A file (`open(path, "wb")`, `tempfile.TemporaryFile()`) gets one `os.writev` of the whole batch:
    one system call that releases the GIL once and copies nothing. `writelines` made one write, and
    one GIL release and re-acquisition, per network chunk (6,400 for 100 MiB from Curl), each of
    which waited for the loop thread to let go of the GIL: 90 ms of the worker's CPU per 100 MiB
    instead of 37 ms (`benchmarks/read_to_file.py --trace`). Other file objects get the batch joined
    into one `write`."""
    if chunks and type(sink) in _PLAIN_FILES and _writev is not None:
        _write_vectored(sink, chunks)
    elif chunks and isinstance(sink, io.IOBase):
        sink.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
    elif chunks:
        result = sink.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(
                f"{type(sink).__name__}.write returned an awaitable from a worker thread: "
                "pass blocking=False to read_to so that it is awaited on the event loop"
            )
    if flush:
        flusher = getattr(sink, "flush", None)
        if callable(flusher):
            flusher()


#: Files whose bytes go straight to their file descriptor (not subclasses: they may change `write`).
_PLAIN_FILES = (io.BufferedWriter, io.BufferedRandom, io.FileIO)
_writev = getattr(os, "writev", None)  # POSIX only
#: At most this many buffers per `writev` (POSIX's IOV_MAX is at least 16; Linux's is 1024).
_IOV_MAX = min(os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16, 1024) if _writev else 16


def _write_vectored(sink: io.BufferedWriter | io.BufferedRandom | io.FileIO, chunks: list[bytes]) -> None:
    """`chunks` written at the file's position through its descriptor, with the file object's own
    state kept right: its buffer is flushed first (that also puts a read-write file's descriptor at
    its logical position), and its cached position is refreshed after."""
    assert _writev is not None
    if not isinstance(sink, io.FileIO):
        sink.flush()
    descriptor = sink.fileno()
    pending: list[bytes | memoryview] = list(chunks)
    while pending:
        written = _writev(descriptor, pending[:_IOV_MAX])
        dropped = 0
        while dropped < len(pending) and written >= len(pending[dropped]):
            written -= len(pending[dropped])
            dropped += 1
        del pending[:dropped]
        if written:  # a partial write ended inside this buffer
            pending[0] = memoryview(pending[0])[written:]
    if not isinstance(sink, io.FileIO) and sink.seekable():
        sink.tell()  # re-reads the descriptor's position into the buffered file's cache


async def outcome(future: asyncio.Future[Any]) -> Any:
    """The result of work handed to a thread. Unlike `await future`, a cancellation of the caller
    leaves the future alone, so `settle` can still wait for the thread to finish."""
    await asyncio.wait((future,))
    return future.result()


async def settle(future: asyncio.Future[Any]) -> None:
    """Wait until work already handed to a thread is over (it cannot be stopped), so that nothing
    touches the caller's object once we return; its outcome is consumed, not raised. A cancellation
    that arrives meanwhile is raised once the work is over."""
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait((future,))
        except asyncio.CancelledError:
            cancelled = True
    if not future.cancelled():
        future.exception()
    if cancelled:
        raise asyncio.CancelledError


ProgressListener = Callable[[int, Union[int, None]], Union[Awaitable[None], None]]


class ProgressNotifier:
    """Calls a progress listener with `(done, total)`.

    A coroutine function is awaited on the loop for every value. A plain function runs on `executor`,
    one call at a time and in order; values that arrive while a call runs are coalesced into the
    latest one (progress is a counter: only the newest value matters), and `finish()` delivers the
    last value. A listener's exception fails the transfer at the next value or at `finish()`.
    """

    __slots__ = ("_error", "_executor", "_is_async", "_listener", "_loop", "_pending", "_waiting")

    def __init__(self, listener: ProgressListener, executor: Executor | None) -> None:
        self._listener = listener
        self._executor = executor
        self._is_async = inspect.iscoroutinefunction(listener)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Future[Any] | None = None
        self._waiting: tuple[int, int | None] | None = None
        self._error: BaseException | None = None

    async def notify(self, done: int, total: int | None) -> None:
        if self._is_async:
            result = self._listener(done, total)
            if inspect.isawaitable(result):
                await result
            return
        if self._error is not None:
            raise self._error
        if self._pending is None:
            self._start(done, total)
        else:
            self._waiting = (done, total)

    async def finish(self) -> None:
        """Wait for the calls in flight and the last value; raise the listener's failure if any."""
        while self._pending is not None:
            await settle(self._pending)
            await asyncio.sleep(0)  # let the done callback run (it may start the last value)
        if self._error is not None:
            raise self._error

    def _start(self, done: int, total: int | None) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        future = self._loop.run_in_executor(self._executor, self._call, done, total)
        future.add_done_callback(self._next)
        self._pending = future

    def _call(self, done: int, total: int | None) -> Any:
        result = self._listener(done, total)
        if inspect.isawaitable(result):  # a plain function returning an awaitable: hand it back
            return result
        return None

    def _next(self, future: asyncio.Future[Any]) -> None:
        self._pending = None
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._error = error
            return
        result = future.result()
        if inspect.isawaitable(result):
            # Awaitables must run on the loop: await them as a task, in order with the rest.
            waiting = asyncio.ensure_future(result)
            waiting.add_done_callback(self._next)
            self._pending = waiting
            return
        if self._waiting is not None:
            (done, total), self._waiting = self._waiting, None
            self._start(done, total)
