"""The SSE plugin: `config.install(SSE, buffer_policy=SSEBufferPolicy.last_events(10), ...)`, then
`client.sse(url)` / `client.sse_session(url)`."""

from __future__ import annotations

from tether.plugins.api import PluginBuilder, create_client_plugin
from tether.plugins.sse.session import SSEConfig

__all__ = ["SSE"]


def _install(plugin: PluginBuilder[SSEConfig]) -> None:
    plugin.plugin_config.validate()  # bad settings fail when the client is built


# No call options: `client.sse(url, buffer_policy=...)` takes the SSE settings out before the request
# is built, so a plain `client.get(url, buffer_policy=...)` is refused as an unknown keyword.
SSE = create_client_plugin("SSE", SSEConfig, _install)
