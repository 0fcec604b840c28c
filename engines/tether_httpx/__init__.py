"""The httpx engine: `HttpClient(Httpx, configure)`.

def configure(config: HttpClientConfig[HttpxConfig]) -> None:
    config.engine.http2 = True
"""

from tether.engine.factory import requires_extra

with requires_extra("tether_httpx", "httpx", "httpx", "h2"):
    from tether_httpx.engine import Httpx, HttpxConfig, HttpxEngine

__all__ = ["Httpx", "HttpxConfig", "HttpxEngine"]
