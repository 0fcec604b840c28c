"""The configuration every engine understands (`HttpClientEngineConfig`) and proxy settings."""

from __future__ import annotations

import enum
import errno
import os
from concurrent.futures import Executor
from dataclasses import dataclass, field, fields

from yarl import URL

from tether.settings import check_field_types, unknown_name_error
from tether.url import parse_url

__all__ = ["HttpClientEngineConfig", "ProxyBuilder", "ProxyConfig", "ProxyType"]


class ProxyType(enum.Enum):
    HTTP = "http"
    SOCKS = "socks"


@dataclass(frozen=True)
class ProxyConfig:
    """Where to send requests instead of the origin. Build one with `ProxyBuilder`."""

    type: ProxyType
    url: URL

    def __str__(self) -> str:
        return f"{self.type.value} proxy {self.url}"


class ProxyBuilder:
    """`ProxyBuilder.http("http://proxy:3128")`, `ProxyBuilder.socks("127.0.0.1", 1080)`."""

    @staticmethod
    def http(url: str | URL) -> ProxyConfig:
        parsed = parse_url(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"An HTTP proxy URL needs http(s)://host[:port], got {url!r}")
        return ProxyConfig(ProxyType.HTTP, parsed)

    @staticmethod
    def socks(host: str, port: int) -> ProxyConfig:
        if not host or not 0 < port < 65536:
            raise ValueError(f"A SOCKS proxy needs a host and a port in 1..65535, got {host!r}:{port}")
        return ProxyConfig(ProxyType.SOCKS, URL.build(scheme="socks5", host=host, port=port))


#: Settings some engines have and others cannot honour: the hint says where to find them.
_UNSUPPORTED = {
    "http2": "This engine does not speak HTTP/2 (Httpx with http2=True and Curl do).",
    "http_version": "Only Curl chooses the HTTP version per engine (Httpx has http2=True).",
    "duplex_streaming_enabled": "Only Curl has this switch (Aiohttp streams duplex over HTTP/1.1 as it is).",
    "ssl_verify": "The setting every engine has is `verify`.",
}


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> frozenset[str]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return names


@dataclass
class HttpClientEngineConfig:
    """Settings every engine honours. Engine packages subclass it to add their own.

    `threads_count` and `executor` matter to engines that run blocking libraries (Urllib3); async
    engines ignore them. Connection limits bound the engine's pool; `0` means no limit per host.
    """

    #: Worker threads for engines that run blocking I/O (ignored when `executor` is given).
    threads_count: int = 4
    #: Advisory, as in Ktor: only engines that can pipeline HTTP/1.1 requests read it.
    pipelining: bool = False
    proxy: ProxyConfig | None = None
    #: Where blocking work runs (Ktor's dispatcher). None: the engine owns a pool of `threads_count`.
    executor: Executor | None = None
    #: Verify the server's TLS certificate and hostname.
    verify: bool = True
    #: A PEM file of CA certificates to trust instead of the system store.
    ca_bundle: str | None = None
    #: A client certificate: a PEM file holding cert and key, or (cert_file, key_file).
    client_cert: str | tuple[str, str] | None = None
    #: Open connections at most, over all hosts (100 in httpx and aiohttp too).
    max_connections: int = 100
    #: Open connections at most per host; 0 means only `max_connections` applies.
    max_connections_per_host: int = 0
    #: Seconds an idle keep-alive connection is kept in the pool.
    keep_alive_timeout: float = 15.0
    #: Seconds establishing a connection (TCP, TLS, proxy) may take when the request sets no connect
    #: timeout of its own (`HttpTimeout`); then `ConnectTimeoutException`. None: no limit.
    connect_timeout: float | None = 10.0
    #: Seconds from the start of a request to its complete response head (interim 1xx heads
    #: included); then `SocketTimeoutException`. Not applied to requests with a streamed body
    #: (uploads, duplex) nor to requests with their own `request_timeout`, which bounds the head
    #: too. None: no limit. Bodies and streams (SSE) are never limited by default.
    response_head_timeout: float | None = 60.0
    #: A response with more header lines than this is a `ProtocolError` (same limit on every engine).
    max_response_headers: int = 256
    #: A response head (all header names and values) larger than this is a `ProtocolError`.
    max_response_head_size: int = 64 * 1024
    extra: dict[str, object] = field(default_factory=dict, repr=False)

    def __setattr__(self, name: str, value: object) -> None:
        # A misspelt setting (`config.engine.verfy = False`) raises instead of being ignored.
        if not name.startswith("_") and name not in _field_names(type(self)):
            hint = _UNSUPPORTED.get(name, "")
            raise unknown_name_error(type(self).__name__, name, _field_names(type(self)), hint)
        object.__setattr__(self, name, value)

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field (called once the configure block ran)."""
        check_field_types(self, type(self).__name__)
        # A missing TLS file is one exception on every engine, raised here rather than by each library.
        cert = self.client_cert
        files = [("ca_bundle", self.ca_bundle)] + [
            ("client_cert", path) for path in ([cert] if isinstance(cert, str) else cert or ())
        ]
        for name, path in files:
            if path is not None and not os.path.isfile(path):
                raise FileNotFoundError(errno.ENOENT, f"{name}: no such file", path)
        if self.threads_count < 1:
            raise ValueError(f"threads_count must be >= 1, got {self.threads_count}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {self.max_connections}")
        if self.max_connections_per_host < 0:
            raise ValueError(f"max_connections_per_host must be >= 0, got {self.max_connections_per_host}")
        if self.keep_alive_timeout < 0:
            raise ValueError(f"keep_alive_timeout must be >= 0, got {self.keep_alive_timeout}")
        for name in ("connect_timeout", "response_head_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be None or > 0, got {value!r}")
        if self.max_response_headers < 1 or self.max_response_head_size < 1024:
            raise ValueError("max_response_headers must be >= 1 and max_response_head_size >= 1024")
        if self.proxy is not None and not isinstance(self.proxy, ProxyConfig):
            raise TypeError("proxy must be built with ProxyBuilder.http(...) or ProxyBuilder.socks(...)")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
