"""Writing plugins: `create_client_plugin`, the hooks, and `AttributeKey`-based per-call state.

    @create_client_plugin("CustomHeader", CustomHeaderConfig)
    def CustomHeader(plugin: PluginBuilder[CustomHeaderConfig]) -> None:
        value = plugin.plugin_config.value
        plugin.on_request(lambda request, content: request.headers.__setitem__("X-Custom", value))

Where each handler runs (in install order within a stage):

- `on(SetupRequest, h)`: first of all, once per call (DefaultRequest lives here).
- `on_request(h)`: once per call, after setup; redirects and retries do not run it again.
- `transform_request_body(h)`: once per call while the body is not yet `OutgoingContent`.
- `on(Send, h)`: wraps sending; `await sender.proceed(request)` may be called more than once
  (redirects, retries, auth). The first installed plugin is the outermost.
- `on(SendingRequest, h)`: before every real send, every hop included.
- `on_response(h)`: after every real send, every hop included.
- `transform_response_body(h)`: when the body is read with `response.body(Type)`.
- `on_close(h)`: when the client closes.
- `on(MonitoringEvent(HttpResponseReceived), h)`: subscribes `h` to a client event (`tether.events`);
  the same as `plugin.client.monitor.subscribe(HttpResponseReceived, h)`.

Handlers may be plain functions or coroutines.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, Union, overload

from tether.attributes import AttributeKey
from tether.channel import ByteReadChannel
from tether.content import OutgoingContent
from tether.events import ClientEvent, EventHandler
from tether.request import HttpRequestBuilder

if TYPE_CHECKING:
    from tether.client import HttpClient
    from tether.response import HttpResponse

__all__ = [
    "AttributeKey",
    "ClientHook",
    "ClientPlugin",
    "MonitoringEvent",
    "PluginBuilder",
    "Send",
    "Sender",
    "SendingRequest",
    "SetupRequest",
    "create_client_plugin",
]

C = TypeVar("C")
H = TypeVar("H")
E = TypeVar("E", bound=ClientEvent)

MaybeAwaitable = Union[Awaitable[None], None]
SetupRequestHandler = Callable[[HttpRequestBuilder], MaybeAwaitable]
OnRequestHandler = Callable[[HttpRequestBuilder, object], MaybeAwaitable]
SendingRequestHandler = Callable[[HttpRequestBuilder, OutgoingContent], MaybeAwaitable]
TransformRequestBodyHandler = Callable[
    [HttpRequestBuilder, object, type | None],
    Awaitable[OutgoingContent | None] | OutgoingContent | None,
]
OnResponseHandler = Callable[["HttpResponse"], MaybeAwaitable]
#: Returns the converted body, or `NOT_HANDLED` when the requested type is not this plugin's business.
TransformResponseBodyHandler = Callable[["HttpResponse", ByteReadChannel, type], Awaitable[object] | object]
OnCloseHandler = Callable[[], MaybeAwaitable]


class _NotHandled:
    def __repr__(self) -> str:
        return "NOT_HANDLED"


#: What a `transform_response_body` handler returns for a type it does not convert.
NOT_HANDLED: Any = _NotHandled()


class Sender:
    """Passed to `Send` handlers; `proceed(request)` sends the request on towards the engine and returns
    an awaitable of the response. It may be called more than once."""

    __slots__ = ("proceed",)

    def __init__(self, next_: Callable[[HttpRequestBuilder], Awaitable[HttpResponse]]) -> None:
        # The next sender itself, not a method calling it: no Python frame per hop.
        self.proceed: Callable[[HttpRequestBuilder], Awaitable[HttpResponse]] = next_


SendHandler = Callable[[Sender, HttpRequestBuilder], Awaitable["HttpResponse"]]


class ResponseSend:
    """A `Send` handler that only acts on the response `proceed` gives back, as redirects and
    validation do: `passes(request, response)` says, without awaiting anything, that the handler
    returns that response as it is; `follow(sender, request, response)` does what the handler does
    with any other (it may proceed again). Called like any `Send` handler, it does exactly that; the
    client also sends through a run of them with one coroutine in all, instead of one per handler.

    It must not catch what `proceed` raises: a handler that does is a plain `Send` handler."""

    __slots__ = ("follow", "passes")

    def __init__(
        self,
        passes: Callable[[HttpRequestBuilder, HttpResponse], bool],
        follow: Callable[[Sender, HttpRequestBuilder, HttpResponse], Awaitable[HttpResponse]],
    ) -> None:
        self.passes = passes
        self.follow = follow

    async def __call__(self, sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
        response = await sender.proceed(request)
        if self.passes(request, response):
            return response
        return await self.follow(sender, request, response)


class ClientHook(Generic[H]):
    """A place in the pipeline a plugin can attach a handler of type `H` to with `plugin.on(...)`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


