"""Every HTTP method; query strings and paths reach the server byte for byte."""

from __future__ import annotations

from tether_conformance.registry import CaseContext, case

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _method_case(method: str) -> None:
    @case("methods", method.lower())
    async def body(t: CaseContext) -> None:
        async with t.client() as client:
            echo = await t.json_of(await client.request(method, t.env.http("/echo")))
        t.equal(echo["method"], method, "method seen by the server")

    body.__name__ = f"method_{method.lower()}"


for _method in METHODS:
    _method_case(_method)


@case("methods", "head")
async def head_has_headers_but_no_body(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.head(t.env.http("/bytes?size=1234"))
        t.equal(response.status, 200)
        t.equal(response.headers.get("Content-Length"), "1234", "Content-Length of HEAD")
        t.equal(await response.body_as_bytes(), b"", "HEAD body")


@case("methods", "custom-method")
async def custom_method(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.request("PROPFIND", t.env.http("/echo")))
    t.equal(echo["method"], "PROPFIND")


@case("urls", "query-not-rewritten")
async def query_not_rewritten(t: CaseContext) -> None:
    query = "a=%2F&b=c+d&c=%41&empty=&flag&sp=%20&amp=%26"
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http(f"/echo?{query}")))
    t.equal(echo["query"], query, "query string as received")


@case("urls", "params-encoded")
async def params_are_encoded(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo?x=1"), params={"q": "a b&c=d", "n": [1, 2]}))
    t.equal(echo["query"], "x=1&q=a%20b%26c%3Dd&n=1&n=2")


@case("urls", "non-ascii-path-and-query")
async def non_ascii_is_percent_encoded(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo?name=Grüße")))
    t.equal(echo["query"], "name=Gr%C3%BC%C3%9Fe")


@case("urls", "default-request-base-url")
async def base_url_merge(t: CaseContext) -> None:
    async with t.client(lambda c: c.default_request(url=t.env.http("/ignored/"), params={"k": "v"})) as client:
        echo = await t.json_of(await client.get("/echo?x=1"))
    t.equal((echo["path"], echo["query"]), ("/echo", "x=1&k=v"))
