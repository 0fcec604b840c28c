"""The libcurl engine: `HttpClient(Curl, configure)`; CurlMulti on the asyncio loop.

def configure(config: HttpClientConfig[CurlConfig]) -> None:
    config.engine.http_version = HttpVersion.H2_PRIOR_KNOWLEDGE
    config.engine.duplex_streaming_enabled = True
"""

from tether.engine.factory import requires_extra

with requires_extra("tether_curl", "curl", "pycurl"):
    from tether_curl.engine import Curl, CurlConfig, CurlEngine, HttpVersion

__all__ = ["Curl", "CurlConfig", "CurlEngine", "HttpVersion"]
