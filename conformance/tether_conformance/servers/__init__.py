"""The servers the suite starts on loopback: hypercorn (HTTP/1.1, h2c, HTTP/2 over TLS), a raw-socket
server for malformed responses, TLS servers with bad certificates, an HTTP proxy and a SOCKS5 proxy."""

from tether_conformance.servers.environment import ServerEnvironment

__all__ = ["ServerEnvironment"]
