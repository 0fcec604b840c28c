"""Request and response headers."""

from __future__ import annotations

from tether.engine import Http2Capability
from tether.exceptions import InvalidHeaderError, UnsafeHeaderException
from tether_conformance.registry import CaseContext, case

#: What an engine may add on its own: the connection's business, not the application's.
TRANSPORT_HEADERS = {"host", "content-length", "connection", "accept-encoding", "te", "transfer-encoding"}


@case("headers", "single-host")
async def single_host(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo")))
    hosts = t.header_values(echo, "host")
    t.equal(hosts, [f"127.0.0.1:{t.env.http_port}"], "Host headers")


@case("headers", "no-library-default-headers")
async def only_our_headers(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo"), headers={"X-Mine": "1"}))
    extra = sorted(set(t.header_names(echo)) - TRANSPORT_HEADERS)
    t.equal(extra, ["x-mine"], "headers beyond the transport's own")


@case("headers", "custom-request-headers")
async def custom_request_headers(t: CaseContext) -> None:
    headers = [("X-One", "1"), ("X-Unicode-Free", "plain value"), ("X-Empty", "")]
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo"), headers=headers))
    for name, value in headers:
        t.equal(t.header_values(echo, name), [value], name)


@case("headers", "repeated-request-header")
async def repeated_request_header(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo"), headers=[("X-Repeat", "a"), ("X-Repeat", "b")]))
    values = ", ".join(t.header_values(echo, "x-repeat"))
    t.equal(values, "a, b", "repeated header (joined)")


@case("headers", "case-insensitive-response")
async def case_insensitive_access(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/headers/multi"))
    t.equal(response.headers["X-MIXED-CASE"], "Kept")
    t.equal(response.headers["x-mixed-case"], "Kept")


@case("headers", "multiple-response-values")
async def multiple_values(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/headers/multi"))
    t.equal(response.headers.get_all("Set-Cookie"), ["a=1; Path=/", "b=2; Path=/"])
    t.equal(response.headers.get_split_values("X-Multi"), ["one", "two"])


@case("headers", "many-response-headers")
async def many_response_headers(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/headers/many?count=150"))
    names = [n for n in response.headers if n.lower().startswith("x-header-")]
    t.equal(len(names), 150, "X-Header-* count")
    t.equal(response.headers["X-Header-149"], "value-149-" + "v" * 40)


@case("headers", "many-request-headers")
async def many_request_headers(t: CaseContext) -> None:
    headers = {f"X-Req-{i}": f"{i}-" + "r" * 50 for i in range(100)}
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo"), headers=headers))
    t.equal(len([n for n in t.header_names(echo) if n.startswith("x-req-")]), 100)


@case("headers", "unsafe-transfer-encoding-rejected")
async def unsafe_transfer_encoding(t: CaseContext) -> None:
    before = t.env.requests_seen
    async with t.client() as client:
        await t.raises(UnsafeHeaderException, client.get(t.env.http("/echo"), headers={"Transfer-Encoding": "chunked"}))
    t.equal(t.env.requests_seen, before, "requests sent")


@case("headers", "unsafe-upgrade-rejected")
async def unsafe_upgrade(t: CaseContext) -> None:
    async with t.client() as client:
        await t.raises(UnsafeHeaderException, client.get(t.env.http("/echo"), headers={"Upgrade": "h2c"}))


async def _refused(t: CaseContext, headers: list[tuple[str, str]]) -> None:
    """Each header alone is refused with InvalidHeaderError naming it, and nothing reaches the server."""
    before = t.env.requests_seen
    async with t.client() as client:
        for name, value in headers:
            error = await t.raises(InvalidHeaderError, client.get(t.env.http("/echo"), headers=[(name, value)]))
            t.equal(error.header, name, f"the header named for {name!r}: {value!r}")
    t.equal(t.env.requests_seen, before, "requests sent")


@case("headers", "request-header-injection-rejected")
async def header_injection(t: CaseContext) -> None:
    await _refused(
        t,
        [
            ("X-Inject", "a\r\nX-Injected: 1"),
            ("X-Lf", "a\nX-Injected: 1"),
            ("X-Cr", "a\rb"),
            ("X-Nul", "a\x00b"),
            ("X-Ctl", "a\x01b"),
            ("X-Del", "a\x7fb"),
        ],
    )


@case("headers", "invalid-request-header-name-rejected")
async def invalid_header_name(t: CaseContext) -> None:
    await _refused(t, [("X Space", "1"), ("X-Colon:", "1"), ("", "1"), ("X-\u00dcml", "1"), ("X-A\r\nX-B", "1")])


@case("headers", "non-ascii-request-header-value-rejected")
async def non_ascii_value(t: CaseContext) -> None:
    # Latin-1 on one library, UTF-8 on another, an encoding error on the rest: refused on every engine.
    await _refused(t, [("X-Latin", "caf\u00e9"), ("X-Euro", "\u20ac")])


@case("headers", "request-header-values-trimmed")
async def request_values_trimmed(t: CaseContext) -> None:
    headers = [("X-Padded", " \tspaced value \t"), ("X-Inner-Tab", "a\tb"), ("X-Blank", "  ")]
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo"), headers=headers))
    t.equal(t.header_values(echo, "x-padded"), ["spaced value"], "X-Padded")
    t.equal(t.header_values(echo, "x-inner-tab"), ["a\tb"], "X-Inner-Tab")
    t.equal(t.header_values(echo, "x-blank"), [""], "X-Blank")


@case("headers", "padded-values-trimmed")
async def padded_values(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.raw_url("header-value-padding"))
    t.equal(response.headers["X-Padded"], "spaced value")


@case("headers", "no-pseudo-headers-over-http2", requires=[Http2Capability])
async def no_pseudo_headers(t: CaseContext) -> None:
    async with t.client(requires=[Http2Capability]) as client:
        response = await client.get(t.env.https("/headers/multi"))
    t.equal(str(response.version), "HTTP/2.0")
    t.check(not any(name.startswith(":") for name in response.headers), f"pseudo-headers in {response.headers}")


@case("headers", "cookies-keyword")
async def cookies_keyword(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo"), cookies={"a": "1", "b": "2"}))
    t.equal(t.header_values(echo, "cookie"), ["a=1; b=2"])


@case("headers", "response-reason-phrase")
async def reason_phrase(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.raw_url("reason-phrase-custom"))
    t.equal((int(response.status), response.status.description), (299, "Totally Custom Reason"))


@case("headers", "non-ascii-value-decoded-as-latin-1")
async def latin1_value(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.raw_url("latin-1-header-value"))
    t.equal(response.headers["X-Latin"], "caf\u00e9", "obs-text bytes as ISO-8859-1 (RFC 9110 5.5)")


@case("headers", "interim-responses-skipped")
async def interim_responses(t: CaseContext) -> None:
    # 100 Continue and 103 Early Hints before the final head: the response is the final one.
    async with t.client() as client:
        response = await client.get(t.env.raw_url("interim-heads"))
        body = await response.body_as_bytes()
    t.equal(
        (int(response.status), response.headers.get("X-Final"), response.headers.get("Link"), body),
        (200, "yes", None, b"body"),
    )
