"""Host names resolved on the engine's executor (Ktor's dispatcher) instead of the loop's default one.

httpcore connects through anyio, whose `connect_tcp` resolves a name with `loop.getaddrinfo`: a
blocking `getaddrinfo` on the event loop's default executor, which the engine's `executor` setting
never reaches. `resolve_on_executor` puts a network backend in front of httpcore's: it runs
`getaddrinfo` on the executor and hands httpcore's backend the addresses, which anyio connects to
without resolving anything. Several addresses are raced the way anyio races them (RFC 6555 Happy
Eyeballs: the first IPv6 address, then the first IPv4 one, then the rest; the next attempt starts
when one fails or after 250 ms), so a dual-stack host behaves as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import typing
from collections.abc import Callable
from concurrent.futures import Executor

import httpcore
import httpx

__all__ = ["ExecutorResolvingBackend", "resolve_on_executor"]

#: anyio's delay before the next address is tried beside a connection attempt still pending.
HAPPY_EYEBALLS_DELAY = 0.25


class ExecutorResolvingBackend(httpcore.AsyncNetworkBackend):
    """Resolves host names with `getaddrinfo` on `executor()`, then connects through `inner`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, executor: Callable[[], Executor | None]) -> None:
        self._inner = inner
        self._executor = executor  # a callable: an engine makes its own pool only when first needed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if _is_address(host):
            return _closed_if_tls_interrupted(
                await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            )
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        resolve = functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            found = await asyncio.wait_for(loop.run_in_executor(self._executor(), resolve), timeout)
        except asyncio.TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout} s") from None
        except OSError as exc:  # socket.gaierror: what anyio raises, mapped the way httpcore maps it
            raise httpcore.ConnectError(str(exc)) from exc
        options = list(socket_options) if socket_options is not None else None
        return _closed_if_tls_interrupted(
            await self._first_connected(_eyeballs_order(found), port, deadline, local_address, options)
        )

    async def _first_connected(
        self,
        addresses: list[str],
        port: int,
        deadline: float | None,
        local_address: str | None,
        options: list[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first address that answers: attempts are staggered, the winner is kept and
        every other attempt is cancelled (or closed, if it connected too)."""
        loop = asyncio.get_running_loop()
        waiting = list(addresses)
        pending: set[asyncio.Task[httpcore.AsyncNetworkStream]] = set()
        errors: list[BaseException] = []
        winner: asyncio.Task[httpcore.AsyncNetworkStream] | None = None
        try:
            while winner is None and (waiting or pending):
                if waiting:
                    left = None if deadline is None else max(deadline - loop.time(), 0.0)
                    attempt = self._inner.connect_tcp(waiting.pop(0), port, left, local_address, options)
                    pending.add(asyncio.ensure_future(attempt))
                done, pending = await asyncio.wait(
                    pending, timeout=HAPPY_EYEBALLS_DELAY if waiting else None, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    error = task.exception()
                    if error is not None:
                        errors.append(error)
                    elif winner is None:
                        winner = task
                    else:
                        await task.result().aclose()  # connected second: not needed
        except BaseException:
            if winner is not None:
                await winner.result().aclose()
            raise
        finally:
            for task in pending:
                task.cancel()
            for outcome in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(outcome, httpcore.AsyncNetworkStream):
                    await outcome.aclose()  # connected while being cancelled
        if winner is not None:
            return winner.result()
        if len(errors) == 1:
            raise errors[0]
        if all(isinstance(error, httpcore.ConnectTimeout) for error in errors):
            raise httpcore.ConnectTimeout("every address of the host timed out") from errors[-1]
        raise httpcore.ConnectError(
            "All connection attempts failed: " + "; ".join(str(error) for error in errors)
        ) from errors[-1]

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _eyeballs_order(found: list[tuple[typing.Any, ...]]) -> list[str]:
    """anyio's order: the first IPv6 address, then the first IPv4 one, then the rest as resolved."""
    ordered: list[str] = []
    v6_found = v4_found = False
    for family, *_, address in found:
        host = str(address[0])
        if host in ordered:
            continue
        if family == socket.AF_INET6 and not v6_found:
            v6_found = True
            ordered.insert(0, host)
        elif family == socket.AF_INET and not v4_found and v6_found:
            v4_found = True
            ordered.insert(1, host)
        else:
            ordered.append(host)
    return ordered


def _closed_if_tls_interrupted(stream: httpcore.AsyncNetworkStream) -> httpcore.AsyncNetworkStream:
    """`stream`, whose TLS handshake closes it when it is interrupted. httpcore's anyio stream closes
    itself only when `start_tls` raises an `Exception`: a task cancelled during the handshake left the
    TCP connection open, registered with the loop, owned by nothing, until the loop closed (a request
    cancelled while connecting to a server that never answers the ClientHello). Only `start_tls` is
    replaced, on the instance: reads and writes go straight to httpcore's stream."""
    start_tls = stream.start_tls

    async def closing_start_tls(*args: typing.Any, **kwargs: typing.Any) -> httpcore.AsyncNetworkStream:
        try:
            return await start_tls(*args, **kwargs)
        except BaseException:
            # Already closed by httpcore, or failing to close: the original error is the news.
            with contextlib.suppress(Exception):
                await stream.aclose()
            raise

    stream.start_tls = closing_start_tls  # type: ignore[method-assign]
    return stream


def resolve_on_executor(client: httpx.AsyncClient, executor: Callable[[], Executor | None]) -> None:
    """Resolve names on `executor()` in every httpcore pool of `client` (proxies included; a custom
    transport given through `customize_client` is left alone)."""
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.AsyncNetworkBackend) and not isinstance(backend, ExecutorResolvingBackend):
            pool._network_backend = ExecutorResolvingBackend(backend, executor)  # type: ignore[union-attr]
