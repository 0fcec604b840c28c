"""`HttpClientConfig`: what the configure block of `HttpClient(engine, configure)` fills in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from tether.engine.config import HttpClientEngineConfig
from tether.plugins.api import ClientPlugin
from tether.settings import check_field_types, type_error, unknown_name_error

__all__ = ["HttpClientConfig", "PluginInstallation"]

C = TypeVar("C", bound=HttpClientEngineConfig)
P = TypeVar("P")

#: Ktor's HttpSend default: more sends than this for one call is a loop.
DEFAULT_MAX_SEND_COUNT = 20


@dataclass
class PluginInstallation:
    """One plugin as configured: the configuration steps are applied in order to one config object."""

    plugin: ClientPlugin[Any]
    steps: list[Callable[[Any], None]] = field(default_factory=list)

    def build_config(self) -> Any:
        config = self.plugin.config_factory()
        before = set(getattr(config, "__dict__", ()))
        for step in self.steps:
            step(config)
        # A configure block assigns plain attributes: a misspelt one would be silently ignored.
        added = [name for name in getattr(config, "__dict__", ()) if name not in before and not name.startswith("_")]
        if added:
            valid = self.plugin.valid_fields()
            for name in added:
                if name not in valid:
                    raise unknown_name_error(f"{self.plugin.name} config", name, valid)
        check_field_types(config, self.plugin.name)
        return config


def _check_install_arguments(method: str, plugin: object, block: object) -> None:
    """TypeError for `install(int)`, `install("HttpTimeout")` or `install(HttpTimeout, 10)`, saying
    what `install` takes instead of failing later on a missing attribute."""
    usage = (
        f"config.{method}() takes a plugin object, then its settings as keywords or a function that "
        f"configures it: config.{method}(HttpTimeout, request_timeout=10) or "
        f'config.{method}(HttpTimeout, lambda timeout: setattr(timeout, "request_timeout", 10))'
    )
    if not isinstance(plugin, ClientPlugin):
        if isinstance(plugin, str):
            import tether.plugins

            known = isinstance(getattr(tether.plugins, plugin, None), ClientPlugin)
            source = f"from tether.plugins import {plugin}" if known else "import it from its module"
            got = f"the string {plugin!r}: pass the plugin object itself ({source})"
        elif isinstance(plugin, type):
            got = f"the class {plugin.__qualname__}"
        else:
            got = f"{type(plugin).__name__} {plugin!r}"
        raise TypeError(f"{usage}; got {got}")
    if block is not None and not callable(block):
        raise TypeError(
            f"{usage}; the second argument must be a function taking the {plugin.name} config, "
            f"got {type(block).__name__} {block!r} (settings go as keywords)"
        )


def _configuration_step(
    plugin: ClientPlugin[P], block: Callable[[P], None] | None, fields: dict[str, Any], method: str = "install"
) -> Callable[[P], None]:
    _check_install_arguments(method, plugin, block)
    plugin.check_fields(fields)

    def step(config: P) -> None:
        for name, value in fields.items():
            setattr(config, name, value)
        if block is not None:
            block(config)

    return step


class HttpClientConfig(Generic[C]):
    """Client configuration: the engine's typed config, installed plugins and client-wide flags.

    >>> def configure(config: HttpClientConfig[HttpClientEngineConfig]) -> None:
    ...     config.expect_success = True
    ...     config.default_request(url="https://api.example.com/v1/")
    """

    #: The settings a configure block may assign, with their types (anything else raises, naming these).
    _SETTINGS: ClassVar[dict[str, type]] = {
        "engine": HttpClientEngineConfig,
        "expect_success": bool,
        "follow_redirects": bool,
        "max_send_count": int,
    }

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_"):
            kind = self._SETTINGS.get(name)
            if kind is None:
                raise unknown_name_error("HttpClientConfig", name, self._SETTINGS)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise type_error("HttpClientConfig", name, value, kind)
        object.__setattr__(self, name, value)

    def __init__(self, engine: C) -> None:
        #: The engine's typed config (e.g. `AiohttpConfig`); ignored when the engine already exists.
        self.engine: C = engine
        #: Raise `ResponseException` subclasses for 3xx (unfollowed), 4xx and 5xx responses.
        self.expect_success: bool = False
        #: Install `HttpRedirect` (first, before the user's plugins).
        self.follow_redirects: bool = True
        #: Sends allowed per call (redirects, retries and auth re-sends count).
        self.max_send_count: int = DEFAULT_MAX_SEND_COUNT
        self._installations: dict[ClientPlugin[Any], PluginInstallation] = {}

    # -- plugins ----------------------------------------------------------------------------------
    def install(self, plugin: ClientPlugin[P], block: Callable[[P], None] | None = None, **fields: Any) -> None:
        """Install `plugin`, or add one more configuration step when it is installed already.

        Steps run in order on one config object (Ktor semantics: blocks chain). Keyword fields are
        set before the block runs; an unknown field raises TypeError naming the valid ones.
        """
        step = _configuration_step(plugin, block, fields)
        installation = self._installations.get(plugin)
        if installation is None:
            self._installations[plugin] = PluginInstallation(plugin, [step])
        else:
            installation.steps.append(step)

    def install_or_replace(
        self, plugin: ClientPlugin[P], block: Callable[[P], None] | None = None, **fields: Any
    ) -> None:
        """Install `plugin` with this configuration only, dropping earlier ones; its position in the
        install order does not change."""
        step = _configuration_step(plugin, block, fields, "install_or_replace")
        installation = self._installations.get(plugin)
        if installation is None:
            self._installations[plugin] = PluginInstallation(plugin, [step])
        else:
            installation.steps = [step]

    def is_installed(self, plugin: ClientPlugin[Any]) -> bool:
        return plugin in self._installations

    @property
    def installations(self) -> list[PluginInstallation]:
        """The installed plugins, in the order they were first installed."""
        return list(self._installations.values())

    def default_request(
        self, block: Callable[[Any], None] | None = None, *, replace: bool = False, **fields: Any
    ) -> None:
        """Defaults for every request: `url` (a base URL), `headers`, `params`, `cookies`, or a block
        receiving a `DefaultRequestBuilder`. Calls merge unless `replace=True`, which drops earlier
        defaults (useful in `client.config(...)`)."""
        from tether.plugins.default_request import DefaultRequest

        if replace:
            self.install_or_replace(DefaultRequest, block, **fields)
        else:
            self.install(DefaultRequest, block, **fields)

    # -- composition ------------------------------------------------------------------------------
    def copy(self) -> HttpClientConfig[C]:
        """A copy for `client.config(...)`: same engine config, same steps, none re-applied."""
        clone: HttpClientConfig[C] = HttpClientConfig(self.engine)
        clone.expect_success = self.expect_success
        clone.follow_redirects = self.follow_redirects
        clone.max_send_count = self.max_send_count
        clone._installations = {
            plugin: PluginInstallation(plugin, list(installation.steps))
            for plugin, installation in self._installations.items()
        }
        return clone

    def validate(self) -> None:
        if self.max_send_count < 1:
            raise ValueError(f"max_send_count must be >= 1, got {self.max_send_count}")
