"""The upgrade route for Urllib3: a connection from the engine's pool manager is connected on a worker
(through the configured SOCKS proxy, or tunnelled with CONNECT through an HTTP proxy), then the event
loop adopts the socket with `loop.create_connection(sock=...)` -- no thread per session. For wss the
worker opens TCP only and asyncio does TLS, because asyncio cannot adopt an `ssl.SSLSocket`. The
upgrade request and its answer go over that stream (`tether.engine.upgrade.handshake_over`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import TYPE_CHECKING

from tether.engine.config import ProxyType
from tether.engine.support import create_ssl_context
from tether.engine.upgrade import ProtocolStream, Upgrade, handshake_over
from tether.exceptions import ConnectError, ConnectTimeoutException, TlsError
from tether.request import HttpRequestData

if TYPE_CHECKING:
    from tether_urllib3.engine import Urllib3Engine

__all__ = ["upgrade"]


async def upgrade(engine: Urllib3Engine, request: HttpRequestData, protocol: str) -> Upgrade:
    from tether_urllib3.engine import _in_worker, _mapped_errors

    url = request.url
    secure = url.scheme == "https"
    host = url.raw_host or ""
    port = url.port or (443 if secure else 80)
    timeouts = request.timeout
    loop = asyncio.get_running_loop()
    # A call the engine can abort (cancelled, or the engine closing) even while it connects; a socket
    # connected after the caller went away is closed, never leaked.
    with _mapped_errors(request):
        sock = await _in_worker(
            engine._executor, loop, lambda: _connect(engine, host, port, timeouts.connect_timeout), engine._calls
        )
    context: ssl.SSLContext | None = None
    if secure:
        context = engine.__dict__.get("_websocket_tls")
        if context is None:
            context = engine.__dict__["_websocket_tls"] = create_ssl_context(engine.config, alpn=["http/1.1"])
    try:
        _, stream = await loop.create_connection(
            ProtocolStream,
            sock=sock,
            ssl=context,
            server_hostname=host if secure else None,
            ssl_handshake_timeout=timeouts.connect_timeout if secure else None,
        )
    except ssl.SSLError as exc:
        sock.close()
        raise TlsError(f"TLS handshake with {url.host} failed: {exc}") from exc
    except (asyncio.TimeoutError, TimeoutError) as exc:
        sock.close()
        raise ConnectTimeoutException(url, timeouts.connect_timeout, "TLS handshake timed out") from exc
    except OSError as exc:
        sock.close()
        raise ConnectError(f"Cannot connect to {url.host}:{port}: {exc}") from exc
    except BaseException:
        sock.close()
        raise
    return await handshake_over(stream, request, protocol, engine.config.max_response_head_size)


def _connect(engine: Urllib3Engine, host: str, port: int, timeout: float | None) -> socket.socket:
    """A connected TCP socket to the origin, through the engine's proxy (runs on a worker)."""
    proxy = engine.config.proxy
    tunnel = proxy is not None and proxy.type is ProxyType.HTTP
    # A plain-HTTP pool of the manager: direct, or through SOCKS (SOCKSProxyManager's connections).
    pool = engine._pool.connection_from_host(host, port, scheme="http")
    connection = pool._new_conn()
    connection.timeout = timeout if timeout is not None else socket.getdefaulttimeout()
    connection.connect()
    sock: socket.socket | None = getattr(connection, "sock", None)
    if sock is None:
        raise ConnectError(f"Cannot connect to {host}:{port}")
    setattr(connection, "sock", None)  # ours now: the pool never sees this connection again  # noqa: B010
    if tunnel:
        _tunnel(sock, host, port)
    sock.settimeout(None)
    sock.setblocking(False)
    return sock


def _tunnel(sock: socket.socket, host: str, port: int) -> None:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode("ascii"))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk or len(head) > 64 * 1024:
            sock.close()
            raise ConnectError(f"The proxy closed the tunnel to {authority}")
        head += chunk
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if len(status) < 2 or not status[1].startswith(b"2"):
        sock.close()
        raise ConnectError(f"The proxy refused the tunnel to {authority}: {head.splitlines()[0]!r}")
