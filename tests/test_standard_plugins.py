"""Rules and limits of the standard plugins, on the MockEngine (engines: the conformance suite)."""

from __future__ import annotations

import dataclasses
import gzip
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any

import brotli
import pytest
from yarl import URL

from tether import (
    BodyNotReplayableError,
    ConnectError,
    HttpClient,
    HttpClientConfig,
    ProtocolError,
    SendCountExceedException,
    TlsError,
)
from tether.content import ByteArrayContent, StreamContent
from tether.plugins import (
    BodyProgress,
    ContentEncoding,
    ContentNegotiation,
    HttpCookies,
    HttpRequestRetry,
    Logging,
    LogLevel,
    UserAgent,
)
from tether.plugins.content_encoding import (
    APPLIED_DECODERS,
    DecompressedSizeExceededError,
    UnsupportedContentEncodingError,
)
from tether.plugins.content_negotiation import ContentConversionError
from tether.plugins.cookies import AcceptAllCookiesStorage, Cookie, parse_set_cookie
from tether.plugins.retry import RetryPolicy, parse_retry_after
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, read_body, respond

URL_ = "http://api.test/x"


def install(plugin: Any, **fields: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(plugin, **fields)

    return configure


# -- ContentEncoding -----------------------------------------------------------------------------------
async def test_stacked_encodings_are_undone_in_reverse_order() -> None:
    body = brotli.compress(gzip.compress(b"payload"))
    engine = MockEngine(
        lambda r: respond(body, headers={"Content-Encoding": "gzip, br", "Content-Length": str(len(body))})
    )
    async with HttpClient(engine, install(ContentEncoding)) as client:
        response = await client.get(URL_)
    assert await response.body_as_bytes() == b"payload"
    assert response.request.attributes[APPLIED_DECODERS] == ["gzip", "br"]
    assert "Content-Length" not in response.headers and "Content-Encoding" not in response.headers


async def test_decoding_streams_and_the_limit_is_exact() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        data = gzip.compress(b"a" * 100_000)
        for i in range(0, len(data), 10):
            yield data[i : i + 10]

    engine = MockEngine(lambda r: respond(chunks(), headers={"Content-Encoding": "gzip"}))
    async with HttpClient(engine, install(ContentEncoding, max_decompressed_size=100_000)) as client:
        assert len(await (await client.get(URL_)).body_as_bytes()) == 100_000
    async with HttpClient(engine, install(ContentEncoding, max_decompressed_size=99_999)) as client:
        with pytest.raises(DecompressedSizeExceededError, match="max_decompressed_size=99999"):
            await client.get(URL_)
    assert engine.open_bodies == 0


async def test_raw_deflate_without_zlib_header_is_accepted() -> None:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(b"raw deflate") + compressor.flush()
    engine = MockEngine(lambda r: respond(raw, headers={"Content-Encoding": "deflate"}))
    async with HttpClient(engine, install(ContentEncoding)) as client:
        assert await (await client.get(URL_)).body_as_bytes() == b"raw deflate"


async def test_unknown_and_corrupt_encodings_are_typed_errors() -> None:
    engine = MockEngine(
        lambda r: respond(b"x", headers={"Content-Encoding": "compress"}),
        lambda r: respond(b"not gzip at all", headers={"Content-Encoding": "gzip"}),
    )
    async with HttpClient(engine, install(ContentEncoding)) as client:
        with pytest.raises(UnsupportedContentEncodingError, match="'compress'"):
            await client.get(URL_)
        with pytest.raises(ProtocolError, match="Corrupt compressed response body"):
            await client.get(URL_)


async def test_head_and_204_are_not_decoded_and_accept_encoding_is_kept_when_set() -> None:
    engine = MockEngine(lambda r: respond(b"", status=204, headers={"Content-Encoding": "gzip"}))
    async with HttpClient(engine, install(ContentEncoding)) as client:
        assert await (await client.get(URL_, headers={"Accept-Encoding": "identity"})).body_as_bytes() == b""
    assert engine.requests[0].headers["Accept-Encoding"] == "identity"


def test_content_encoding_config_is_validated() -> None:
    with pytest.raises(ValueError, match="cannot decode 'lzma'"):
        HttpClient(MockEngine(), install(ContentEncoding, encodings={"lzma": 1.0}))
    with pytest.raises(ValueError, match=r"Quality of 'gzip' must be in \(0, 1\]"):
        HttpClient(MockEngine(), install(ContentEncoding, encodings={"gzip": 1.5}))


# -- HttpRequestRetry ------------------------------------------------------------------------------------
FAST = {"base_delay": 0.0, "jitter": 0.0}


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 30) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 + 30) == 0.0
    assert parse_retry_after("soon") is None
    # Digits of other scripts pass str.isdigit() but not float(): ignored, never a ValueError.
    assert parse_retry_after("\xb2") is None
    assert parse_retry_after("\u0663") is None