class MonitoringEvent(ClientHook[EventHandler[E]]):
    """`plugin.on(MonitoringEvent(HttpRequestCreated), handler)`: subscribe to a client event from a
    plugin body (Ktor's `on(MonitoringEvent(...))`). See `tether.events`."""

    __slots__ = ("event",)

    def __init__(self, event: type[E]) -> None:
        super().__init__(f"MonitoringEvent({event.__name__})")
        self.event = event


SetupRequest: ClientHook[SetupRequestHandler] = ClientHook("SetupRequest")
Send: ClientHook[SendHandler] = ClientHook("Send")
SendingRequest: ClientHook[SendingRequestHandler] = ClientHook("SendingRequest")


@dataclass
class PluginHandlers:
    """Everything one installed plugin registered."""

    setup_request: list[SetupRequestHandler] = field(default_factory=list)
    on_request: list[OnRequestHandler] = field(default_factory=list)
    transform_request_body: list[TransformRequestBodyHandler] = field(default_factory=list)
    send: list[SendHandler] = field(default_factory=list)
    sending_request: list[SendingRequestHandler] = field(default_factory=list)
    on_response: list[OnResponseHandler] = field(default_factory=list)
    transform_response_body: list[TransformResponseBodyHandler] = field(default_factory=list)
    on_close: list[OnCloseHandler] = field(default_factory=list)


class PluginBuilder(Generic[C]):
    """What a plugin body receives: the client, its finished config, and the handler registry."""

    def __init__(self, client: HttpClient, plugin_config: C, plugin: ClientPlugin[C]) -> None:
        self.client = client
        self.plugin_config = plugin_config
        self.plugin = plugin
        self.handlers = PluginHandlers()

    def on_request(self, handler: OnRequestHandler) -> None:
        self.handlers.on_request.append(handler)

    def on_response(self, handler: OnResponseHandler) -> None:
        self.handlers.on_response.append(handler)

    def transform_request_body(self, handler: TransformRequestBodyHandler) -> None:
        self.handlers.transform_request_body.append(handler)

    def transform_response_body(self, handler: TransformResponseBodyHandler) -> None:
        self.handlers.transform_response_body.append(handler)

    def on_close(self, handler: OnCloseHandler) -> None:
        self.handlers.on_close.append(handler)

    @overload
    def on(self, hook: MonitoringEvent[E], handler: EventHandler[E]) -> None: ...
    @overload
    def on(self, hook: ClientHook[SetupRequestHandler], handler: SetupRequestHandler) -> None: ...
    @overload
    def on(self, hook: ClientHook[SendHandler], handler: SendHandler) -> None: ...
    @overload
    def on(self, hook: ClientHook[SendingRequestHandler], handler: SendingRequestHandler) -> None: ...
    def on(self, hook: ClientHook[Any], handler: Any) -> None:
        if hook is SetupRequest:
            self.handlers.setup_request.append(handler)
        elif hook is Send:
            self.handlers.send.append(handler)
        elif hook is SendingRequest:
            self.handlers.sending_request.append(handler)
        elif isinstance(hook, MonitoringEvent):
            self.client.monitor.subscribe(hook.event, handler)
        else:
            raise ValueError(f"Unknown hook {hook!r}")


PluginBody = Callable[[PluginBuilder[C]], None]


class _NoConfig:
    """The config of a plugin created without a config factory: it has no fields."""

    def __repr__(self) -> str:
        return "NoConfig()"


