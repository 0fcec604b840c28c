"""The libcurl engine: `HttpClient(Curl, configure)`; CurlMulti on the asyncio loop.

def configure(config: HttpClientConfig[CurlConfig]) -> None:
    config.engine.http_version = HttpVersion.H2_PRIOR_KNOWLEDGE
    config.engine.duplex_streaming_enabled = True
"""

from tether_curl.engine import Curl, CurlConfig, CurlEngine, HttpVersion

__all__ = ["Curl", "CurlConfig", "CurlEngine", "HttpVersion"]
