"""Redirects, followed by tether's HttpRedirect on every engine (engines never follow on their own)."""

from __future__ import annotations

from typing import Any

from tether import HttpClientConfig, SendCountExceedException
from tether_conformance.registry import CaseContext, case


@case("redirects", "relative")
async def relative(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/redirect?to=echo%3Fafter%3D1"))
        echo = await t.json_of(response)
    t.equal((echo["path"], echo["query"]), ("/echo", "after=1"))
    t.equal(str(response.request.url), t.env.http("/echo?after=1"), "final URL")


@case("redirects", "absolute")
async def absolute(t: CaseContext) -> None:
    target = t.env.http("/echo?abs=1")
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/redirect"), params={"to": target}))
    t.equal(echo["query"], "abs=1")


@case("redirects", "chain-of-five")
async def chain(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/redirect/chain/5")))
    t.equal(echo["path"], "/echo")


@case("redirects", "loop-exceeds-send-count")
async def loop(t: CaseContext) -> None:
    async with t.client() as client:
        await t.raises(SendCountExceedException, client.get(t.env.http("/redirect/loop")))


@case("redirects", "303-becomes-get")
async def see_other(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/redirect?to=/echo&status=303"), content=b"body"))
    t.equal((echo["method"], echo["body_length"]), ("GET", 0))


@case("redirects", "307-keeps-method-and-body")
async def temporary(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/redirect?to=/echo&status=307"), content=b"body"))
    t.equal((echo["method"], echo["body_text"]), ("POST", "body"))


@case("redirects", "308-keeps-method-and-body")
async def permanent(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.put(t.env.http("/redirect?to=/echo&status=308"), content=b"body"))
    t.equal((echo["method"], echo["body_text"]), ("PUT", "body"))


@case("redirects", "no-location-returns-3xx")
async def no_location(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/redirect?status=302"))
    t.equal(int(response.status), 302)


@case("redirects", "disabled")
async def disabled(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.follow_redirects = False

    async with t.client(configure) as client:
        response = await client.get(t.env.http("/redirect?to=/echo"))
    t.equal((int(response.status), response.headers["Location"]), (302, "/echo"))


@case("redirects", "cross-origin-drops-authorization")
async def cross_origin(t: CaseContext) -> None:
    target = t.env.https("/echo")  # another scheme, host and port: another origin
    async with t.client() as client:
        response = await client.get(
            t.env.http("/redirect"),
            params={"to": target},
            headers={"Authorization": "Bearer secret", "X-Kept": "1"},
            cookies={"sid": "secret"},
        )
        echo = await t.json_of(response)
    t.equal(t.header_values(echo, "authorization"), [], "Authorization after a cross-origin redirect")
    t.equal(t.header_values(echo, "cookie"), [], "Cookie after a cross-origin redirect")
    t.equal(t.header_values(echo, "x-kept"), ["1"])


@case("redirects", "same-origin-keeps-authorization")
async def same_origin(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(
            await client.get(t.env.http("/redirect?to=/echo"), headers={"Authorization": "Bearer t"})
        )
    t.equal(t.header_values(echo, "authorization"), ["Bearer t"])
