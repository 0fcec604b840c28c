"""Plugin machinery on the MockEngine: install semantics, hook order, Send nesting, send limit,
capability check before I/O, body transforms, per-call options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tether import (
    AttributeKey,
    ClientClosedError,
    ClientRequestException,
    HttpClient,
    HttpClientConfig,
    HttpRequestBuilder,
    HttpResponse,
    InvalidHeaderError,
    InvalidUrlError,
    OutgoingContent,
    SendCountExceedException,
    TextContent,
    UnsafeHeaderException,
    UnsupportedCapabilityError,
)
from tether.engine import HttpClientEngineCapability, WebSocketCapability, check_request
from tether.plugins import PluginBuilder, Send, Sender, SendingRequest, SetupRequest, create_client_plugin
from tether.plugins.api import NOT_HANDLED, ResponseSend
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, respond

URL = "https://api.test/path"


@dataclass
class Recorder:
    label: str = "?"
    events: list[str] = field(default_factory=list)


def recording_plugin(name: str) -> Any:
    @create_client_plugin(name, Recorder)
    def plugin(p: PluginBuilder[Recorder]) -> None:
        cfg = p.plugin_config

        def note(stage: str) -> None:
            cfg.events.append(f"{cfg.label}:{stage}")

        p.on(SetupRequest, lambda request: note("setup"))
        p.on_request(lambda request, content: note("on_request"))
        p.on(SendingRequest, lambda request, content: note("sending"))
        p.on_response(lambda response: note("on_response"))

        async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
            note("send>")
            response = await sender.proceed(request)
            note("send<")
            return response

        p.on(Send, send)
        p.on_close(lambda: note("close"))

    return plugin


async def test_install_twice_chains_both_configurations_on_one_config_object() -> None:
    created: list[object] = []

    @dataclass
    class Counted(Recorder):
        def __post_init__(self) -> None:
            created.append(self)

    seen: list[str] = []

    @create_client_plugin("Chained", Counted)
    def chained(p: PluginBuilder[Counted]) -> None:
        seen.append(p.plugin_config.label)

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(chained, label="first")
        config.install(chained, lambda c: setattr(c, "label", c.label + "+second"))

    async with HttpClient(MockEngine(lambda r: respond()), configure):
        pass
    assert seen == ["first+second"]  # the body ran once, with both blocks applied in order
    assert len(created) == 1


async def test_install_or_replace_keeps_only_the_last_configuration() -> None:
    seen: list[str] = []

    @create_client_plugin("Replaced", Recorder)
    def replaced(p: PluginBuilder[Recorder]) -> None:
        seen.append(p.plugin_config.label)

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(replaced, label="first", events=["kept?"])
        config.install_or_replace(replaced, label="second")

    async with HttpClient(MockEngine(lambda r: respond()), configure) as client:
        assert client.plugin(replaced).plugin_config.events == []
    assert seen == ["second"]


async def test_install_order_is_fixed_at_first_install() -> None:
    shared = Recorder()
    a, b = recording_plugin("A"), recording_plugin("B")

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(a, label="A", events=shared.events)
        config.install(b, label="B", events=shared.events)
        config.install(a, label="A")  # a second install does not move A behind B
        config.install_or_replace(b, label="B", events=shared.events)

    async with HttpClient(MockEngine(lambda r: respond()), configure) as client:
        await client.get(URL)
    assert shared.events[:2] == ["A:setup", "B:setup"]


async def test_unknown_plugin_fields_raise_type_error_naming_the_valid_ones() -> None:
    plugin = recording_plugin("Strict")
    config: HttpClientConfig[Any] = HttpClientConfig(MockEngine().config)
    with pytest.raises(TypeError, match=r"no config field\(s\) lable; valid fields: events, label"):
        config.install(plugin, lable="typo")


async def test_hooks_run_in_documented_order_and_send_interceptors_nest_first_outermost() -> None:
    events: list[str] = []
    a, b = recording_plugin("A"), recording_plugin("B")

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(a, label="A", events=events)
        config.install(b, label="B", events=events)

    async with HttpClient(MockEngine(lambda r: respond()), configure) as client:
        await client.get(URL)
        during_call = list(events)
    assert during_call == [
        "A:setup", "B:setup",
        "A:on_request", "B:on_request",
        "A:send>", "B:send>",
        "A:sending", "B:sending",
        "A:on_response", "B:on_response",
        "B:send<", "A:send<",
    ]  # fmt: skip
    assert events[len(during_call) :] == ["A:close", "B:close"]


async def test_on_close_runs_when_the_client_closes() -> None:
    events: list[str] = []
    plugin = recording_plugin("Closing")
    client = HttpClient(MockEngine(lambda r: respond()), lambda c: c.install(plugin, label="P", events=events))
    await client.close()
    await client.close()
    assert events == ["P:close"]
    with pytest.raises(ClientClosedError):
        await client.get(URL)


async def test_send_may_proceed_more_than_once_and_sending_request_runs_every_hop() -> None:
    events: list[str] = []
    statuses = iter([500, 500, 200])
    engine = MockEngine(lambda r: respond(status=next(statuses)))

    @create_client_plugin("RetryTwice")
    def retry(p: PluginBuilder[Any]) -> None:
        async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
            response = await sender.proceed(request)
            while response.status >= 500:
                response = await sender.proceed(request)
            return response

        p.on(Send, send)
        p.on_request(lambda request, content: events.append("on_request"))
        p.on(SendingRequest, lambda request, content: events.append("sending"))

    async with HttpClient(engine, lambda c: c.install(retry)) as client:
        response = await client.get(URL)
    assert response.status == 200
    assert events == ["on_request", "sending", "sending", "sending"]
    assert len(engine.requests) == 3
    assert engine.open_bodies == 0  # every earlier response was released


async def test_a_send_loop_ends_with_send_count_exceeded() -> None:
    engine = MockEngine(lambda r: respond(status=503))

    @create_client_plugin("Forever")
    def forever(p: PluginBuilder[Any]) -> None:
        async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
            while True:
                await sender.proceed(request)

        p.on(Send, send)

    def configure(config: HttpClientConfig[Any]) -> None:
        config.max_send_count = 5
        config.install(forever)

    async with HttpClient(engine, configure) as client:
        with pytest.raises(SendCountExceedException, match="Max send count 5 exceeded"):
            await client.get(URL)
    assert len(engine.requests) == 5
    assert engine.open_bodies == 0


async def test_a_missing_capability_fails_before_any_io() -> None:
    engine = MockEngine(lambda r: respond(), capabilities=set())

    @create_client_plugin("NeedsWebSockets")
    def needs(p: PluginBuilder[Any]) -> None:
        p.on_request(lambda request, content: request.set_capability(WebSocketCapability, None))

    async with HttpClient(engine, lambda c: c.install(needs)) as client:
        with pytest.raises(UnsupportedCapabilityError, match="Engine Mock doesn't support WebSocketCapability"):
            await client.get(URL)
    assert engine.requests == []


async def test_a_declared_capability_passes_the_check_and_reaches_the_engine() -> None:
    custom: HttpClientEngineCapability[int] = HttpClientEngineCapability("Custom")
    engine = MockEngine(lambda r: respond(str(r.get_capability(custom))), capabilities={custom})
    async with HttpClient(engine) as client:
        builder = client.build_request("GET", URL)
        builder.set_capability(custom, 7)
        response = await client.prepare(builder).execute()
        assert await response.body_as_text() == "7"


async def test_unsafe_headers_are_rejected_before_any_io() -> None:
    engine = MockEngine(lambda r: respond())
    async with HttpClient(engine) as client:
        with pytest.raises(UnsafeHeaderException, match=r"\[Transfer-Encoding\]"):
            await client.get(URL, headers={"Transfer-Encoding": "chunked"})
        with pytest.raises(UnsafeHeaderException, match=r"\[UPGRADE\]"):
            await client.get(URL, headers={"UPGRADE": "h2c"})
    assert engine.requests == []


async def test_relative_url_without_a_base_is_a_clear_error() -> None:
    async with HttpClient(MockEngine(lambda r: respond())) as client:
        with pytest.raises(InvalidUrlError, match="default_request"):
            await client.get("users")


async def test_transform_request_body_turns_custom_objects_into_content() -> None:
    @dataclass
    class Point:
        x: int
        y: int

    @create_client_plugin("PointCodec")
    def codec(p: PluginBuilder[Any]) -> None:
        def to_content(request: HttpRequestBuilder, body: object, body_type: type | None) -> OutgoingContent | None:
            if isinstance(body, Point):
                return TextContent(f"{body.x},{body.y}", "text/csv")
            return None

        async def from_channel(response: HttpResponse, channel: Any, type_: type) -> object:
            if type_ is Point:
                x, y = (await channel.read_all()).decode().split(",")
                return Point(int(x), int(y))
            return NOT_HANDLED

        p.transform_request_body(to_content)
        p.transform_response_body(from_channel)

    engine = MockEngine(lambda r: respond(r.body.data[::-1] if isinstance(r.body, TextContent) else b""))
    async with HttpClient(engine, lambda c: c.install(codec)) as client:
        response = await client.post(URL, content=Point(1, 23))
        assert engine.requests[0].body.content_type == "text/csv"
        assert await response.body(Point) == Point(32, 1)
        assert await response.body(str) == "32,1"
        with pytest.raises(TypeError, match="Give at most one request body"):
            await client.post(URL, content=b"x", json={})
        with pytest.raises(TypeError, match="Cannot send object"):
            await client.post(URL, content=object())


async def test_attribute_keys_compare_by_identity_and_plugins_by_object_not_name() -> None:
    key_a: AttributeKey[str] = AttributeKey("same")
    key_b: AttributeKey[str] = AttributeKey("same")
    seen: list[str] = []

    def make(tag: str) -> Any:
        @create_client_plugin("SameName")
        def plugin(p: PluginBuilder[Any]) -> None:
            p.on_request(lambda request, content: seen.append(tag))

        return plugin

    first, second = make("first"), make("second")

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(first)
        config.install(second)

    async with HttpClient(MockEngine(lambda r: respond()), configure) as client:
        builder = client.build_request("GET", URL)
        builder.attributes[key_a] = "a"
        assert key_b not in builder.attributes
        await client.prepare(builder).execute()
    assert seen == ["first", "second"]
    with pytest.raises(ValueError, match="blank"):
        AttributeKey(" ")


async def test_per_call_options_must_belong_to_an_installed_plugin() -> None:
    seen: list[object] = []

    @create_client_plugin("WithOption", call_options=("flavour",))
    def with_option(p: PluginBuilder[Any]) -> None:
        p.on_request(lambda request, content: seen.append(request.call_options.get("flavour")))

    async with HttpClient(MockEngine(lambda r: respond())) as client:
        with pytest.raises(TypeError, match="Unexpected request keyword\\(s\\) flavour"):
            await client.get(URL, flavour="mint")
    async with HttpClient(MockEngine(lambda r: respond()), lambda c: c.install(with_option)) as client:
        await client.get(URL, flavour="mint")
        await client.get(URL)
    assert seen == ["mint", None]


async def test_async_handlers_are_awaited() -> None:
    seen: list[str] = []

    @create_client_plugin("AsyncHooks")
    def hooks(p: PluginBuilder[Any]) -> None:
        async def on_request(request: HttpRequestBuilder, content: object) -> None:
            request.headers["X-Async"] = "yes"

        async def on_response(response: HttpResponse) -> None:
            seen.append(response.request.headers["X-Async"])

        p.on_request(on_request)
        p.on_response(on_response)

    async with HttpClient(MockEngine(lambda r: respond()), lambda c: c.install(hooks)) as client:
        await client.get(URL)
    assert seen == ["yes"]


async def test_engine_errors_propagate_and_release_earlier_responses() -> None:
    calls = 0

    def handler(request: HttpRequestData) -> HttpResponseData:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionResetError("boom")
        return respond(status=500)

    @create_client_plugin("Again")
    def again(p: PluginBuilder[Any]) -> None:
        async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
            await sender.proceed(request)
            return await sender.proceed(request)

        p.on(Send, send)

    engine = MockEngine(handler)
    async with HttpClient(engine, lambda c: c.install(again)) as client:
        with pytest.raises(ConnectionResetError):
            await client.get(URL)
    assert engine.open_bodies == 0


async def test_a_finished_call_leaves_no_reference_cycles() -> None:
    """Calls are freed by reference counting: a cycle per call costs a GC pass under load. Checked on
    the call's own objects (weak references die the moment the last reference goes, with the
    collector off), so garbage other tests leave behind cannot disturb it."""
    import gc
    import weakref

    engine = MockEngine(lambda r: respond("ok"))
    async with HttpClient(engine) as client:
        await client.get(URL)
        gc.disable()
        try:
            for _ in range(5):
                response = await client.get(URL)
                assert await response.body_as_text() == "ok"
                # (MockEngine keeps every request it saw in `engine.requests`: that reference is not a cycle.)
                engine.requests.clear()
                refs = [weakref.ref(response), weakref.ref(response.request)]
                del response
                assert [ref() for ref in refs] == [None, None]
        finally:
            gc.enable()


async def test_header_fields_are_checked_after_every_plugin_ran() -> None:
    # A plugin's header is checked too: the check runs on the request the engine is about to get.
    @create_client_plugin("Injector")
    def injector(p: PluginBuilder[Any]) -> None:
        p.on_request(lambda request, content: request.headers.add("X-Trace", "1\r\nX-Admin: yes"))

    engine = MockEngine(lambda r: respond())
    async with HttpClient(engine, lambda c: c.install(injector)) as client:
        with pytest.raises(InvalidHeaderError, match=r"'X-Trace'.*control character '\\r'") as caught:
            await client.get(URL)
    assert caught.value.header == "X-Trace"
    assert isinstance(caught.value, ValueError)
    assert engine.requests == []


async def test_header_values_reach_the_engine_trimmed_in_order() -> None:
    engine = MockEngine(lambda r: respond())
    headers = [("X-A", " 1 "), ("X-B", "two\twords"), ("x-a", "\t3"), ("X-C", "")]
    async with HttpClient(engine) as client:
        await client.get(URL, headers=headers)
        await client.get(URL, headers={"X-Plain": "kept as is"})
    assert list(engine.requests[0].headers.items()) == [("X-A", "1"), ("X-B", "two\twords"), ("x-a", "3"), ("X-C", "")]
    assert list(engine.requests[1].headers.items()) == [("X-Plain", "kept as is")]


async def test_a_header_value_must_be_text() -> None:
    engine = MockEngine(lambda r: respond())
    async with HttpClient(engine) as client:
        with pytest.raises(InvalidHeaderError, match="must be a str, not int"):
            await client.get(URL, headers={"X-Count": 3})  # type: ignore[dict-item]
    assert engine.requests == []


_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(
        st.tuples(
            st.text(alphabet=st.sampled_from(_TOKEN_CHARS + ' :\r\n\x00\u00e9"(),/'), max_size=8),
            st.text(alphabet=st.characters(max_codepoint=0x110), max_size=8),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_header_field_check_agrees_with_rfc_9110(fields: list[tuple[str, str]]) -> None:
    # The bulk check (joined, one regex) against the rule stated per field.
    def sendable(name: str, value: str) -> bool:
        return bool(name) and all(c in _TOKEN_CHARS for c in name) and all(" " <= c <= "~" or c == "\t" for c in value)

    assume(not any(name.lower() in ("upgrade", "transfer-encoding") for name, _ in fields))
    request = HttpRequestBuilder("GET", URL)
    for name, value in fields:
        request.headers.add(name, value)
    data = request.build()
    if all(sendable(name, value) for name, value in fields):
        checked = check_request(MockEngine(lambda r: respond()), data)
        assert list(checked.headers.items()) == [(n, v.strip(" \t")) for n, v in fields]
        assert (checked is data) == all(v == v.strip(" \t") for _, v in fields)
    else:
        first = next(name for name, value in fields if not sendable(name, value))
        with pytest.raises(InvalidHeaderError) as caught:
            check_request(MockEngine(lambda r: respond()), data)
        assert caught.value.header == first


# -- Send chains: runs of ResponseSend handlers are fused into one coroutine ---------------------------
def _model_handlers(kinds: list[tuple[bool, int, int]], trace: list[str]) -> list[Any]:
    """Send handlers from (is ResponseSend, modulus, extra proceeds): each records what it does."""
    handlers: list[Any] = []
    for index, (fusable, modulus, extra) in enumerate(kinds):

        def make(index: int, fusable: bool, modulus: int, extra: int) -> Any:
            if fusable:

                def passes(request: Any, response: Any) -> bool:
                    return bool(response % modulus)

                async def follow(sender: Sender, request: Any, response: Any) -> Any:
                    trace.append(f"{index} follows {response}")
                    for _ in range(extra):
                        response = await sender.proceed(request)
                    return response * 10 + index

                return ResponseSend(passes, follow)

            async def send(sender: Sender, request: Any) -> Any:
                trace.append(f"{index} >")
                response = await sender.proceed(request)
                for _ in range(extra):
                    response += await sender.proceed(request)
                trace.append(f"{index} < {response}")
                return response

            return send

        handlers.append(make(index, fusable, modulus, extra))
    return handlers


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 4), st.integers(0, 2)), max_size=5))
async def test_a_fused_send_chain_does_what_the_nested_handlers_do(kinds: list[tuple[bool, int, int]]) -> None:
    from tether.client import _send_chain, _wrap

    def sender_recording(trace: list[str]) -> Any:
        counter = iter(range(1, 1000))

        async def innermost(request: Any) -> Any:
            value = next(counter)
            trace.append(f"send {value}")
            return value

        return innermost

    results: list[tuple[Any, list[str]]] = []
    for fuse in (False, True):
        trace: list[str] = []
        innermost = sender_recording(trace)
        handlers = _model_handlers(kinds, trace)
        if fuse:
            chain = _send_chain(handlers, innermost)
        else:
            chain = innermost
            for handler in reversed(handlers):
                chain = _wrap(handler, chain)
        results.append((await chain("request"), trace))
    assert results[0] == results[1]


async def test_the_default_send_handlers_are_fused_and_still_redirect_and_validate() -> None:
    statuses = iter([302, 404])
    engine = MockEngine(lambda r: respond(status=next(statuses), headers={"Location": "/next"}))
    async with HttpClient(engine, lambda c: setattr(c, "expect_success", True)) as client:
        assert all(isinstance(handler, ResponseSend) for handler in client._send)
        with pytest.raises(ClientRequestException) as raised:
            await client.get(URL)
    assert int(raised.value.response.status) == 404
    assert [str(request.url) for request in engine.requests] == [URL, URL.rsplit("/", 1)[0] + "/next"]
