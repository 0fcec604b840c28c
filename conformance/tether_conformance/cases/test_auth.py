"""Auth on every engine: Basic, Bearer (preemptive, refresh, concurrency, cache control), Digest."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from tether import HttpClientConfig
from tether.plugins import Auth
from tether.plugins.auth import (
    BasicAuthCredentials,
    BasicAuthProvider,
    BearerAuthProvider,
    BearerTokens,
    RefreshTokensParams,
)
from tether_conformance.registry import CaseContext, case

CREDENTIALS = BasicAuthCredentials("alice", "s3cret")


def auth(block: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(Auth, block)

    return configure


class Counter:
    def __init__(self, *values: str) -> None:
        self.values = list(values)
        self.calls = 0

    async def __call__(self, *args: Any) -> BearerTokens | None:
        self.calls += 1
        await asyncio.sleep(0.01)  # a real token endpoint takes time: concurrent callers overlap
        value = self.values[min(self.calls, len(self.values)) - 1]
        return BearerTokens(value) if value else None


@case("auth", "basic-on-challenge")
async def basic(t: CaseContext) -> None:
    before = t.env.counter.requests
    async with t.client(auth(lambda a: a.basic(credentials=CREDENTIALS))) as client:
        response = await client.get(t.env.http("/auth/basic"))
    t.equal((int(response.status), await response.body_as_text()), (200, "basic ok"))
    t.equal(t.env.counter.requests - before, 2, "requests (401, then with credentials)")


@case("auth", "basic-preemptive")
async def basic_preemptive(t: CaseContext) -> None:
    before = t.env.counter.requests
    block = lambda a: a.basic(credentials=CREDENTIALS, send_without_request=lambda r: True)  # noqa: E731
    async with t.client(auth(block)) as client:
        response = await client.get(t.env.http("/auth/basic"))
    t.equal(int(response.status), 200)
    t.equal(t.env.counter.requests - before, 1, "requests")


@case("auth", "bearer-preemptive")
async def bearer_preemptive(t: CaseContext) -> None:
    load = Counter("fresh")
    async with t.client(auth(lambda a: a.bearer(load_tokens=load))) as client:
        first = await client.get(t.env.http("/auth/bearer"))
        second = await client.get(t.env.http("/auth/bearer"))
    t.equal((int(first.status), int(second.status), load.calls), (200, 200, 1), "statuses and loads")


@case("auth", "bearer-refresh-on-401")
async def bearer_refresh(t: CaseContext) -> None:
    load, refresh = Counter("stale"), Counter("fresh")
    async with t.client(auth(lambda a: a.bearer(load_tokens=load, refresh_tokens=refresh))) as client:
        response = await client.get(t.env.http("/auth/bearer"))
        again = await client.get(t.env.http("/auth/bearer"))
    t.equal((int(response.status), int(again.status)), (200, 200))
    t.equal((load.calls, refresh.calls), (1, 1), "loads and refreshes")


@case("auth", "refresh-returning-none-gives-the-401")
async def refresh_none(t: CaseContext) -> None:
    async with t.client(auth(lambda a: a.bearer(load_tokens=Counter("stale"), refresh_tokens=Counter("")))) as client:
        response = await client.get(t.env.http("/auth/bearer"))
    t.equal(int(response.status), 401)


@case("auth", "50-concurrent-401s-one-refresh")
async def concurrent_refresh(t: CaseContext) -> None:
    load, refresh = Counter("stale"), Counter("fresh")
    async with t.client(auth(lambda a: a.bearer(load_tokens=load, refresh_tokens=refresh))) as client:
        responses = await asyncio.gather(*(client.get(t.env.http(f"/auth/bearer?i={i}")) for i in range(50)))
    t.equal([int(r.status) for r in responses], [200] * 50, "statuses")
    t.equal((load.calls, refresh.calls), (1, 1), "loads and refreshes")


@case("auth", "cache-tokens-false-loads-per-request")
async def no_cache(t: CaseContext) -> None:
    load = Counter("fresh")
    async with t.client(auth(lambda a: a.bearer(load_tokens=load, cache_tokens=False))) as client:
        for _ in range(3):
            t.equal(int((await client.get(t.env.http("/auth/bearer"))).status), 200)
    t.equal(load.calls, 3, "loads")


@case("auth", "clear-auth-tokens-forces-a-reload")
async def clear_tokens(t: CaseContext) -> None:
    load = Counter("fresh", "fresh")
    async with t.client(auth(lambda a: a.bearer(load_tokens=load))) as client:
        await client.get(t.env.http("/auth/bearer"))
        client.clear_auth_tokens()
        await client.get(t.env.http("/auth/bearer"))
        provider = client.auth_provider(BearerAuthProvider)
        t.check(provider is not None, "no BearerAuthProvider")
        assert provider is not None
        provider.clear_token()
        await client.get(t.env.http("/auth/bearer"))
    t.equal(load.calls, 3, "loads")


@case("auth", "auth-provider-lookup")
async def lookup(t: CaseContext) -> None:
    block = lambda a: (a.bearer(load_tokens=Counter("x")), a.basic(credentials=CREDENTIALS))  # noqa: E731
    async with t.client(auth(block)) as client:
        bearer = client.auth_provider(BearerAuthProvider)
        basic = client.auth_provider(BasicAuthProvider)
        kinds = [type(p).__name__ for p in client.auth_providers]
    t.check(bearer is not None and basic is not None, "providers found")
    t.equal(sorted(kinds), ["BasicAuthProvider", "BearerAuthProvider"])


def _digest_case(algorithm: str) -> None:
    @case("auth", f"digest-{algorithm.lower()}")
    async def body(t: CaseContext) -> None:
        async with t.client(auth(lambda a: a.digest(credentials=CREDENTIALS, algorithm=algorithm))) as client:
            response = await client.get(t.env.http(f"/auth/digest?algorithm={algorithm}"))
        t.equal((int(response.status), await response.body_as_text()), (200, f"digest {algorithm} ok"))


for _algorithm in ("MD5", "SHA-256"):
    _digest_case(_algorithm)


@case("auth", "multiple-challenges-in-one-header")
async def multiple_challenges(t: CaseContext) -> None:
    challenge = quote('Newauth realm="apps", type=1, title="Login to \\"apps\\"", BASIC realm="simple"')
    async with t.client(auth(lambda a: a.basic(credentials=CREDENTIALS, realm="simple"))) as client:
        response = await client.get(t.env.http(f"/auth/basic?challenge={challenge}"))
    t.equal(int(response.status), 200)


@case("auth", "cross-origin-redirect-drops-authorization")
async def cross_origin(t: CaseContext) -> None:
    target = quote(t.env.https("/echo"), safe="")
    async with t.client(auth(lambda a: a.bearer(load_tokens=Counter("fresh")))) as client:
        echo = await t.json_of(await client.get(t.env.http(f"/redirect?to={target}")))
    t.equal(t.header_values(echo, "authorization"), [], "Authorization at the other origin")


@case("auth", "refresh-with-the-same-client-is-not-intercepted")
async def refresh_same_client(t: CaseContext) -> None:
    async def refresh(params: RefreshTokensParams) -> BearerTokens:
        # The refresh call goes through the same client, without Auth (auth=False).
        response = await params.client.get(t.env.http("/auth/bearer?valid=none"), auth=False)
        t.equal(int(response.status), 401, "the refresh call was left alone")
        return BearerTokens("fresh")

    async with t.client(auth(lambda a: a.bearer(load_tokens=Counter("stale"), refresh_tokens=refresh))) as client:
        response = await client.get(t.env.http("/auth/bearer"))
    t.equal(int(response.status), 200)
