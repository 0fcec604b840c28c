"""AuthTokenHolder: a cached token with single-flight loading and refreshing.

- Concurrent `load()` calls share one call of the loader; the result is cached unless `cache=False`.
- Concurrent `refresh(old)` calls share one call of the refresher; a caller whose `old` token is no
  longer the current one gets the current token at once (someone else refreshed already).
- `clear()` may be called from any task or thread, even during a load or refresh: the in-flight
  result is then handed to its waiters but not kept, so no stale token survives a clear.
- No lock is held across an await: the threading lock only guards a few assignments.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar, Union

__all__ = ["AuthTokenHolder"]

T = TypeVar("T")

MaybeAsync = Union[Awaitable[T], T]


async def _call(function: Callable[[], MaybeAsync[T | None]]) -> T | None:
    result = function()
    if inspect.isawaitable(result):
        return await result
    return result


class AuthTokenHolder(Generic[T]):
    def __init__(self, loader: Callable[[], MaybeAsync[T | None]], cache: bool = True) -> None:
        self._loader = loader
        self._cache = cache
        self._lock = threading.Lock()
        self._token: T | None = None
        self._generation = 0
        self._loading: asyncio.Future[T | None] | None = None
        self._refreshing: asyncio.Future[T | None] | None = None

    @property
    def current(self) -> T | None:
        return self._token

    async def load(self) -> T | None:
        if not self._cache:
            return await _call(self._loader)
        with self._lock:
            if self._token is not None:
                return self._token
            future = self._loading
            if future is None:
                future = self._loading = asyncio.get_running_loop().create_future()
                generation = self._generation
                owner = True
            else:
                owner = False
        if owner:
            await self._run(future, self._loader, generation, loading=True)
        return await asyncio.shield(future)

    async def refresh(self, old: T | None, refresher: Callable[[], MaybeAsync[T | None]]) -> T | None:
        with self._lock:
            if self._token is not None and self._token != old:
                return self._token  # refreshed meanwhile by another request
            future = self._refreshing
            if future is None:
                future = self._refreshing = asyncio.get_running_loop().create_future()
                generation = self._generation
                owner = True
            else:
                owner = False
        if owner:
            await self._run(future, refresher, generation, loading=False)
        return await asyncio.shield(future)

    async def _run(
        self,
        future: asyncio.Future[T | None],
        function: Callable[[], MaybeAsync[T | None]],
        generation: int,
        *,
        loading: bool,
    ) -> None:
        try:
            token = await _call(function)
        except BaseException as exc:
            with self._lock:
                self._forget(future, loading)
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved here; every waiter re-raises it
            return
        with self._lock:
            if self._generation == generation and self._cache:
                self._token = token
                self._generation += 1
            self._forget(future, loading)
        if not future.done():
            future.set_result(token)

    def _forget(self, future: asyncio.Future[T | None], loading: bool) -> None:
        if loading and self._loading is future:
            self._loading = None
        if not loading and self._refreshing is future:
            self._refreshing = None

    def clear(self) -> None:
        """Drop the token; an in-flight load or refresh will not store its result."""
        with self._lock:
            self._token = None
            self._generation += 1
            self._loading = None
            self._refreshing = None
