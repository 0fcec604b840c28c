"""The aiohttp engine: `HttpClient(Aiohttp, configure)`."""

from tether.engine.factory import requires_extra

with requires_extra("tether_aiohttp", "aiohttp", "aiohttp"):
    from tether_aiohttp.engine import Aiohttp, AiohttpConfig, AiohttpEngine

__all__ = ["Aiohttp", "AiohttpConfig", "AiohttpEngine"]
