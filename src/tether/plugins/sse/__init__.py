"""Server-Sent Events: a WHATWG-exact parser, sessions with reconnection, diagnostic buffer policies.

config.install(SSE, buffer_policy=SSEBufferPolicy.last_events(10))
async with client.sse("https://api.example.com/stream") as session:
    async for event in session.incoming:
        print(event.event, event.data)
"""

from tether.plugins.sse.buffer import SSEBufferPolicy
from tether.plugins.sse.parser import DEFAULT_MAX_EVENT_SIZE, ServerSentEvent, SSEEventTooLargeError, SSEParser
from tether.plugins.sse.plugin import SSE
from tether.plugins.sse.session import SSEConfig, SSESession

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "SSE",
    "SSEBufferPolicy",
    "SSEConfig",
    "SSEEventTooLargeError",
    "SSEParser",
    "SSESession",
    "ServerSentEvent",
]
