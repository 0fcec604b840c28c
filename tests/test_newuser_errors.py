"""What a new user gets wrong first, and the error that says so: credentials of the wrong type for
Auth, `install` given something other than a plugin, `expect_success="yes"` per call, `files=` of
the wrong type, a port out of range. Each fails when the client or the request is built, with a
typed error naming the setting and what it accepts."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tether import HttpClient, HttpClientConfig, InvalidUrlError
from tether.content import ByteArrayContent
from tether.plugins import Auth, HttpTimeout
from tether.plugins.auth import BasicAuthCredentials, BearerTokens
from tether.request import HttpRequestBuilder, HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, respond


def _challenging(scheme: str = "Basic") -> MockEngine:
    """401 with a challenge until the request carries Authorization, then 200."""

    def answer(request: HttpRequestData) -> HttpResponseData:
        if "Authorization" in request.headers:
            return respond(b"ok")
        return respond(status=401, headers={"WWW-Authenticate": f'{scheme} realm="r", nonce="n", algorithm=SHA-256'})

    return MockEngine(answer)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- Auth credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        ("user", "pw"),
        BasicAuthCredentials("user", "pw"),
        lambda: ("user", "pw"),
        lambda: BasicAuthCredentials("user", "pw"),
    ],
    ids=["tuple", "object", "function-returning-tuple", "function-returning-object"],
)
async def test_basic_accepts_a_tuple_an_object_or_a_function(credentials: Any) -> None:
    engine = _challenging()
    configure = lambda config: config.install(Auth, lambda auth: auth.basic(credentials=credentials))  # noqa: E731
    async with HttpClient(engine, configure) as client:
        assert (await client.get("http://h/")).status == 200
    assert engine.requests[-1].headers["Authorization"] == _basic("user", "pw")


async def test_digest_accepts_a_tuple() -> None:
    engine = _challenging("Digest")
    configure = lambda config: config.install(Auth, lambda auth: auth.digest(credentials=("user", "pw")))  # noqa: E731
    async with HttpClient(engine, configure) as client:
        assert (await client.get("http://h/")).status == 200
    assert engine.requests[-1].headers["Authorization"].startswith('Digest username="user"')


@pytest.mark.parametrize("method", ["basic", "digest"])
@pytest.mark.parametrize(
    ("credentials", "got"),
    [
        ("user:pw", "got str"),
        (("user", "pw", "extra"), "got a tuple of 3 item(s) (str, str, str)"),
        (("user", 42), "got a tuple of 2 item(s) (str, int)"),
        (None, "got None"),
    ],
)
def test_wrong_credentials_raise_when_the_client_is_built(method: str, credentials: Any, got: str) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(Auth, lambda auth: getattr(auth, method)(credentials=credentials))

    with pytest.raises(TypeError) as caught:
        HttpClient(MockEngine(lambda r: respond()), configure)
    message = str(caught.value)
    assert f"Auth {method}(credentials=...) must be BasicAuthCredentials(username, password)" in message
    assert "(username, password) tuple of str" in message and "a function" in message
    assert got in message
    assert "pw" not in message.replace("password", "")  # never the secret itself


async def test_a_loader_returning_the_wrong_type_names_the_setting() -> None:
    configure = lambda config: config.install(Auth, lambda auth: auth.basic(credentials=lambda: "user:pw"))  # noqa: E731
    async with HttpClient(_challenging(), configure) as client:
        with pytest.raises(TypeError, match=r"The value returned by Auth basic\(credentials=\.\.\.\) must be"):
            await client.get("http://h/")


async def test_bearer_accepts_constant_tokens() -> None:
    engine = MockEngine(lambda r: respond())
    configure = lambda config: config.install(Auth, lambda auth: auth.bearer(load_tokens=BearerTokens("abc")))  # noqa: E731
    async with HttpClient(engine, configure) as client:
        await client.get("http://h/")
    assert engine.requests[0].headers["Authorization"] == "Bearer abc"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"load_tokens": "abc"}, r"Auth bearer\(load_tokens=\.\.\.\) must be .*BearerTokens\(access_token=token\)"),
        ({"load_tokens": ("abc", "def")}, r"Auth bearer\(load_tokens=\.\.\.\) must be BearerTokens"),
        ({"load_tokens": lambda: None, "refresh_tokens": BearerTokens("x")}, r"refresh_tokens must be None or"),
        ({"load_tokens": lambda: None, "realm": 1}, r"Auth bearer\(\): realm must be a str or None, got int"),
        ({"load_tokens": lambda: None, "cache_tokens": "no"}, r"cache_tokens must be a bool, got str"),
        ({"load_tokens": lambda: None, "send_without_request": True}, r"send_without_request must be a function"),
    ],
)
def test_wrong_bearer_settings_raise_in_the_configure_block(settings: dict[str, Any], expected: str) -> None:
    with pytest.raises(TypeError, match=expected):
        HttpClient(MockEngine(lambda r: respond()), lambda config: config.install(Auth, lambda a: a.bearer(**settings)))


async def test_a_refresher_returning_the_wrong_type_names_the_setting() -> None:
    engine = MockEngine(lambda r: respond(status=401, headers={"WWW-Authenticate": "Bearer"}))

    def configure(config: HttpClientConfig[Any]) -> None:
        wrong: Any = lambda params: "b"  # noqa: E731
        config.install(Auth, lambda a: a.bearer(load_tokens=lambda: BearerTokens("a"), refresh_tokens=wrong))

    async with HttpClient(engine, configure) as client:
        with pytest.raises(TypeError, match=r"The value returned by Auth bearer\(refresh_tokens=\.\.\.\) must be"):
            await client.get("http://h/")


def test_digest_algorithm_of_the_wrong_type_names_the_field() -> None:
    with pytest.raises(TypeError, match=r"Auth digest\(\): algorithm must be a str"):
        algorithm: Any = 256
        HttpClient(
            MockEngine(lambda r: respond()),
            lambda config: config.install(Auth, lambda a: a.digest(("u", "p"), algorithm=algorithm)),
        )


# -- install ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin", "got"),
    [
        (int, "got the class int"),
        ("HttpTimeout", "got the string 'HttpTimeout': pass the plugin object itself (from tether.plugins import"),
        (None, "got NoneType None"),
    ],
)
@pytest.mark.parametrize("method", ["install", "install_or_replace"])
def test_install_says_what_it_takes(method: str, plugin: Any, got: str) -> None:
    with pytest.raises(TypeError) as caught:
        HttpClient(MockEngine(lambda r: respond()), lambda config: getattr(config, method)(plugin))
    message = str(caught.value)
    assert message.startswith(f"config.{method}() takes a plugin object")
    assert f"config.{method}(HttpTimeout, request_timeout=10)" in message
    assert got in message


def test_install_with_a_value_instead_of_a_function_says_settings_go_as_keywords() -> None:
    with pytest.raises(TypeError, match="the second argument must be a function taking the HttpTimeout config"):
        HttpClient(MockEngine(lambda r: respond()), lambda config: config.install(HttpTimeout, 10))  # type: ignore[arg-type]


# -- per request ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", 1, 0])
def test_expect_success_per_call_must_be_a_bool(value: Any) -> None:
    client = HttpClient(MockEngine(lambda r: respond()))
    with pytest.raises(TypeError, match=r"expect_success must be True, False or None .*, got"):
        client.build_request("GET", "http://h/", expect_success=value)
    with pytest.raises(TypeError, match="expect_success must be"):
        HttpRequestBuilder("GET", "http://h/").expect_success = value


def test_expect_success_per_call_still_overrides_and_copies() -> None:
    client = HttpClient(MockEngine(lambda r: respond()))
    builder = client.build_request("GET", "http://h/", expect_success=True)
    assert builder.expect_success is True and builder.copy().expect_success is True
    assert client.build_request("GET", "http://h/").expect_success is None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"f": 123}, r"files= field 'f' must be bytes, str, a binary file object .*; got int 123"),
        ({"f": ("a.txt", 1.5)}, r"files= field 'f' must be .*; got tuple \('a.txt', 1.5\)"),
        ({"f": ("a.txt", b"x", 3)}, r"files= field 'f' must be"),
        ({"f": ("a", b"x", "text/plain", {}, "extra")}, r"files= field 'f' must be"),
        ([("f",)], r"files= as a list must hold \(name, file\) pairs"),
        ("f", r"files= must be a mapping of field name to file"),
    ],
)
def test_files_of_the_wrong_type_raise_when_the_request_is_built(files: Any, expected: str) -> None:
    client = HttpClient(MockEngine(lambda r: respond()))
    with pytest.raises(TypeError, match=expected):
        client.build_request("POST", "http://h/", files=files)


async def test_every_accepted_files_form_still_works(tmp_path: Any) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"FILE")
    engine = MockEngine(lambda r: respond())
    async with HttpClient(engine) as client:
        with path.open("rb") as handle:
            files = {
                "a": b"A",
                "b": "B",
                "c": handle,
                "d": ("d.txt", b"D"),
                "e": ("e.txt", b"E", "text/plain"),
                "f": (None, b"F", None, {"X-Part": "1"}),
            }
            await client.post("http://h/", files=files)
            await client.post("http://h/", files=[("g", b"G")])
    first, second = (request.body for request in engine.requests)
    assert isinstance(first, ByteArrayContent) and isinstance(second, ByteArrayContent)
    for part in (b"FILE", b'filename="d.txt"', b"Content-Type: text/plain", b"X-Part: 1"):
        assert part in first.data
    assert b'name="g"' in second.data


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://h:-1/", "http://[::1]:65536/x", "http://h:x/"])
def test_a_port_out_of_range_is_an_invalid_url(url: str) -> None:
    client = HttpClient(MockEngine(lambda r: respond()))
    with pytest.raises(InvalidUrlError, match="the port must be a number from 0 to 65535"):
        client.build_request("GET", url)


def test_valid_ports_still_parse() -> None:
    client = HttpClient(MockEngine(lambda r: respond()))
    assert client.build_request("GET", "http://h:65535/").url.port == 65535
    assert client.build_request("GET", "http://[::1]:8080/").url.port == 8080


def test_calling_a_plugin_says_how_to_install_it() -> None:
    with pytest.raises(TypeError, match=r"HttpTimeout is a plugin, not a class to call: config\.install\(HttpTimeout"):
        HttpTimeout(request_timeout=1)  # type: ignore[operator]


def test_an_engine_passed_as_configure_names_the_right_order() -> None:
    from tether_aiohttp import Aiohttp

    with pytest.raises(TypeError, match=r"configure= got the engine Aiohttp; the engine is the first argument"):
        HttpClient(configure=Aiohttp)  # type: ignore[arg-type]


def test_a_configure_function_passed_first_says_where_it_goes() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.expect_success = True

    with pytest.raises(TypeError, match=r"a configure function goes second, or as configure="):
        HttpClient(configure)  # type: ignore[arg-type]


def test_an_sse_setting_on_a_plain_request_is_refused() -> None:
    import asyncio

    from tether.plugins import SSE
    from tether.plugins.sse import SSEBufferPolicy

    async def attempt() -> None:
        async with HttpClient(MockEngine(lambda r: respond("ok")), lambda c: c.install(SSE)) as client:
            await client.get("http://h/", buffer_policy=SSEBufferPolicy.last_events(3))

    with pytest.raises(TypeError, match="buffer_policy"):
        asyncio.run(attempt())
