"""Two small async streams standing in for Kotlin's StateFlow and SharedFlow.

- `StateStream`: a current `value`; iterating yields the current value, then every change, and ends
  once the stream is finished (the peer connection closed).
- `EventStream`: iterating yields the last `replay` items, then every new item, and ends once the
  stream is finished. Each iterator has its own queue, so a slow reader never drops items; an item is
  queued only for iterators that exist, so nobody pays for a stream no one reads.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

__all__ = ["EventStream", "StateStream"]

T = TypeVar("T")


class _Subscription(Generic[T]):
    """One iterator over a stream. It is registered when created (so nothing published after
    `aiter()` is missed) and held weakly by the stream, so an abandoned iterator costs nothing."""

    __slots__ = ("__weakref__", "_stream", "items", "waiter")

    def __init__(self, stream: _Broadcast[T], first: deque[T]) -> None:
        self._stream = stream
        self.items = first
        self.waiter: asyncio.Future[None] | None = None
        stream._subscribers.add(self)

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def __aiter__(self) -> _Subscription[T]:
        return self

    async def __anext__(self) -> T:
        while not self.items:
            if self._stream._finished:
                self._stream._subscribers.discard(self)
                raise StopAsyncIteration
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()


class _Broadcast(Generic[T]):
    def __init__(self) -> None:
        self._subscribers: weakref.WeakSet[_Subscription[T]] = weakref.WeakSet()
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def _publish(self, item: T) -> None:
        for subscriber in self._subscribers:
            subscriber.items.append(item)
            subscriber.wake()

    def _finish(self) -> None:
        self._finished = True
        for subscriber in self._subscribers:
            subscriber.wake()


class StateStream(_Broadcast[T]):
    """A value that changes over time. `await stream.wait_for(lambda s: s is ConnectionState.CONNECTED)`."""

    def __init__(self, initial: T) -> None:
        super().__init__()
        self._value = initial
        self._changed: asyncio.Event | None = None

    @property
    def value(self) -> T:
        return self._value

    def _set(self, value: T) -> None:
        if value == self._value or self._finished:
            return
        self._value = value
        self._publish(value)

    def __aiter__(self) -> AsyncIterator[T]:
        return _Subscription(self, deque([self._value]))

    async def wait_for(self, predicate: Callable[[T], bool]) -> T:
        """The first value (the current one included) that satisfies `predicate`. Raises `EOFError` if
        the stream finishes without one; bound it with `asyncio.timeout`/`wait_for` as needed."""
        async for value in self:
            if predicate(value):
                return value
        raise EOFError(f"the stream finished at {self._value!r} without reaching the awaited value")

    def __repr__(self) -> str:
        return f"StateStream({self._value!r})"


class EventStream(_Broadcast[T]):
    """Events with a replay buffer of the last `replay` items."""

    def __init__(self, replay: int) -> None:
        super().__init__()
        self._replay: deque[T] = deque(maxlen=replay)

    def _emit(self, item: T) -> None:
        if self._finished:
            return
        if self._replay.maxlen:
            self._replay.append(item)
        self._publish(item)

    def __aiter__(self) -> AsyncIterator[T]:
        return _Subscription(self, deque(self._replay))

    @property
    def replay_cache(self) -> list[T]:
        return list(self._replay)
