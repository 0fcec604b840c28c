"""mkdocs hooks: tables generated from the code at build time, so the pages cannot drift from it.

- `<!-- tether:capabilities -->`: the capability matrix of every installed engine (default config).
- `<!-- tether:capabilities NAME -->`: one engine's capabilities, with the options that change them.
- `<!-- tether:exceptions -->`: the exception tree under `TetherError`.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tether.engine import HttpClientEngineCapability, HttpClientEngineFactory, discover_engines
from tether.engine import capabilities as markers
from tether.exceptions import TetherError

_MARKER = re.compile(r"<!-- tether:(capabilities|exceptions)(?: (\w+))? -->")
#: Options that widen an engine's capabilities beyond its default config: (engine, field, value).
_OPTIONS: list[tuple[str, str, Any]] = [("curl", "duplex_streaming_enabled", True)]

ALL = [
    markers.HttpTimeoutCapability,
    markers.SSECapability,
    markers.DuplexStreamingCapability,
    markers.Http2Capability,
    markers.Http3Capability,
    markers.ProxyCapability,
    markers.SocksProxyCapability,
    markers.WebSocketCapability,
]


def _capabilities(factory: HttpClientEngineFactory[Any], **settings: Any) -> frozenset[HttpClientEngineCapability[Any]]:
    async def probe() -> frozenset[HttpClientEngineCapability[Any]]:
        config = factory.create_config()
        for name, value in settings.items():
            setattr(config, name, value)
        engine = factory.create(config)
        try:
            return engine.capabilities
        finally:
            await engine.close()

    return asyncio.run(probe())


def capability_matrix() -> str:
    engines, _ = discover_engines()
    rows = ["| capability | " + " | ".join(f"`{f.name}`" for f in engines.values()) + " |"]
    rows.append("|---" * (len(engines) + 1) + "|")
    found = {name: _capabilities(factory) for name, factory in engines.items()}
    for capability in ALL:
        cells = []
        for name in engines:
            cell = "yes" if capability in found[name] else "no"
            for engine, option, value in _OPTIONS:
                if engine == name and cell == "no" and capability in _capabilities(engines[name], **{option: value}):
                    cell = f"with `{option}={value}`"
            cells.append(cell)
        rows.append(f"| `{capability}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def engine_capabilities(name: str) -> str:
    engines, failed = discover_engines()
    if name not in engines:
        raise RuntimeError(f"docs need the {name} engine installed: {failed.get(name, 'not registered')}")
    factory = engines[name]
    present = _capabilities(factory)
    lines = [f"Generated from `{factory.name}`'s declared capabilities (default config):", ""]
    for capability in ALL:
        if capability in present:
            lines.append(f"- `{capability}`: yes")
            continue
        extra = [
            f"with `{option}={value}`"
            for engine, option, value in _OPTIONS
            if engine == name and capability in _capabilities(factory, **{option: value})
        ]
        lines.append(f"- `{capability}`: {extra[0] if extra else 'no (`UnsupportedCapabilityError` before any I/O)'}")
    return "\n".join(lines)


def exception_tree() -> str:
    lines: list[str] = []

    def walk(cls: type[BaseException], depth: int) -> None:
        bases = [b.__name__ for b in cls.__bases__ if b is not TetherError and not issubclass(b, TetherError)]
        also = f" (also `{'`, `'.join(bases)}`)" if bases and cls is not TetherError else ""
        doc = (cls.__doc__ or "").strip().split("\n")[0]
        lines.append(f"{'    ' * depth}- `{cls.__name__}`{also}: {doc}")
        for sub in sorted(cls.__subclasses__(), key=lambda c: c.__name__):
            if sub.__module__.startswith("tether"):
                walk(sub, depth + 1)

    walk(TetherError, 0)
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "exceptions":
            return exception_tree()
        return engine_capabilities(match.group(2)) if match.group(2) else capability_matrix()

    return _MARKER.sub(replace, markdown)
