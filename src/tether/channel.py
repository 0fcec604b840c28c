"""`ByteReadChannel`: the response body as an async byte stream.

It wraps whatever the engine yields (an async iterator of chunks) and adds `read(n)`, iteration,
`read_to(sink)` and full reads. When the engine tells it the expected length (Content-Length of an
undecoded body), a stream that ends early raises `ProtocolError` instead of returning short data.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from tether.blocking import MIN_WRITE_BATCH, WRITE_BATCH, is_blocking_sink, outcome, settle, write_batch
from tether.exceptions import ClientClosedError, ProtocolError, ResponseClosedError, TetherError

__all__ = ["ByteReadChannel", "WritableSink"]


class WritableSink(Protocol):
    """Anything with `write(bytes)`: a binary file, `io.BytesIO`, or an object whose write is async."""

    def write(self, data: bytes, /) -> Any: ...


class _NoChunks:
    """An async iterator that is already exhausted: the source of channels over in-memory bytes (one
    shared instance, so a small response costs no async generator)."""

    __slots__ = ()

    def __aiter__(self) -> _NoChunks:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def aclose(self) -> None:
        return None


_NO_CHUNKS = _NoChunks()


def _shut_down(executor: Executor) -> bool:
    """Whether `executor` takes no more work (a closed engine's pool)."""
    return bool(getattr(executor, "_shutdown", False))


def _cancelling() -> bool:
    """Whether the current task is being cancelled (Python 3.11+; False before)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


class _Closable(Protocol):
    _closed: bool


class ByteReadChannel:
    """An async stream of bytes that is read once.

    >>> import asyncio
    >>> channel = ByteReadChannel.from_bytes(b"hello world")
    >>> asyncio.run(channel.read(5))
    b'hello'
    """

    __slots__ = (
        "__weakref__",  # the client keeps its open bodies in a WeakSet (closed with it)
        "_buffer",
        "_by_client",
        "_client",
        "_closed",
        "_deadline",
        "_eof",
        "_expected",
        "_lost",
        "_memory",
        "_on_close",
        "_read",
        "_reading",
        "_source",
        "executor",
    )

    def __init__(
        self,
        source: AsyncIterator[bytes],
        *,
        on_close: Callable[[], Awaitable[None] | None] | None = None,
        expected_length: int | None = None,
    ) -> None:
        self._source = source
        self._on_close = on_close
        self._expected = expected_length
        self._buffer = bytearray()
        self._read = 0  # bytes taken from the source so far
        self._eof = False
        self._closed = False
        self._lost = False  # closed before every byte was handed out: reads raise, never b""
        self._reading = False  # a read waits on the source (aclose from another task must not close it)
        self._memory: bytes | None = None  # a body already in memory, handed out without copying
        self._deadline: tuple[float, Callable[[], BaseException]] | None = None
        self._client: _Closable | None = None  # the client whose response this is (set by the client)
        self._by_client = False  # closed by the client's close (`_close_for_client`)
        #: Where `read_to` runs a blocking sink's writes (set to the engine's executor for a
        #: response body); None: the event loop's default executor.
        self.executor: Executor | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> ByteReadChannel:
        """A channel over bytes already in memory (no source to pull from)."""
        # Filled in directly (not through __init__): this runs for every small response.
        channel = cls.__new__(cls)
        channel._source = _NO_CHUNKS
        channel._on_close = None
        channel._expected = channel._read = len(data)
        channel._buffer = bytearray()
        channel._eof = True
        channel._closed = channel._lost = channel._reading = False
        channel._memory = data if data else None
        channel._deadline = channel._client = None
        channel._by_client = False
        channel.executor = None
        return channel

    @classmethod
    def empty(cls) -> ByteReadChannel:
        return cls(_NO_CHUNKS, expected_length=0)

    @property
    def is_closed_for_read(self) -> bool:
        """True once every byte has been handed out, or the channel was closed."""
        return self._closed or (self._eof and not self._buffer and self._memory is None)

    def set_deadline(self, loop_time: float, error: Callable[[], BaseException]) -> None:
        """Fail every read after `loop_time` (the event loop's clock) with `error()`, closing the
        channel. HttpTimeout uses it so a request timeout also bounds reading the body."""
        self._deadline = (loop_time, error)

    @property
    def bytes_received(self) -> int:
        """Bytes taken from the network so far."""
        return self._read

    async def _next_chunk(self) -> bytes | None:
        if self._memory is not None and not self._closed:
            chunk, self._memory = self._memory, None
            return chunk
        if self._eof or self._closed:
            if self._lost:
                raise self._closed_error()
            return None
        self._reading = True
        try:
            while True:
                if self._deadline is None:
                    chunk = await self._source.__anext__()
                else:
                    chunk = await self._next_before_deadline(*self._deadline)
                if self._closed:  # closed by another task while this read waited
                    await self._close_source()
                    raise self._closed_error()
                if chunk:
                    break
        except StopAsyncIteration:
            self._eof = True
            if self._expected is not None and self._read < self._expected:
                await self.aclose()
                self._lost = True  # the missing bytes are lost: a later read must not look like the end
                raise ProtocolError(
                    f"Response body ended after {self._read} of {self._expected} bytes "
                    "(shorter than its Content-Length)"
                ) from None
            await self._release()
            return None
        except ResponseClosedError:
            raise
        except BaseException as exc:
            if self._closed and not _cancelling():
                # Another task closed the channel while this read waited: whatever the engine's
                # interrupted read raised (its own cancellation included), the response was closed.
                raise self._closed_error() from exc
            await self.aclose()
            if self._client is not None and self._client._closed and isinstance(exc, Exception):
                # The client closed under the read: each engine failed it in its own words (aiohttp
                # and urllib3 with a RuntimeError, httpx with an empty ProtocolError).
                self._lost = True
                raise ClientClosedError("The HttpClient was closed while this response body was being read") from exc
            raise
        finally:
            self._reading = False
        self._read += len(chunk)
        if self._expected is not None and self._read > self._expected:
            await self.aclose()
            raise ProtocolError(
                f"Response body is longer than its Content-Length ({self._read} > {self._expected} bytes)"
            )
        return bytes(chunk)

    async def _next_before_deadline(self, deadline: float, error: Callable[[], BaseException]) -> bytes:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise error()
        try:
            return await asyncio.wait_for(self._source.__anext__(), remaining)
        except TetherError:
            raise  # the engine's SocketTimeoutException is a TimeoutError too: keep its class
        except asyncio.TimeoutError:
            raise error() from None

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all remaining when n < 0); b"" only at the end of the stream."""
        if n < 0:
            return await self.read_all()
        if n == 0:
            return b""
        if not self._buffer:
            chunk = await self._next_chunk()
            if chunk is None:
                return b""
            if len(chunk) <= n:
                return chunk
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def read_exactly(self, n: int) -> bytes:
        """Exactly `n` bytes; `ProtocolError` if the stream ends first."""
        while len(self._buffer) < n:
            chunk = await self._next_chunk()
            if chunk is None:
                raise ProtocolError(f"Stream ended after {len(self._buffer)} of {n} requested bytes")
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def take_memory(self) -> bytes | None:
        """The rest of the body at once if the channel holds it all in memory (nothing to await); else
        None and nothing is consumed."""
        if self._memory is not None and not self._buffer:
            data, self._memory = self._memory, None
            return data
        return None

    async def read_all(self) -> bytes:
        """Every remaining byte."""
        data = self.take_memory()
        if data is not None:
            return data
        parts = [bytes(self._buffer)] if self._buffer else []
        self._buffer.clear()
        while (chunk := await self._next_chunk()) is not None:
            parts.append(chunk)
        return b"".join(parts)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            yield data
        while (chunk := await self._next_chunk()) is not None:
            yield chunk

    async def read_to(self, sink: WritableSink, limit: int | None = None, *, blocking: bool | None = None) -> int:
        """Copy the stream into `sink` chunk by chunk (never the whole body in memory).

        Returns the number of bytes written. `limit` stops after that many bytes. On a failure (of
        the stream or of a write) the channel is closed and the error re-raised.

        A blocking sink (a file: any object whose `write` is a plain method, except `io.BytesIO`) is
        written on the engine's executor, never on the event loop; chunks that arrive during a
        write are joined into the next one, so a slow disk neither stalls the loop nor the download.
        An async `write` is awaited on the loop. `blocking=True/False` overrides the guess. Either
        way the bytes arrive in order, and once this returns or raises no write is in flight.
        """
        if blocking if blocking is not None else is_blocking_sink(sink):
            return await self._read_to_blocking(sink, limit)
        written = 0
        try:
            async for chunk in self:
                if limit is not None and written + len(chunk) > limit:
                    chunk = self._keep_after(chunk, limit - written)
                result = sink.write(chunk)
                if result is not None and inspect.isawaitable(result):  # a plain write returns None or a count
                    await result
                written += len(chunk)
                if limit is not None and written >= limit:
                    break
        except BaseException:
            await self.aclose()
            raise
        flush = getattr(sink, "flush", None)
        if callable(flush):
            result = flush()
            if inspect.isawaitable(result):
                await result
        return written

    def _keep_after(self, chunk: bytes, size: int) -> bytes:
        """The first `size` bytes of `chunk`; the rest stays for the next read (`read_to(limit=)`)."""
        self._buffer[:0] = chunk[size:]
        return chunk[:size]

    async def _read_to_blocking(self, sink: WritableSink, limit: int | None) -> int:
        """`read_to` for a blocking sink: one write at a time on the executor, while the loop keeps
        reading and gathers the next batch (from `MIN_WRITE_BATCH` up to `WRITE_BATCH` bytes)."""
        loop = asyncio.get_running_loop()
        executor = self.executor
        if executor is not None and _shut_down(executor):
            executor = None  # the client (and its engine's pool) closed after the body was read
        batch: list[bytes] = []
        batched = written = 0
        writing: asyncio.Future[None] | None = None
        try:
            async for chunk in self:
                if limit is not None and written + len(chunk) > limit:
                    chunk = self._keep_after(chunk, limit - written)
                batch.append(chunk)
                batched += len(chunk)
                written += len(chunk)
                if writing is not None and (writing.done() or batched >= WRITE_BATCH):
                    await outcome(writing)  # raises what the write raised
                    writing = None
                if writing is None and batched >= MIN_WRITE_BATCH:
                    writing = loop.run_in_executor(executor, write_batch, sink, batch)
                    batch, batched = [], 0
                if limit is not None and written >= limit:
                    break
            if writing is not None:
                await outcome(writing)
            writing = loop.run_in_executor(executor, write_batch, sink, batch, True)
            await outcome(writing)
        except BaseException:
            if writing is not None:
                await settle(writing)
            await self.aclose()
            raise
        return written

    async def discard(self) -> int:
        """Read and drop everything left; returns the byte count."""
        count = len(self._buffer)
        self._buffer.clear()
        while (chunk := await self._next_chunk()) is not None:
            count += len(chunk)
        return count

    async def _release(self) -> None:
        callback, self._on_close = self._on_close, None
        if callback is not None:
            result = callback()
            if inspect.isawaitable(result):
                await result

    async def aclose(self) -> None:
        """Stop reading and release the connection. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._lost = bool(self._buffer) or self._memory is not None or not self._eof
        self._buffer.clear()
        self._memory = None
        try:
            if not self._reading:  # else the waiting read closes it once the engine wakes it
                await self._close_source()
        finally:
            await self._release()

    async def _close_source(self) -> None:
        closer = getattr(self._source, "aclose", None)
        if closer is not None and not self._eof:
            await closer()

    async def _close_for_client(self) -> None:
        """`aclose()` by the client's own close: a read it interrupts, or any read after it, raises
        `ClientClosedError` instead of `ResponseClosedError`."""
        self._by_client = True
        await self.aclose()

    def _closed_error(self) -> TetherError:
        if self._by_client:
            return ClientClosedError("The HttpClient was closed while this response body was being read")
        return ResponseClosedError(
            f"The response body was closed after {self._read} bytes, before it was read to the end "
            "(read a streamed body inside its `async with statement.execute()` block, or before "
            "closing it from another task)"
        )

    def __repr__(self) -> str:
        state = "closed" if self.is_closed_for_read else "open"
        return f"<ByteReadChannel {state} received={self._read} expected={self._expected}>"
