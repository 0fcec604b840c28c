"""Faults in framing: the same bytes on the wire give the same verdict on every engine (issue 15 §1, §3,
§4). Each policy is written down in docs/conformance.md ("Framing faults: one verdict")."""

from __future__ import annotations

from typing import Any

from tether import HttpClientConfig, ProtocolError
from tether_conformance.registry import CaseContext, case


def _no_redirects(config: HttpClientConfig[Any]) -> None:
    config.follow_redirects = False


async def _next_request_gets_its_own_answer(t: CaseContext, client: Any) -> None:
    response = await client.get(t.env.raw_url("ok"))
    t.equal(await response.body_as_bytes(), b"ok", "the next request's body (not bytes left on the connection)")


def _extra_bytes_case(name: str, raw: str, method: str, status: int, body: bytes, what: str) -> None:
    """RFC 9112 6.3: bytes after a complete response are never a response of their own; the response
    is delivered as its framing says, and the connection is not used again."""

    @case("faults", name)
    async def check(t: CaseContext) -> None:
        async with t.client() as client:
            response = await client.request(method, t.env.raw_url(raw))
            t.equal((int(response.status), await response.body_as_bytes()), (status, body), "the response")
            await _next_request_gets_its_own_answer(t, client)

    check.__doc__ = what


for _name, _raw, _method, _status, _body, _what in [
    ("stale-bytes-after-204", "faults-204-length-then-stale", "GET", 204, b"", "a 204 with Content-Length: 46"),
    ("stale-bytes-after-304", "faults-304-then-stale", "GET", 304, b"", "a 304 followed by a response"),
    ("stale-bytes-after-body", "faults-body-then-stale", "GET", 200, b"hello", "a response after the body"),
    ("head-response-with-body", "faults-head-with-body", "HEAD", 200, b"", "a HEAD answered with a body"),
    ("204-with-body", "faults-204-with-body", "GET", 204, b"", "a 204 with a body"),
    ("body-longer-than-content-length", "faults-longer-than-length", "GET", 200, b"hello", "more than promised"),
    ("chunked-with-padded-value", "faults-chunked-value-padded", "GET", 200, b"hello", "'chunked ' is chunked"),
    (
        "stale-bytes-after-last-chunk",
        "faults-chunked-then-stale",
        "GET",
        200,
        b"hello",
        "a response after a chunked one",
    ),
]:
    _extra_bytes_case(_name, _raw, _method, _status, _body, _what)


def _rejected_case(name: str, raw: str, what: str) -> None:
    @case("faults", name)
    async def check(t: CaseContext) -> None:
        async with t.client(_no_redirects) as client:
            await t.raises(ProtocolError, client.get(t.env.raw_url(raw)))
            await _next_request_gets_its_own_answer(t, client)

    check.__doc__ = what


for _name, _raw, _what in [
    ("status-099", "faults-status-099", "a status code below 100 is no status class"),
    ("status-101-without-upgrade", "faults-status-101-no-upgrade", "a switch nobody asked for"),
    ("status-101-with-upgrade", "faults-status-101-upgrade", "execute() never asks to switch protocols"),
    ("content-length-superscript-two", "faults-length-superscript", "Content-Length: ² (not an ASCII digit)"),
    ("content-length-list", "faults-length-list", "Content-Length: 5, 5"),
    ("content-length-repeated", "faults-length-repeated", "two Content-Length: 5 lines"),
    ("content-length-plus", "faults-length-plus", "Content-Length: +5"),
    ("chunk-size-0x", "faults-chunk-size-0x", "chunk size 0x5 (1*HEXDIG only)"),
    ("chunk-size-plus", "faults-chunk-size-plus", "chunk size +5"),
    ("chunked-lf-only", "faults-chunked-lf-only", "chunk lines ending in a bare LF"),
    ("chunk-size-line-lf", "faults-chunk-size-lf", "a chunk-size line ending in a bare LF"),
    ("chunk-longer-than-size", "faults-chunk-too-long", "a chunk longer than its size"),
    ("chunk-data-line-lf", "faults-chunk-data-lf", "chunk data followed by a bare LF"),
    ("chunk-size-space-before-extension", "faults-chunk-size-space-before-ext", "5 ;a=b (h11 refuses the BWS)"),
    ("chunked-cut-in-trailer-section", "faults-chunked-cut-in-trailer", "the stream ends before the empty line"),
    ("reset-after-request", "faults-reset-after-request", "a reset once the request was read (no retry)"),
    ("space-before-first-header-line", "faults-space-before-first-field", "RFC 9112 2.2: ' X-A: one' after the status"),
    ("tab-before-first-header-line", "faults-tab-before-first-field", "RFC 9112 2.2: '\\tX-A: one' after the status"),
]:
    _rejected_case(_name, _raw, _what)


