"""The urllib3 engine: `HttpClient(Urllib3, configure)`; blocking I/O on worker threads."""

from tether.engine.factory import requires_extra

with requires_extra("tether_urllib3", "urllib3", "urllib3"):
    from tether_urllib3.engine import Urllib3, Urllib3Config, Urllib3Engine

__all__ = ["Urllib3", "Urllib3Config", "Urllib3Engine"]
