"""Starts and stops every server the cases need, on a private event loop in a background thread
(so blocking engines and the client's own loop never share a loop with the servers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import tempfile
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tether_conformance.servers.app import Counter, make_app
from tether_conformance.servers.h2faults import H2FaultServer
from tether_conformance.servers.proxy import HttpProxy, Socks5Proxy
from tether_conformance.servers.raw import RawServer
from tether_conformance.servers.websocket import WebSocketServer

T = TypeVar("T")

__all__ = ["ServerEnvironment"]


def _udp_socket() -> tuple[int, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    return sock.detach(), port


def _listening_socket() -> tuple[int, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    return sock.detach(), port


@dataclass
class Certificates:
    directory: Path
    ca_file: str
    server_cert: str
    server_key: str


class ServerEnvironment:
    """Everything on loopback. Use as a context manager, or `start()`/`stop()`.

    - `http`: hypercorn, HTTP/1.1 and h2c on one cleartext port
    - `https`: hypercorn over TLS (ALPN h2 and http/1.1), certificate for 127.0.0.1/localhost
    - `raw`: the raw-socket server (`/raw/<name>`)
    - `untrusted_tls` / `wrong_host_tls`: TLS servers whose certificate must be rejected
    - `http_proxy`, `socks_proxy`; `blackhole`: a port whose connections are never accepted
    - `h2_faults`: an HTTP/2 server (TLS, ALPN h2) for malformed heads, GOAWAY and stream resets
    """

    def __init__(self) -> None:
        self.counter = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tether-conformance-servers", daemon=True)
        self._shutdown: asyncio.Event | None = None
        self._serving: asyncio.Future[None] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="tether-conformance-")
        self.raw = RawServer(self.counter)
        self.untrusted_tls = RawServer(self.counter)
        self.wrong_host_tls = RawServer(self.counter)
        self.http_proxy = HttpProxy()
        self.socks_proxy = Socks5Proxy()
        self.websocket = WebSocketServer(self.counter)
        self.websocket_tls = WebSocketServer(self.counter)
        self.h2_faults = H2FaultServer(self.counter)
        self.http_port = self.https_port = self.http3_port = self.blackhole_port = 0
        self._blackhole: list[socket.socket] = []
        self.certificates: Certificates

    # -- URLs ---------------------------------------------------------------------------------------
    def http(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def https(self, path: str = "/", host: str = "localhost") -> str:
        return f"https://{host}:{self.https_port}{path}"

    def http3(self, path: str = "/", host: str = "localhost") -> str:
        """HTTP/3 over QUIC (UDP), served by hypercorn with the same certificate as `https`."""
        return f"https://{host}:{self.http3_port}{path}"

    def ws(self, name: str, *, tls: bool = False) -> str:
        """The behaviour WebSocket server (`servers/websocket.py`): `ws(f"echo?subprotocol=chat")`."""
        if tls:
            return f"wss://localhost:{self.websocket_tls.port}/ws/{name}"
        return f"ws://127.0.0.1:{self.websocket.port}/ws/{name}"

    def raw_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.raw.port}/raw/{name}"

    @property
    def ca_file(self) -> str:
        return self.certificates.ca_file

    @property
    def requests_seen(self) -> int:
        """Requests that reached any server (the runner's "was there any I/O?" probe)."""
        return self.counter.requests + self.http_proxy.connections + self.socks_proxy.connections

    # -- lifecycle ----------------------------------------------------------------------------------
    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> ServerEnvironment:
        self._thread.start()
        self.certificates = self._make_certificates()
        self.run(self._start())
        return self

    def _make_certificates(self) -> Certificates:
        directory = Path(self._tmp.name)
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        server = ca.issue_cert("127.0.0.1", "localhost", "::1")
        server.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
        for extra in server.cert_chain_pems[1:]:
            extra.write_to_path(str(directory / "server.pem"), append=True)
        server.private_key_pem.write_to_path(str(directory / "server.key"))
        self._wrong_host = ca.issue_cert("wrong-host.example")
        self._untrusted = trustme.CA().issue_cert("127.0.0.1", "localhost")
        return Certificates(
            directory, str(directory / "ca.pem"), str(directory / "server.pem"), str(directory / "server.key")
        )

    async def _start(self) -> None:
        plain_fd, self.http_port = _listening_socket()
        tls_fd, self.https_port = _listening_socket()
        quic_fd, self.http3_port = _udp_socket()
        config = Config()
        config.bind = [f"fd://{tls_fd}"]
        config.insecure_bind = [f"fd://{plain_fd}"]
        config.quic_bind = [f"fd://{quic_fd}"]  # HTTP/3 (aioquic), same certificate
        config.certfile = self.certificates.server_cert
        config.keyfile = self.certificates.server_key
        config.accesslog = None
        config.errorlog = None
        config.include_server_header = False
        config.h11_max_incomplete_size = 64 * 1024
        config.keep_alive_timeout = 30
        self._shutdown = asyncio.Event()
        app: Any = make_app(self.counter)  # hypercorn's ASGI types are stricter than this plain app
        self._serving = asyncio.ensure_future(serve(app, config, shutdown_trigger=self._shutdown.wait))
        await self.raw.start()
        await self.websocket.start()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.certificates.server_cert, self.certificates.server_key)
        await self.websocket_tls.start(ssl_context=tls)
        h2_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        h2_tls.load_cert_chain(self.certificates.server_cert, self.certificates.server_key)
        await self.h2_faults.start(h2_tls)
        await self.untrusted_tls.start(ssl_context=self._server_context(self._untrusted))
        await self.wrong_host_tls.start(ssl_context=self._server_context(self._wrong_host))
        await self.http_proxy.start()
        await self.socks_proxy.start()
        self._start_blackhole()
        await self._wait_until_listening(self.http_port)

    def _server_context(self, cert: trustme.LeafCert) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def _start_blackhole(self) -> None:
        # A listener with a full accept queue that never accepts: SYNs go unanswered, so a connect
        # attempt hangs until the client's connect timeout fires. Loopback only.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        self.blackhole_port = listener.getsockname()[1]
        self._blackhole.append(listener)
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                filler.connect(("127.0.0.1", self.blackhole_port))
            self._blackhole.append(filler)

    async def _wait_until_listening(self, port: int) -> None:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            return
        raise RuntimeError(f"hypercorn did not start listening on port {port}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self._stop(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        for sock in self._blackhole:
            sock.close()
        self._tmp.cleanup()

    async def _stop(self) -> None:
        if self._shutdown is not None:
            self._shutdown.set()
        for server in (
            self.raw,
            self.websocket,
            self.websocket_tls,
            self.h2_faults,
            self.untrusted_tls,
            self.wrong_host_tls,
            self.http_proxy,
            self.socks_proxy,
        ):
            await server.stop()
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serving, 5)

    def __enter__(self) -> ServerEnvironment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