@case("faults", "folded-header-value-is-unfolded-to-one-space")
async def folded_value(t: CaseContext) -> None:
    """RFC 9112 5.2: a user agent replaces an obsolete line folding (and the whitespace around it, a tab
    included) with one space; the field lines around it are untouched."""
    async with t.client() as client:
        response = await client.get(t.env.raw_url("faults-folded-value"))
        t.equal((response.headers.get_all("X-A"), response.headers.get_all("X-B")), (["one two three"], ["b"]))
        t.equal(await response.body_as_bytes(), b"ok", "the body")
        await _next_request_gets_its_own_answer(t, client)


@case("faults", "reason-phrase-bytes-are-latin-1-text")
async def reason_not_ascii(t: CaseContext) -> None:
    """The reason phrase's bytes decode as ISO-8859-1, one character each, as header values do: never
    dropped, never a lone surrogate that a later .encode() fails on."""
    async with t.client() as client:
        response = await client.get(t.env.raw_url("faults-reason-phrase-not-ascii"))
        description = response.status.description
        t.equal((int(response.status), description), (200, "\u00c3\u00a9t\u00e9"), "(status, reason phrase)")
        t.equal(description.encode("latin-1"), b"\xc3\xa9t\xe9", "the reason phrase's bytes")
        t.equal(await response.body_as_bytes(), b"ok", "the body")


def _reused_connection_case(name: str, raw: str, body: bytes | None, what: str) -> None:
    """The same verdict for a response on a kept-alive connection as on a new one (an engine that
    checks framing per connection, or keeps the first response's parsing settings, would differ):
    a HEAD first, then the response on the same connection. `body` None: a ProtocolError."""

    @case("faults", f"{name}-on-a-reused-connection")
    async def check(t: CaseContext) -> None:
        async with t.client(_no_redirects) as client:
            before = t.env.raw.connections
            head = await client.head(t.env.raw_url("faults-keep-open-head"))
            t.equal((int(head.status), await head.body_as_bytes()), (200, b""), "the HEAD response")
            if body is None:
                await t.raises(ProtocolError, client.get(t.env.raw_url(raw)))
            else:
                response = await client.get(t.env.raw_url(raw))
                t.equal(await response.body_as_bytes(), body, "the body")
            t.equal(t.env.raw.connections - before, 1, "connections (the second request reused the HEAD's)")
            await _next_request_gets_its_own_answer(t, client)

    check.__doc__ = what


for _name, _raw, _reused_body, _what in [
    ("chunked-lf-only", "faults-chunked-lf-only", None, "chunk lines ending in a bare LF"),
    ("chunk-data-line-lf", "faults-chunk-data-lf", None, "chunk data followed by a bare LF"),
    ("body-longer-than-content-length", "faults-longer-than-length", b"hello", "more than promised"),
    ("stale-bytes-after-last-chunk", "faults-chunked-then-stale", b"hello", "a response after a chunked one"),
]:
    _reused_connection_case(_name, _raw, _reused_body, _what)


@case("faults", "chunk-size-space-before-crlf-is-taken")
async def chunk_size_space(t: CaseContext) -> None:
    """Whitespace between a chunk size and its CRLF is taken, as h11, llhttp and http.client take it."""
    async with t.client() as client:
        response = await client.get(t.env.raw_url("faults-chunk-size-space-before-crlf"))
        t.equal(await response.body_as_bytes(), b"hello", "body")


@case("faults", "204-with-chunked-body-has-no-body")
async def no_content_chunked(t: CaseContext) -> None:
    """A 204 has no body whatever its head says (RFC 9110 6.4.1), a chunked one included."""
    async with t.client() as client:
        response = await client.get(t.env.raw_url("faults-204-chunked-body"))
        t.equal((int(response.status), await response.body_as_bytes()), (204, b""), "the response")


