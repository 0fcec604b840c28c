"""An HTTP forward proxy (absolute-form requests and CONNECT) and a SOCKS5 proxy (no auth, CONNECT)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter], b: tuple[asyncio.StreamReader, asyncio.StreamWriter]
) -> None:
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


class _Server:
    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class HttpProxy(_Server):
    """Forwards `GET http://host:port/path` (adding `Via: 1.1 tether-proxy`) and tunnels CONNECT."""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        request_line, _, rest = head.partition(b"\r\n")
        method, target, http_version = request_line.decode("latin-1").split(" ", 2)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = await asyncio.open_connection(host.strip("[]"), int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _splice((reader, writer), upstream)
            return
        if not target.startswith("http://"):
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        authority, _, path = target.removeprefix("http://").partition("/")
        host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "80")
        upstream = await asyncio.open_connection(host.strip("[]"), int(port))
        lines = [line for line in rest.split(b"\r\n") if line and not line.lower().startswith(b"proxy-")]
        forwarded = (
            f"{method} /{path} {http_version}\r\n".encode()
            + b"\r\n".join([*lines, b"Via: 1.1 tether-proxy", b"Connection: close"])
            + b"\r\n\r\n"
        )
        upstream[1].write(forwarded)
        await upstream[1].drain()
        await _splice((reader, writer), upstream)


class Socks5Proxy(_Server):
    """RFC 1928 without authentication, CONNECT only."""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            _, count = await reader.readexactly(2)
            await reader.readexactly(count)
            writer.write(b"\x05\x00")
            await writer.drain()
            _version, command, _, address_type = await reader.readexactly(4)
            if address_type == 1:
                host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
            elif address_type == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
            (port,) = struct.unpack("!H", await reader.readexactly(2))
            if command != 1:
                writer.write(b"\x05\x07\x00\x01" + b"\x00" * 6)
                writer.close()
                return
            try:
                upstream = await asyncio.open_connection(host, port)
            except OSError:
                writer.write(b"\x05\x05\x00\x01" + b"\x00" * 6)
                writer.close()
                return
            writer.write(b"\x05\x00\x00\x01" + b"\x7f\x00\x00\x01" + struct.pack("!H", port))
            await writer.drain()
            await _splice((reader, writer), upstream)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
