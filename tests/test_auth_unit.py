"""Auth's pure parts and pipeline logic: challenge parsing, the token holder under concurrency,
Digest computation (RFC 7616's own example), and the plugin's decisions on the MockEngine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import BodyNotReplayableError, HttpClient, HttpClientConfig
from tether.plugins import Auth
from tether.plugins.auth import (
    AuthChallenge,
    AuthTokenHolder,
    BasicAuthCredentials,
    BearerTokens,
    DigestAuthProvider,
    parse_challenges,
)
from tether.plugins.auth.challenge import AuthChallenge as Challenge
from tether.request import HttpRequestBuilder, HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, respond


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Basic realm="simple"', [AuthChallenge("Basic", {"realm": "simple"})]),
        ("bearer", [AuthChallenge("bearer")]),
        ("Bearer abc==", [AuthChallenge("Bearer", {}, "abc==")]),
        (
            'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
            [
                AuthChallenge("Newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
                AuthChallenge("Basic", {"realm": "simple"}),
            ],
        ),
        (
            'Bearer realm="a,b", Error="invalid_token"',
            [AuthChallenge("Bearer", {"realm": "a,b", "error": "invalid_token"})],
        ),
        ("Basic, Bearer", [AuthChallenge("Basic"), AuthChallenge("Bearer")]),
    ],
)
def test_challenges_are_parsed(header: str, expected: list[AuthChallenge]) -> None:
    assert parse_challenges([header]) == expected


def test_scheme_matching_is_case_insensitive() -> None:
    assert Challenge("BASIC").matches("Basic")


async def test_concurrent_loads_collapse_into_one() -> None:
    calls = 0

    async def load() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "token"

    holder: AuthTokenHolder[str] = AuthTokenHolder(load)
    assert await asyncio.gather(*(holder.load() for _ in range(20))) == ["token"] * 20
    assert calls == 1


async def test_a_clear_during_a_load_leaves_no_stale_token() -> None:
    release = asyncio.Event()
    values = iter(["old", "new"])

    async def load() -> str:
        await release.wait()
        return next(values)

    holder: AuthTokenHolder[str] = AuthTokenHolder(load)
    first = asyncio.ensure_future(holder.load())
    await asyncio.sleep(0)
    holder.clear()
    release.set()
    assert await first == "old"  # the waiter still gets what it asked for ...
    assert holder.current is None  # ... but it is not kept
    assert await holder.load() == "new"


async def test_refresh_with_an_older_token_returns_the_current_one() -> None:
    holder: AuthTokenHolder[str] = AuthTokenHolder(lambda: "v1")
    await holder.load()
    refreshes = 0

    async def refresh() -> str:
        nonlocal refreshes
        refreshes += 1
        await asyncio.sleep(0.01)
        return "v2"

    results = await asyncio.gather(*(holder.refresh("v1", refresh) for _ in range(10)))
    assert results == ["v2"] * 10 and refreshes == 1
    assert await holder.refresh("v1", refresh) == "v2"  # sent with v1, v2 exists: no new refresh
    assert refreshes == 1


def test_clear_is_callable_from_another_thread() -> None:
    holder: AuthTokenHolder[str] = AuthTokenHolder(lambda: "t")
    asyncio.run(holder.load())
    import threading

    thread = threading.Thread(target=holder.clear)
    thread.start()
    thread.join()
    assert holder.current is None


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
async def test_digest_matches_the_rfc_7616_example(algorithm: str, expected: str, monkeypatch: Any) -> None:
    provider = DigestAuthProvider(lambda: BasicAuthCredentials("Mufasa", "Circle of Life"), algorithm=algorithm)
    monkeypatch.setattr(provider, "new_cnonce", lambda: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    challenge = Challenge(
        "Digest",
        {
            "realm": "http-auth@example.org",
            "qop": "auth, auth-int",
            "algorithm": algorithm,
            "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
        },
    )
    request = HttpRequestBuilder("GET", "http://www.example.org/dir/index.html")
    await provider.add_request_headers(request, challenge)
    header = request.headers["Authorization"]
    assert f'response="{expected}"' in header
    assert "nc=00000001" in header and 'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"' in header
    assert 'uri="/dir/index.html"' in header


def test_unknown_digest_algorithms_are_rejected() -> None:
    with pytest.raises(ValueError, match="MD5 or SHA-256"):
        DigestAuthProvider(lambda: None, algorithm="SHA-1")


async def test_a_one_shot_body_is_not_resent_after_a_401() -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"x"

    engine = MockEngine(lambda r: respond(status=401, headers={"WWW-Authenticate": 'Basic realm="r"'}))

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(Auth, lambda a: a.basic(credentials=BasicAuthCredentials("u", "p")))

    async with HttpClient(engine, configure) as client:
        with pytest.raises(BodyNotReplayableError, match="after a 401"):
            await client.post("http://h/", content=once())


async def test_the_circuit_breaker_resends_only_once() -> None:
    engine = MockEngine(lambda r: respond(status=401, headers={"WWW-Authenticate": "Bearer"}))
    tokens = iter(["a", "b", "c"])

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(
            Auth,
            lambda a: a.bearer(
                load_tokens=lambda: BearerTokens(next(tokens)), refresh_tokens=lambda p: BearerTokens(next(tokens))
            ),
        )

    async with HttpClient(engine, configure) as client:
        assert (await client.get("http://h/")).status == 401
    assert [r.headers["Authorization"] for r in engine.requests] == ["Bearer a", "Bearer b"]


async def test_no_provider_for_an_unknown_scheme_returns_the_401() -> None:
    def answer(request: HttpRequestData) -> HttpResponseData:
        return respond(status=401, headers={"WWW-Authenticate": "Negotiate"})

    engine = MockEngine(answer)

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(Auth, lambda a: a.basic(credentials=BasicAuthCredentials("u", "p")))

    async with HttpClient(engine, configure) as client:
        assert (await client.get("http://h/")).status == 401
    assert len(engine.requests) == 1


def _digest_client(handler: Any) -> HttpClient:
    engine = MockEngine(handler)

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(Auth, lambda auth: auth.digest(credentials=("ada", "pw"), algorithm="MD5"))

    return HttpClient(engine, configure)


async def test_digest_quotes_challenge_values_that_hold_a_quote() -> None:
    # The challenge's nonce is `a"b\c` (escaped on the wire): sent back escaped, never `nonce="a"b\c"`.
    def handler(request: HttpRequestData) -> HttpResponseData:
        if "Authorization" in request.headers:
            return respond(request.headers["Authorization"])
        return respond("", 401, headers={"WWW-Authenticate": 'Digest realm="r", nonce="a\\"b\\\\c", qop="auth"'})

    async with _digest_client(handler) as client:
        sent = await (await client.get("http://h/")).body_as_text()
    assert 'nonce="a\\"b\\\\c"' in sent
    assert parse_challenges([sent])[0].params["nonce"] == 'a"b\\c'


async def test_a_stale_digest_nonce_is_answered_once_more() -> None:
    nonces = iter(["first", "second", "third"])
    seen: list[str] = []

    def handler(request: HttpRequestData) -> HttpResponseData:
        seen.append(request.headers.get("Authorization", ""))
        stale = ", stale=true" if len(seen) > 1 else ""
        challenge = f'Digest realm="r", nonce="{next(nonces)}", qop="auth"{stale}'
        return respond("", 401, headers={"WWW-Authenticate": challenge})

    async with _digest_client(handler) as client:
        response = await client.get("http://h/")
    assert int(response.status) == 401
    assert len(seen) == 3  # the first send, the answer to "first", one more for the stale "second"
    assert 'nonce="first"' in seen[1] and 'nonce="second"' in seen[2]


async def test_a_digest_challenge_offering_only_auth_int_is_not_answered() -> None:
    sends = 0

    def handler(request: HttpRequestData) -> HttpResponseData:
        nonlocal sends
        sends += 1
        return respond("", 401, headers={"WWW-Authenticate": 'Digest realm="r", nonce="n", qop="auth-int"'})

    async with _digest_client(handler) as client:
        response = await client.get("http://h/")
    assert (int(response.status), sends) == (401, 1)