async def _after_a_kept_alive_connection_drops(t: CaseContext, method: str, content: bytes | None) -> Any:
    """The first request leaves a kept-alive connection that the server closes as soon as the next
    request arrives on it, before any byte of the answer."""
    async with t.client() as client:
        first = await client.get(t.env.raw_url("faults-keep-alive-then-drop"))
        t.equal(await first.body_as_bytes(), b"first", "the first response")
        before = t.env.counter.requests
        try:
            response = await client.request(method, t.env.raw_url("ok"), content=content)
            return int(response.status), await response.body_as_bytes(), t.env.counter.requests - before
        except ProtocolError:
            return ProtocolError, t.env.counter.requests - before


@case("faults", "stale-pooled-connection-retries-get")
async def stale_get(t: CaseContext) -> None:
    """RFC 9112 9.3.1: an idempotent request is sent once more, on a new connection."""
    t.equal(await _after_a_kept_alive_connection_drops(t, "GET", None), (200, b"ok", 2), "(status, body, requests)")


@case("faults", "stale-pooled-connection-retries-put")
async def stale_put(t: CaseContext) -> None:
    """PUT is idempotent (RFC 9110 9.2.2) and an in-memory body can be sent again."""
    t.equal(await _after_a_kept_alive_connection_drops(t, "PUT", b"x"), (200, b"ok", 2), "(status, body, requests)")


@case("faults", "stale-pooled-connection-never-retries-post")
async def stale_post(t: CaseContext) -> None:
    """A POST is never sent twice: the server may have acted on it."""
    t.equal(await _after_a_kept_alive_connection_drops(t, "POST", b"x"), (ProtocolError, 1), "(outcome, requests)")


@case("faults", "stale-pooled-connection-never-retries-empty-post")
async def stale_empty_post(t: CaseContext) -> None:
    t.equal(await _after_a_kept_alive_connection_drops(t, "POST", b""), (ProtocolError, 1), "(outcome, requests)")


def _refused_head_case(name: str, raw: str, what: str) -> None:
    """A connection whose response head tether refused is closed, never pooled for a later request."""

    @case("faults", name)
    async def check(t: CaseContext) -> None:
        async with t.client() as client:
            await t.raises(ProtocolError, client.get(t.env.raw_url(raw)))
            await _next_request_gets_its_own_answer(t, client)

    check.__doc__ = what


for _name, _raw, _what in [
    ("refused-head-with-stale-bytes-never-reused", "faults-bad-head-then-stale", "a bad header name, then bytes"),
    ("refused-content-length-list-never-reused", "faults-refused-head-tell-reuse", "the parser took it, tether not"),
    ("refused-status-never-reused", "faults-bad-status-tell-reuse", "status 099, then a reused connection"),
    ("refused-header-value-never-reused", "faults-nul-in-header-tell-reuse", "a NUL in a header value"),
]:
    _refused_head_case(_name, _raw, _what)


# -- No engine keeps state tether does not own (issue 15 §3) -------------------------------------------


async def _cookies_sent(t: CaseContext, client: Any, url: str) -> list[str]:
    echo = await t.json_of(await client.get(url))
    return t.header_values(echo, "Cookie")


@case("faults", "engine-keeps-no-cookies")
async def no_engine_cookies(t: CaseContext) -> None:
    """Without the HttpCookies plugin a Set-Cookie is never sent back: not to the same origin, not on a
    redirect hop, not from a client.config() sibling."""
    async with t.client() as client:
        response = await client.get(t.env.http("/cookies/set?c=session%3Dsecret%3B%20Path%3D%2F"))
        t.equal(response.headers.get_all("Set-Cookie"), ["session=secret; Path=/"], "the cookie was set")
        t.equal(await _cookies_sent(t, client, t.env.http("/echo")), [], "same origin")
        t.equal(await _cookies_sent(t, client, t.env.http("/redirect?to=/echo")), [], "after a redirect hop")
        async with client.config(lambda config: None) as sibling:
            t.equal(await _cookies_sent(t, sibling, t.env.http("/echo")), [], "a client.config() sibling")
