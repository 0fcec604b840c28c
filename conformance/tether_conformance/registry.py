"""Cases: one shared body per case, run against every engine (Ktor's ClientLoader model).

    @case("redirects", "relative Location is resolved against the request URL")
    async def relative_redirect(t: CaseContext) -> None:
        async with t.client() as client:
            response = await client.get(t.env.http("/redirect?to=echo"))
            t.equal(response.status, 200)

A case that needs a capability lists it in `requires` (every capability it uses: `SSECapability` for
`client.sse`, `WebSocketCapability` for `client.websocket`, ...). On an engine that does not declare
one, the runner reports the case "unsupported" without running it; when the engine says a setting
turns the capability on (`capability_hint`, Curl's duplex streaming), the body runs and the case is
"unsupported" only if it raises `UnsupportedCapabilityError` for that capability before any I/O. A
case that meets `UnsupportedCapabilityError` for a capability it did not list FAILs: the suite's bug.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tether import HttpClient, HttpClientConfig, HttpResponse
from tether.engine import HttpClientEngineCapability, HttpClientEngineFactory
from tether.exceptions import UnsupportedCapabilityError
from tether.plugins import PluginBuilder, create_client_plugin
from tether.request import HttpRequestBuilder
from tether_conformance.servers import ServerEnvironment

__all__ = ["CASES", "Case", "CaseContext", "case", "class_names"]

E = TypeVar("E", bound=BaseException)

CaseBody = Callable[["CaseContext"], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    body: CaseBody
    requires: frozenset[HttpClientEngineCapability[Any]] = frozenset()
    timeout: float = 60.0

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


#: Every registered case, by id, in registration order.
CASES: dict[str, Case] = {}


def case(
    group: str,
    name: str,
    *,
    requires: Iterable[HttpClientEngineCapability[Any]] = (),
    timeout: float = 60.0,
) -> Callable[[CaseBody], CaseBody]:
    def register(body: CaseBody) -> CaseBody:
        registered = Case(group, name, body, frozenset(requires), timeout)
        if registered.id in CASES:
            raise ValueError(f"duplicate conformance case {registered.id}")
        CASES[registered.id] = registered
        return body

    return register


@dataclass
class _Required:
    capabilities: list[HttpClientEngineCapability[Any]] = field(default_factory=list)


@create_client_plugin("RequireCapabilities", _Required)
def RequireCapabilities(plugin: PluginBuilder[_Required]) -> None:
    """Marks every request as needing the listed capabilities (how a case asks for HTTP/2, say)."""
    capabilities = plugin.plugin_config.capabilities

    def mark(request: HttpRequestBuilder, content: object) -> None:
        for capability in capabilities:
            request.set_capability(capability, None)

    plugin.on_request(mark)


def class_names(*classes: type) -> list[str]:
    """How a message names each class: `ProtocolError` for tether's and the builtins, `module.Class`
    for any other (`urllib3.exceptions.ProtocolError`), and for every class whose short name another
    one here shares."""
    short = [cls.__qualname__ for cls in classes]
    names: list[str] = []
    for cls, name in zip(classes, short, strict=True):
        module = cls.__module__
        ours = module == "builtins" or module == "tether" or module.startswith("tether.")
        collides = sum(other == name for other in short) > 1 and len(set(classes)) > 1
        names.append(name if ours and not collides else f"{module}.{name}")
    return names


class CaseContext:
    """What a case body gets: the servers, and clients on the engine under test."""

    def __init__(self, env: ServerEnvironment, factory: HttpClientEngineFactory[Any]) -> None:
        self.env = env
        self.factory = factory
        self._clients: list[HttpClient] = []

    @property
    def engine_name(self) -> str:
        return self.factory.name

    def client(
        self,
        configure: Callable[[HttpClientConfig[Any]], None] | None = None,
        *,
        requires: Iterable[HttpClientEngineCapability[Any]] = (),
    ) -> HttpClient:
        """A client on the engine under test that trusts the suite's CA; closed after the case."""
        required = list(requires)

        def setup(config: HttpClientConfig[Any]) -> None:
            config.engine.ca_bundle = self.env.ca_file
            if required:
                config.install(RequireCapabilities, capabilities=required)
            if configure is not None:
                configure(config)

        client = HttpClient(self.factory, setup)
        self._clients.append(client)
        return client

    @property
    def engine_capabilities(self) -> frozenset[HttpClientEngineCapability[Any]] | None:
        """What the engine of the first client this case made declares (its config may opt in)."""
        return self._clients[0].engine.capabilities if self._clients else None

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    # -- checks -------------------------------------------------------------------------------------
    @staticmethod
    def equal(actual: object, expected: object, what: str = "value") -> None:
        if actual != expected:
            raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")

    @staticmethod
    def check(condition: bool, message: str) -> None:
        if not condition:
            raise AssertionError(message)

    @staticmethod
    async def raises(expected: type[E], action: Awaitable[object]) -> E:
        """Await `action`; it must raise exactly `expected` (not a subclass, not a parent).

        An `UnsupportedCapabilityError` passes through unchanged when something else was expected:
        the runner judges it (unsupported, or a case missing `requires=`), not the case."""
        try:
            result = await action
        except BaseException as exc:
            if type(exc) is not expected:
                if isinstance(exc, UnsupportedCapabilityError) and not issubclass(expected, UnsupportedCapabilityError):
                    raise
                wanted, got = class_names(expected, type(exc))
                raise AssertionError(f"expected {wanted}, got {got}: {exc}") from exc
            return exc
        if isinstance(result, HttpResponse):
            await result.aclose()
            raise AssertionError(f"expected {class_names(expected)[0]}, got a response {result.status}")
        raise AssertionError(f"expected {class_names(expected)[0]}, nothing was raised")

    @staticmethod
    async def json_of(response: HttpResponse) -> dict[str, Any]:
        document = json.loads(await response.body_as_bytes())
        if not isinstance(document, dict):
            raise AssertionError(f"expected a JSON object, got {document!r}")
        return document

    @staticmethod
    def header_names(echo: dict[str, Any]) -> list[str]:
        return [name.lower() for name, _ in echo["headers"]]

    @staticmethod
    def header_values(echo: dict[str, Any], name: str) -> list[str]:
        return [value for key, value in echo["headers"] if key.lower() == name.lower()]
