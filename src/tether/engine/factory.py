"""Engine factories and default-engine discovery through the `tether.engines` entry points."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from tether.engine.base import HttpClientEngine
from tether.engine.config import HttpClientEngineConfig
from tether.exceptions import EngineNotFoundError

__all__ = [
    "ENGINE_ENTRY_POINT_GROUP",
    "ENGINE_PRIORITY",
    "EngineFactory",
    "HttpClientEngineFactory",
    "default_engine_factory",
    "engine_factory_named",
    "requires_extra",
    "discover_engines",
]

C = TypeVar("C", bound=HttpClientEngineConfig)
E = TypeVar("E", bound=HttpClientEngine)

ENGINE_ENTRY_POINT_GROUP = "tether.engines"
#: `HttpClient()` takes the first installed engine in this order, then any other alphabetically.
#: Curl first: it is the fastest and speaks HTTP/2 and HTTP/3; urllib3 last: it blocks worker threads.
ENGINE_PRIORITY = ("curl", "aiohttp", "httpx", "urllib3")


class HttpClientEngineFactory(ABC, Generic[C]):
    """Makes an engine from its typed config. `HttpClient(factory, configure)` creates the config,
    lets `configure` fill `config.engine`, then calls `create`."""

    name: str

    @abstractmethod
    def create_config(self) -> C: ...

    @abstractmethod
    def create(self, config: C) -> HttpClientEngine: ...

    def __call__(self, *args: object, **kwargs: object) -> Any:
        # `HttpClient(Aiohttp())` is a common first guess: say what to do instead.
        raise TypeError(
            f"{self.name} is an engine factory, not a class to call: pass it as it is, "
            f"HttpClient({self.name}, configure), and set engine options in configure "
            f"(config.engine.<option> = ...), or preset them with {self.name}.config(block). To share one "
            f"engine between clients, pass an engine instance: {self.name}.create({self.name}.create_config())"
        )

    def config(self, block: Callable[[C], None]) -> HttpClientEngineFactory[C]:
        """A factory that applies `block` before the client's own engine configuration (Ktor's
        `factory.config { }`)."""
        return _PresetFactory(self, block)

    def __repr__(self) -> str:
        return self.name


class EngineFactory(HttpClientEngineFactory[C], Generic[C, E]):
    """The usual factory: `EngineFactory("Httpx", HttpxEngine, HttpxConfig)`."""

    def __init__(self, name: str, engine_type: Callable[[C], E], config_type: Callable[[], C]) -> None:
        self.name = name
        self._engine_type = engine_type
        self._config_type = config_type

    def create_config(self) -> C:
        return self._config_type()

    def create(self, config: C) -> E:
        config.validate()
        return self._engine_type(config)


class _PresetFactory(HttpClientEngineFactory[C]):
    def __init__(self, inner: HttpClientEngineFactory[C], block: Callable[[C], None]) -> None:
        self.name = inner.name
        self._inner = inner
        self._block = block

    def create_config(self) -> C:
        config = self._inner.create_config()
        self._block(config)
        return config

    def create(self, config: C) -> HttpClientEngine:
        return self._inner.create(config)


@contextlib.contextmanager
def requires_extra(package: str, extra: str, *libraries: str) -> Iterator[None]:
    """Wrap an engine package's imports: a missing library becomes an ImportError naming the extra
    that installs it (`pip install 'tether[aiohttp]'`)."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in libraries:
            raise
        raise ModuleNotFoundError(
            f"{package} needs {exc.name}, which is not installed: pip install 'tether[{extra}]'", name=exc.name
        ) from exc


def discover_engines() -> tuple[dict[str, HttpClientEngineFactory[Any]], dict[str, str]]:
    """Every engine registered under `tether.engines` that imports, in priority order, and the
    reason each one that did not import failed (usually: its extra is not installed)."""
    loaded: dict[str, HttpClientEngineFactory[Any]] = {}
    failed: dict[str, str] = {}
    points = {point.name: point for point in entry_points(group=ENGINE_ENTRY_POINT_GROUP)}
    order = [name for name in ENGINE_PRIORITY if name in points]
    order += sorted(name for name in points if name not in ENGINE_PRIORITY)
    for name in order:
        try:
            factory = points[name].load()
        except ImportError as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
            continue
        if not isinstance(factory, HttpClientEngineFactory):
            failed[name] = f"entry point {points[name].value} is not an HttpClientEngineFactory"
            continue
        loaded[name] = factory
    return loaded, failed


def engine_factory_named(name: str) -> HttpClientEngineFactory[Any]:
    """The installed engine registered as `name` (`HttpClient("httpx")`); EngineNotFoundError naming
    the installed ones otherwise."""
    loaded, failed = discover_engines()
    factory = loaded.get(name) or loaded.get(name.lower())
    if factory is not None:
        return factory
    why = f" ({failed[name.lower()]})" if name.lower() in failed else ""
    raise EngineNotFoundError(
        f"No engine named {name!r} is installed{why}. Installed: {', '.join(loaded) or 'none'}. "
        f"Pass a name from that list, or the factory itself: from tether_aiohttp import Aiohttp; HttpClient(Aiohttp)"
    )


def default_engine_factory() -> HttpClientEngineFactory[Any]:
    """The engine `HttpClient()` uses when none is given."""
    loaded, failed = discover_engines()
    if loaded:
        return next(iter(loaded.values()))
    detail = "; ".join(f"{name}: {why}" for name, why in failed.items())
    raise EngineNotFoundError(
        "No tether engine is installed: install one, e.g. pip install 'tether[aiohttp]' "
        "(or httpx, curl, urllib3), or pass an engine factory to HttpClient(...)"
        + (f". Engines that failed to load: {detail}" if detail else "")
    )