class ClientPlugin(Generic[C]):
    """A plugin: a name, a config factory, and a body that registers handlers.

    Identity is the object itself (its `key`), never the name: two plugins with the same name stay
    two plugins.
    """

    def __init__(
        self,
        name: str,
        config_factory: Callable[[], C],
        body: PluginBody[C],
        call_options: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.config_factory = config_factory
        self.body = body
        self.key: AttributeKey[PluginBuilder[C]] = AttributeKey(name)
        #: Keywords a request may carry for this plugin (`client.get(url, timeout=3)`).
        self.call_options = frozenset(call_options)

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        fields = self.valid_fields()
        field_name = fields[0] if fields else "field"
        raise TypeError(
            f"{self.name} is a plugin, not a class to call: config.install({self.name}, {field_name}=...) or "
            f"config.install({self.name}, lambda c: setattr(c, {field_name!r}, ...))"
        )

    def valid_fields(self) -> list[str]:
        """The names `install(plugin, name=value)` accepts: dataclass fields, annotated or public
        attributes and properties with a setter. A config class is inspected without being
        instantiated; any other factory is called once to look at what it returns."""
        names: set[str] = set()
        factory = self.config_factory
        klass = factory if isinstance(factory, type) else None
        if klass is None or not (dataclasses.is_dataclass(klass) or _annotations(klass)):
            probe = factory()
            klass = type(probe)
            names.update(vars(probe) if hasattr(probe, "__dict__") else ())
        if dataclasses.is_dataclass(klass):
            names.update(f.name for f in dataclasses.fields(klass))
        names.update(_annotations(klass))
        for base in klass.__mro__:
            names.update(name for name, value in vars(base).items() if isinstance(value, property) and value.fset)
        return sorted(name for name in names if not name.startswith("_"))

    def check_fields(self, fields: dict[str, Any]) -> None:
        """TypeError naming the valid fields when `fields` holds a name the config does not have."""
        if not fields:
            return
        valid = self.valid_fields()
        unknown = sorted(name for name in fields if name not in valid)
        if unknown:
            raise TypeError(
                f"{self.name} has no config field(s) {', '.join(unknown)}; "
                f"valid fields: {', '.join(valid) if valid else '(none)'}"
            )

    def __repr__(self) -> str:
        return f"<ClientPlugin {self.name}>"


@overload
def create_client_plugin(
    name: str,
    config_factory: Callable[[], C],
    body: PluginBody[C],
    *,
    call_options: tuple[str, ...] = (),
) -> ClientPlugin[C]: ...
@overload
def create_client_plugin(
    name: str,
    config_factory: Callable[[], C],
    body: None = None,
    *,
    call_options: tuple[str, ...] = (),
) -> Callable[[PluginBody[C]], ClientPlugin[C]]: ...
@overload
def create_client_plugin(
    name: str,
    config_factory: None = None,
    body: None = None,
    *,
    call_options: tuple[str, ...] = (),
) -> Callable[[PluginBody[Any]], ClientPlugin[Any]]: ...
def create_client_plugin(
    name: str,
    config_factory: Callable[[], Any] | None = None,
    body: PluginBody[Any] | None = None,
    *,
    call_options: tuple[str, ...] = (),
) -> ClientPlugin[Any] | Callable[[PluginBody[Any]], ClientPlugin[Any]]:
    """Make a plugin. Used as a decorator on the body (the usual form), or with the body passed.

    `config_factory` makes a fresh config object (a dataclass is ideal: `install(P, field=value)`
    checks the names). `call_options` names the keywords a single request may carry for the plugin.
    """
    factory: Callable[[], Any] = config_factory if config_factory is not None else _NoConfig
    if body is not None:
        return ClientPlugin(name, factory, body, call_options)

    def decorate(fn: PluginBody[Any]) -> ClientPlugin[Any]:
        return ClientPlugin(name, factory, fn, call_options)

    return decorate


def _annotations(klass: type) -> set[str]:
    return {name for base in klass.__mro__ if base is not object for name in getattr(base, "__annotations__", {})}


async def call_handler(result: object) -> Any:
    """Await a handler's result when it is awaitable (handlers may be sync or async)."""
    if inspect.isawaitable(result):
        return await result
    return result
