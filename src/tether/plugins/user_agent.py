"""UserAgent: a `User-Agent` header on every request that has none.

config.install(UserAgent, agent="my-app/1.2 (+https://example.com)")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.plugins.api import PluginBuilder, create_client_plugin
from tether.request import HttpRequestBuilder

__all__ = ["UserAgent", "UserAgentConfig"]


def _default_agent() -> str:
    from tether import __version__

    return f"tether/{__version__}"


@dataclass
class UserAgentConfig:
    agent: str = field(default_factory=_default_agent)


def _install(plugin: PluginBuilder[UserAgentConfig]) -> None:
    agent = plugin.plugin_config.agent

    def add(request: HttpRequestBuilder, content: object) -> None:
        if "User-Agent" not in request.headers:
            request.headers["User-Agent"] = agent

    plugin.on_request(add)


UserAgent = create_client_plugin("UserAgent", UserAgentConfig, _install)
