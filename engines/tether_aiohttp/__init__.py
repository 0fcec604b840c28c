"""The aiohttp engine: `HttpClient(Aiohttp, configure)`."""

from tether_aiohttp.engine import Aiohttp, AiohttpConfig, AiohttpEngine

__all__ = ["Aiohttp", "AiohttpConfig", "AiohttpEngine"]
