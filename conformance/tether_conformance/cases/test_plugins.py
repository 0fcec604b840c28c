"""The standard plugins behave the same on every engine."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from tether import HttpClientConfig
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
from tether.plugins.content_encoding import DecompressedSizeExceededError
from tether.plugins.retry import RetryPolicy
from tether_conformance.registry import CaseContext, case

TEXT = ("tether " * 500).encode()


def installing(plugin: Any, **fields: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(plugin, **fields)

    return configure


def _encoding_case(kind: str) -> None:
    @case("plugins", f"content-encoding-{kind}")
    async def body(t: CaseContext) -> None:
        async with t.client(installing(ContentEncoding)) as client:
            response = await client.get(t.env.http(f"/compressed/{kind}"))
            data = await response.body_as_bytes()
        t.equal(data, TEXT, f"{kind}-decoded body")
        t.equal(response.headers.get("Content-Encoding"), None, "Content-Encoding after decoding")


for _kind in ("gzip", "deflate", "br", "zstd"):
    _encoding_case(_kind)


@case("plugins", "content-encoding-accept-header")
async def accept_encoding(t: CaseContext) -> None:
    async with t.client(installing(ContentEncoding)) as client:
        echo = await t.json_of(await client.get(t.env.http("/echo")))
    t.equal(t.header_values(echo, "accept-encoding"), ["gzip, deflate;q=0.9, br;q=0.8, zstd;q=0.7"])


def _bomb_case(kind: str) -> None:
    @case("plugins", f"content-encoding-bomb-{kind}")
    async def body(t: CaseContext) -> None:
        async with t.client(installing(ContentEncoding, max_decompressed_size=1024 * 1024)) as client:
            await t.raises(DecompressedSizeExceededError, client.get(t.env.http(f"/compression-bomb?kind={kind}")))


for _kind in ("gzip", "br", "zstd"):
    _bomb_case(_kind)


@case("plugins", "retry-on-503")
async def retry(t: CaseContext) -> None:
    key = uuid.uuid4().hex
    policy = {"max_retries": 3, "base_delay": 0.01, "jitter": 0.0}
    async with t.client(installing(HttpRequestRetry, **policy)) as client:
        response = await client.get(t.env.http(f"/flaky?key={key}&fail=2"))
    t.equal((int(response.status), await response.body_as_text()), (200, "attempt 3"))


@case("plugins", "retry-gives-up-and-returns-the-last-response")
async def retry_gives_up(t: CaseContext) -> None:
    key = uuid.uuid4().hex
    async with t.client(installing(HttpRequestRetry, max_retries=2, base_delay=0.01, jitter=0.0)) as client:
        response = await client.get(t.env.http(f"/flaky?key={key}&fail=10"))
    t.equal(int(response.status), 503)


@case("plugins", "retry-after-seconds")
async def retry_after(t: CaseContext) -> None:
    key = uuid.uuid4().hex
    loop_time = __import__("time").monotonic
    async with t.client(installing(HttpRequestRetry, max_retries=1, base_delay=0.0, jitter=0.0)) as client:
        started = loop_time()
        response = await client.get(t.env.http(f"/flaky?key={key}&fail=1&retry_after=1"))
    t.equal(int(response.status), 200)
    t.check(loop_time() - started >= 0.95, "Retry-After: 1 was not honoured")


@case("plugins", "retry-not-for-post-by-default")
async def retry_post(t: CaseContext) -> None:
    key = uuid.uuid4().hex
    async with t.client(installing(HttpRequestRetry, base_delay=0.0, jitter=0.0)) as client:
        response = await client.post(t.env.http(f"/flaky?key={key}&fail=1"), content=b"x")
        again = await client.post(
            t.env.http(f"/flaky?key={key}x&fail=1"), content=b"x", retry=RetryPolicy(retry_non_idempotent=True,
            base_delay=0.0, jitter=0.0)
        )  # fmt: skip
    t.equal((int(response.status), int(again.status)), (503, 200))


@case("plugins", "cookies-stored-and-sent")
async def cookies(t: CaseContext) -> None:
    async with t.client(installing(HttpCookies)) as client:
        # a: Path=/ ; b: Path=/echo ; d: no Path, so RFC 6265's default path "/cookies" applies
        await client.get(t.env.http("/cookies/set?c=a%3D1%3B%20Path%3D%2F&c=b%3D2%3B%20Path%3D%2Fecho&c=d%3D4"))
        at_echo = await t.json_of(await client.get(t.env.http("/echo")))
        elsewhere = await t.json_of(await client.get(t.env.http("/redirect/chain/1?x")))  # ends at /echo too
        other_path = await client.get(t.env.http("/headers/multi"))
    t.equal(t.header_values(at_echo, "cookie"), ["b=2; a=1"], "cookies at /echo (longest path first, no d)")
    t.equal(t.header_values(elsewhere, "cookie"), ["b=2; a=1"], "cookies after a redirect")
    t.check("Set-Cookie" in other_path.headers, "server sent more cookies")


@case("plugins", "cookies-expire")
async def cookies_expire(t: CaseContext) -> None:
    async with t.client(installing(HttpCookies)) as client:
        await client.get(t.env.http("/cookies/set?c=gone%3D1%3B%20Path%3D%2F&c=kept%3D2%3B%20Path%3D%2F"))
        await client.get(t.env.http("/cookies/set?c=gone%3D%3B%20Path%3D%2F%3B%20Max-Age%3D0"))
        echo = await t.json_of(await client.get(t.env.http("/echo")))
    t.equal(t.header_values(echo, "cookie"), ["kept=2"])


@case("plugins", "logging-redacts-and-keeps-the-body")
async def logging_case(t: CaseContext) -> None:
    logger = logging.getLogger(f"tether.conformance.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger.addHandler(Collect())
    async with t.client(installing(Logging, level=LogLevel.ALL, logger=logger)) as client:
        response = await client.get(t.env.http("/text/utf8"), headers={"Authorization": "Bearer secret"})
        text = await response.body_as_text()
    joined = "\n".join(records)
    t.equal(text, "Grüße, 世界 ✓", "the caller's body")
    t.check("Bearer secret" not in joined and "Authorization: ***" in joined, "Authorization redacted")
    t.check("Grüße, 世界 ✓" in joined, "body logged")


@case("plugins", "body-progress-download-and-upload")
async def progress(t: CaseContext) -> None:
    downloads: list[tuple[int, int | None]] = []
    uploads: list[tuple[int, int | None]] = []
    async with t.client(installing(BodyProgress)) as client:
        response = await client.get(t.env.http("/bytes?size=300000"), on_download=lambda d, n: downloads.append((d, n)))
        echo = await t.json_of(
            await client.post(
                t.env.http("/echo"), content=b"u" * 200_000, on_upload=lambda d, n: uploads.append((d, n))
            )
        )
    t.equal(downloads[-1], (300_000, 300_000), "last download report")
    t.equal(len(await response.body_as_bytes()), 300_000)
    t.equal((uploads[0], uploads[-1]), ((0, 200_000), (200_000, 200_000)), "upload reports")
    t.equal(echo["body_length"], 200_000)


@case("plugins", "user-agent")
async def user_agent(t: CaseContext) -> None:
    async with t.client(installing(UserAgent, agent="conformance/1.0")) as client:
        echo = await t.json_of(await client.get(t.env.http("/echo")))
        mine = await t.json_of(await client.get(t.env.http("/echo"), headers={"User-Agent": "mine"}))
    t.equal((t.header_values(echo, "user-agent"), t.header_values(mine, "user-agent")), (["conformance/1.0"], ["mine"]))


@dataclasses.dataclass
class Pet:
    name: str
    tags: list[str]


@dataclasses.dataclass
class Owner:
    name: str
    pets: list[Pet]
    age: int | None = None


@case("plugins", "content-negotiation-json-both-ways")
async def negotiation(t: CaseContext) -> None:
    owner = Owner("Ada", [Pet("Rex", ["dog"]), Pet("Tom", [])], 36)
    async with t.client(installing(ContentNegotiation)) as client:
        response = await client.post(t.env.http("/echo/body"), content=owner)
        back = await response.body(Owner)
    t.equal(back, owner, "round trip")
    t.equal(response.headers["Content-Type"], "application/json")