def test_delay_is_exponential_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(base=2.0, base_delay=1.0, max_delay=5.0, jitter=0.0)
    assert [policy.delay(n, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    engine_response = respond(status=503, headers={"Retry-After": "3"})
    from tether.response import HttpResponse

    response = HttpResponse(engine_response, HttpRequestData(URL("http://h/"), "GET", engine_response.headers))
    assert policy.delay(1, response) == 3.0


async def test_exceptions_are_retried_but_not_tls_failures() -> None:
    calls: list[str] = []

    def flaky(request: HttpRequestData) -> HttpResponseData:
        calls.append("x")
        if len(calls) < 3:
            raise ConnectError("refused")
        return respond("ok")

    async with HttpClient(MockEngine(flaky), install(HttpRequestRetry, **FAST)) as client:
        assert await (await client.get(URL_)).body_as_text() == "ok"

    def tls(request: HttpRequestData) -> HttpResponseData:
        raise TlsError("bad certificate")

    engine = MockEngine(tls)
    async with HttpClient(engine, install(HttpRequestRetry, **FAST)) as client:
        with pytest.raises(TlsError):
            await client.get(URL_)
    assert len(engine.requests) == 1


async def test_per_request_override_and_modify_request() -> None:
    engine = MockEngine(lambda r: respond(status=500))
    seen: list[int] = []

    def modify(request: Any, attempt: int, response: Any, cause: Any) -> None:
        request.headers["X-Attempt"] = str(attempt)
        seen.append(attempt)

    async with HttpClient(engine, install(HttpRequestRetry, modify_request=modify, **FAST)) as client:
        await client.get(URL_)
        assert len(engine.requests) == 4
        await client.get(URL_, retry=False)
        assert len(engine.requests) == 5
        await client.get(URL_, retry=1)
        assert len(engine.requests) == 7
    assert [r.headers.get("X-Attempt") for r in engine.requests[:4]] == [None, "1", "2", "3"]


async def test_a_one_shot_body_is_not_retried_with_a_clear_error() -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"data"

    engine = MockEngine(lambda r: respond(status=503))
    policy = RetryPolicy(retry_non_idempotent=True, **FAST)
    async with HttpClient(engine, install(HttpRequestRetry)) as client:
        with pytest.raises(BodyNotReplayableError, match="Not retrying POST .* after status 503"):
            await client.post(URL_, content=once(), retry=policy)
    assert len(engine.requests) == 1


async def test_retries_never_hit_the_send_limit_spuriously() -> None:
    engine = MockEngine(lambda r: respond(status=503))

    def configure(config: HttpClientConfig[Any]) -> None:
        config.max_send_count = 2
        config.install(HttpRequestRetry, max_retries=5, **FAST)

    async with HttpClient(engine, configure) as client:
        assert (await client.get(URL_)).status == 503
    assert len(engine.requests) == 6

    loop = MockEngine(lambda r: respond(status=302, headers={"Location": "/loop"}))
    async with HttpClient(loop, configure) as client:
        with pytest.raises(SendCountExceedException):
            await client.get(URL_)


# -- HttpCookies ----------------------------------------------------------------------------------------------
def test_set_cookie_parsing_follows_rfc_6265() -> None:
    url = URL("https://www.example.com/docs/guide/index.html")
    cookie = parse_set_cookie("sid=abc; Path=/; Secure; HttpOnly", url)
    assert cookie == Cookie("sid", "abc", "www.example.com", "/", None, True, True, True)
    assert parse_set_cookie("a=1", url).path == "/docs/guide"  # type: ignore[union-attr]
    assert parse_set_cookie("a=1; Domain=.example.com", url).host_only is False  # type: ignore[union-attr]
    assert parse_set_cookie("a=1; Domain=other.org", url) is None
    both = parse_set_cookie("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60", url, now=1000.0)
    assert both is not None and both.expires == 1060.0
    assert parse_set_cookie("novalue", url) is None
    assert parse_set_cookie('q="quoted"', url).value == "quoted"  # type: ignore[union-attr]


def test_the_jar_matches_domain_path_and_scheme() -> None:
    jar = AcceptAllCookiesStorage()
    origin = URL("https://www.example.com/app/page")
    for header in ("host=1", "wide=2; Domain=example.com; Path=/", "secure=3; Secure; Path=/", "deep=4; Path=/app/x"):
        cookie = parse_set_cookie(header, origin)
        assert cookie is not None
        jar.add(origin, cookie)
    names = lambda url: [c.name for c in jar.get(URL(url))]  # noqa: E731
    assert names("https://www.example.com/app/x/y") == ["deep", "host", "wide", "secure"]
    assert names("http://www.example.com/app") == ["host", "wide"]
    assert names("https://api.example.com/") == ["wide"]  # "secure" had no Domain: host-only
    assert names("https://example.org/") == []


async def test_cookies_flow_through_requests_and_stay_on_their_origin() -> None:
    engine = MockEngine(
        lambda r: respond(headers={"Set-Cookie": "token=t1; Path=/"}),
        lambda r: respond(status=302, headers={"Location": "https://elsewhere.test/"}),
        lambda r: respond("done"),
    )
    async with HttpClient(engine, install(HttpCookies)) as client:
        await client.get("https://api.test/login")
        await client.get("https://api.test/next", cookies={"mine": "1"})
    _first, hop1, hop2 = engine.requests
    assert hop1.headers["Cookie"] == "mine=1; token=t1"
    assert "Cookie" not in hop2.headers


# -- Logging, UserAgent, BodyProgress, ContentNegotiation ---------------------------------------------------
async def test_logging_levels_and_redaction(caplog: pytest.LogCaptureFixture) -> None:
    engine = MockEngine(lambda r: respond("body text", headers={"Set-Cookie": "s=1"}))
    caplog.set_level(logging.INFO, logger="tether.http")
    async with HttpClient(engine, install(Logging, level=LogLevel.INFO)) as client:
        await client.get(URL_, headers={"X-Visible": "v"})
    assert "REQUEST GET http://api.test/x" in caplog.text and "X-Visible" not in caplog.text
    caplog.clear()
    async with HttpClient(engine, install(Logging, level=LogLevel.ALL)) as client:
        response = await client.get(URL_, headers={"Cookie": "secret=1", "X-Visible": "v"})
        assert await response.body_as_text() == "body text"
    assert "X-Visible: v" in caplog.text and "Cookie: ***" in caplog.text and "Set-Cookie: ***" in caplog.text
    assert "secret=1" not in caplog.text and "body text" in caplog.text


async def test_user_agent_default_names_tether() -> None:
    engine = MockEngine(lambda r: respond())
    async with HttpClient(engine, install(UserAgent)) as client:
        await client.get(URL_)
    assert engine.requests[0].headers["User-Agent"].startswith("tether/")


async def test_upload_progress_is_not_counted_twice_across_a_redirect() -> None:
    reports: list[tuple[int, int | None]] = []
    engine = MockEngine(lambda r: respond(status=307, headers={"Location": "/b"}), lambda r: respond())
    async with HttpClient(engine, install(BodyProgress)) as client:
        await client.post(URL_, content=b"z" * 100_000, on_upload=lambda d, n: reports.append((d, n)))
    assert reports.count((100_000, 100_000)) == 2  # once per hop, each from 0 to the full size
    assert await read_body(engine.requests[1].body) == b"z" * 100_000


async def test_upload_progress_reaches_the_total_when_the_engine_stops_at_the_content_length() -> None:
    # An engine that takes exactly Content-Length bytes and never resumes the body after the last
    # piece (aiohttp cancels its writer once the response is complete), with a slow plain listener
    # running on the executor: the last report must still be the total, before the response.
    import time

    reports: list[tuple[int, int | None]] = []

    def slow(done: int, total: int | None) -> None:
        time.sleep(0.02)
        reports.append((done, total))

    class TakesTheLength(MockEngine):
        async def _execute(self, request: HttpRequestData) -> HttpResponseData:
            body = request.body
            assert isinstance(body, StreamContent) and body.content_length is not None
            pieces = body.open()
            taken = b""
            while len(taken) < body.content_length:
                taken += await pieces.__anext__()
            return await super()._execute(dataclasses.replace(request, body=ByteArrayContent(taken)))

    async with HttpClient(TakesTheLength(lambda r: respond()), install(BodyProgress)) as client:
        await client.post(URL_, content=b"z" * 200_000, on_upload=slow)
        assert reports[-1] == (200_000, 200_000)


@dataclasses.dataclass
class Item:
    id: int
    note: str | None = None


async def test_content_negotiation_types_and_errors() -> None:
    engine = MockEngine(
        lambda r: respond(
            '[{"id": 1}, {"id": 2, "note": "x", "extra": true}]', headers={"Content-Type": "application/json"}
        ),
        lambda r: respond('{"id": "not a number"}', headers={"Content-Type": "application/problem+json"}),
        lambda r: respond("<html/>", headers={"Content-Type": "text/html"}),
    )
    async with HttpClient(engine, install(ContentNegotiation)) as client:
        assert await (await client.get(URL_)).body(list[Item]) == [Item(1), Item(2, "x")]  # type: ignore[arg-type]
        with pytest.raises(ContentConversionError, match="Expected int, got str"):
            await (await client.get(URL_)).body(Item)
        with pytest.raises(TypeError, match="No transformation found"):
            await (await client.get(URL_)).body(Item)
    assert engine.requests[0].headers["Accept"] == "application/json"
