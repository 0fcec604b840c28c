"""HttpTimeout: request, connect and socket timeouts, the same on every engine.

- `request_timeout`: the whole call (sending, waiting, reading the body when the call reads it) ->
  `HttpRequestTimeoutException`. Enforced here, centrally. Not applied to SSE and WebSocket sessions;
  a `timeout=` given to a session's own call bounds reaching the session (up to its response head).
- `connect_timeout`: establishing the connection (TCP and TLS) -> `ConnectTimeoutException`.
- `socket_timeout`: the longest wait for one read or write -> `SocketTimeoutException`.
  Both are handed to the engine through `HttpTimeoutCapability`; each engine enforces them.

Values are seconds; None means no limit; zero or negative values are rejected. A request overrides
with `timeout=`: a number (request timeout) or an `HttpTimeoutConfig` whose non-None fields win.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from tether.engine.capabilities import (
    HttpTimeoutCapability,
    HttpTimeoutConfig,
    SSECapability,
    WebSocketCapability,
)
from tether.exceptions import HttpRequestTimeoutException, TetherError
from tether.plugins.api import PluginBuilder, Send, Sender, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = ["HttpTimeout", "HttpTimeoutPluginConfig", "TimeoutSetting"]

TimeoutSetting = float | HttpTimeoutConfig | None


def _positive(name: str, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise ValueError(f"Only positive timeout values are allowed, {name}={value!r}")
    return value


@dataclass
class HttpTimeoutPluginConfig:
    request_timeout: float | None = None
    connect_timeout: float | None = None
    socket_timeout: float | None = None

    def resolve(self, override: TimeoutSetting) -> HttpTimeoutConfig:
        """The timeouts for one request: the request's own values win, the plugin's fill the gaps."""
        base = HttpTimeoutConfig(
            _positive("request_timeout", self.request_timeout),
            _positive("connect_timeout", self.connect_timeout),
            _positive("socket_timeout", self.socket_timeout),
        )
        if override is None:
            return base
        if isinstance(override, HttpTimeoutConfig):
            return HttpTimeoutConfig(
                override.request_timeout if override.request_timeout is not None else base.request_timeout,
                override.connect_timeout if override.connect_timeout is not None else base.connect_timeout,
                override.socket_timeout if override.socket_timeout is not None else base.socket_timeout,
            )
        if isinstance(override, bool) or not isinstance(override, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or an HttpTimeoutConfig, got {override!r}")
        return replace(base, request_timeout=_positive("timeout", float(override)))


def _install(plugin: PluginBuilder[HttpTimeoutPluginConfig]) -> None:
    config = plugin.plugin_config
    config.resolve(None)  # reject bad values at client construction, not at the first request

    async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
        override: TimeoutSetting = request.call_options.get("timeout")
        if override is None:
            override = request.get_capability(HttpTimeoutCapability)
        timeouts = config.resolve(override)
        streaming_session = SSECapability in request.capabilities or WebSocketCapability in request.capabilities
        if streaming_session and request.call_options.get("timeout") is None:
            # A session may be quiet for minutes: only the connect timeout applies unless asked per call.
            timeouts = replace(timeouts, request_timeout=None, socket_timeout=None)
        request.set_capability(HttpTimeoutCapability, timeouts)
        limit = timeouts.request_timeout
        if limit is None:
            return await sender.proceed(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        url = request.url

        def expired() -> HttpRequestTimeoutException:
            return HttpRequestTimeoutException(url, limit)

        try:
            response = await asyncio.wait_for(sender.proceed(request), limit)
        except TetherError:
            raise  # an engine's own ConnectTimeout/SocketTimeout is also a TimeoutError: keep it
        except asyncio.TimeoutError:
            raise expired() from None
        if not streaming_session:  # a session's per-call limit bounds reaching it, not its stream
            response.set_deadline(deadline, expired)
        return response

    plugin.on(Send, send)


HttpTimeout = create_client_plugin("HttpTimeout", HttpTimeoutPluginConfig, _install, call_options=("timeout",))
