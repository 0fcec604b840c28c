"""The SSE plugin: `config.install(SSE, buffer_policy=SSEBufferPolicy.last_events(10), ...)`, then
`client.sse(url)` / `client.sse_session(url)`."""

from __future__ import annotations

from tether.plugins.api import PluginBuilder, create_client_plugin
from tether.plugins.sse.session import SSE_OPTIONS, SSEConfig

__all__ = ["SSE"]


def _install(plugin: PluginBuilder[SSEConfig]) -> None:
    plugin.plugin_config.validate()  # bad settings fail when the client is built


SSE = create_client_plugin("SSE", SSEConfig, _install, call_options=SSE_OPTIONS)
