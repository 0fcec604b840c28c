"""Credentials stay with their origin, and nothing the caller gives can inject into the request
(issue 15 §3). Some of these held before the issue (no cross-origin Authorization/Cookie/
Proxy-Authorization, CR/LF rejected); they are here so that they keep holding.

The one rule for userinfo (`http://user:pw@host/`), the same on every engine: it leaves the URL before
anything sees it (engines, Logging, exception messages) and becomes Basic credentials for that request's
own origin, dropped on a redirect to another origin like any Authorization; a `Location` with userinfo
never becomes credentials.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import quote

from yarl import URL

from tether import ConnectError, HttpClientConfig, InvalidHeaderError
from tether.plugins import Auth, HttpRedirect, HttpRequestRetry, Logging, LogLevel
from tether.plugins.auth import BasicAuthCredentials
from tether.plugins.redirect import DEFAULT_SENSITIVE_HEADERS
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.app import BASIC_PASSWORD, BASIC_USER, LOCATION_USERINFO_PASSWORD

SECRET = "pa55-w0rd-never-shown"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _with_userinfo(url: str, user: str = "alice", password: str = SECRET) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"


# --- credential headers never follow a redirect to another origin ---------------------------------------
def _cross_origin_header_case(header: str, value: str) -> None:
    @case("security", f"cross-origin-redirect-drops-{header.lower()}")
    async def body(t: CaseContext) -> None:
        async with t.client() as client:
            response = await client.get(
                t.env.http("/redirect"), params={"to": t.env.https("/echo")}, headers={header: value, "X-Kept": "1"}
            )
            echo = await t.json_of(response)
        t.equal(t.header_values(echo, header), [], f"{header} after a cross-origin redirect")
        t.equal(t.header_values(echo, "x-kept"), ["1"], "an ordinary header after the redirect")


_cross_origin_header_case("Authorization", "Bearer secret")
_cross_origin_header_case("Cookie", "sid=secret")
_cross_origin_header_case("Proxy-Authorization", "Basic c2VjcmV0")
for _name in sorted(DEFAULT_SENSITIVE_HEADERS):
    _cross_origin_header_case(_name, "secret")


@case("security", "same-origin-redirect-keeps-credential-headers")
async def same_origin_keeps(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(
            await client.get(t.env.http("/redirect?to=/echo"), headers={"Authorization": "Bearer t", "X-Api-Key": "k"})
        )
    t.equal((t.header_values(echo, "authorization"), t.header_values(echo, "x-api-key")), (["Bearer t"], ["k"]))


@case("security", "user-named-sensitive-header-dropped-on-cross-origin-redirect")
async def user_named_header(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpRedirect, sensitive_headers={*DEFAULT_SENSITIVE_HEADERS, "X-Tenant-Secret"})

    async with t.client(configure) as client:
        response = await client.get(
            t.env.http("/redirect"),
            params={"to": t.env.https("/echo")},
            headers={"X-Tenant-Secret": "s", "X-Api-Key": "k", "X-Kept": "1"},
        )
        echo = await t.json_of(response)
    t.equal(t.header_values(echo, "x-tenant-secret"), [], "the user-named header")
    t.equal(t.header_values(echo, "x-api-key"), [], "a default sensitive header")
    t.equal(t.header_values(echo, "x-kept"), ["1"], "an ordinary header")


# --- nothing the caller gives can inject a header line or a request ---------------------------------------
def _injection_case(name: str, headers: dict[str, str]) -> None:
    @case("security", f"crlf-injection-rejected-{name}")
    async def body(t: CaseContext) -> None:
        async with t.client() as client:
            before = t.env.requests_seen
            await t.raises(InvalidHeaderError, client.get(t.env.http("/echo"), headers=headers))
            t.equal(t.env.requests_seen - before, 0, "requests the server saw")


_injection_case("in-a-header-value", {"X-Note": "a\r\nX-Injected: 1"})
_injection_case("in-a-header-name", {"X-Note\r\nX-Injected": "1"})
_injection_case("lf-only-in-a-header-value", {"X-Note": "a\nX-Injected: 1"})


# --- userinfo in the URL ----------------------------------------------------------------------------------
@case("security", "userinfo-becomes-basic-credentials-and-leaves-the-url")
async def userinfo_basic(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(_with_userinfo(t.env.http("/echo"), "alice", "s3:cr@t/x"))
        echo = await t.json_of(response)
    t.equal(t.header_values(echo, "authorization"), [_basic("alice", "s3:cr@t/x")], "Authorization")
    t.check("@" not in response.url, f"the response's URL keeps no userinfo: {response.url}")


@case("security", "userinfo-set-by-a-retry-becomes-basic-credentials")
async def userinfo_from_retry(t: CaseContext) -> None:
    # A URL with userinfo set inside the Send chain (a retry's modify_request, say a failover URL) gets
    # the same rule as one given to the call: Basic credentials, never in the URL an engine sees.
    failover = _with_userinfo(t.env.http("/echo"), "bob", "s3cret")

    def modify(request: Any, attempt: int, response: Any, cause: Any) -> None:
        request.url = URL(failover)

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpRequestRetry, modify_request=modify, base_delay=0, jitter=0)

    async with t.client(configure) as client:
        response = await client.get(t.env.http("/status/503"))
        echo = await t.json_of(response)
    t.equal(t.header_values(echo, "authorization"), [_basic("bob", "s3cret")], "Authorization")
    t.check("@" not in str(response.request.url), f"the request's URL keeps no userinfo: {response.request.url}")


@case("security", "userinfo-answers-a-basic-protected-route")
async def userinfo_protected(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(_with_userinfo(t.env.http("/auth/basic"), BASIC_USER, BASIC_PASSWORD))
    t.equal((int(response.status), await response.body_as_text()), (200, "basic ok"))


@case("security", "userinfo-with-a-preemptive-auth-plugin")
async def userinfo_with_auth(t: CaseContext) -> None:
    # Both an Authorization header and userinfo: one of them is sent (the plugin's), never an error.
    def configure(config: HttpClientConfig[Any]) -> None:
        credentials = BasicAuthCredentials(BASIC_USER, BASIC_PASSWORD)
        config.install(Auth, lambda auth: auth.basic(credentials=credentials, send_without_request=lambda r: True))

    async with t.client(configure) as client:
        response = await client.get(_with_userinfo(t.env.http("/auth/basic"), BASIC_USER, BASIC_PASSWORD))
    t.equal(int(response.status), 200)


@case("security", "explicit-authorization-wins-over-userinfo")
async def explicit_authorization(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(
            await client.get(_with_userinfo(t.env.http("/echo")), headers={"Authorization": "Bearer mine"})
        )
    t.equal(t.header_values(echo, "authorization"), ["Bearer mine"])


@case("security", "userinfo-credentials-not-forwarded-to-another-origin")
async def userinfo_cross_origin(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(_with_userinfo(t.env.http("/redirect")), params={"to": t.env.https("/echo")})
        echo = await t.json_of(response)
    t.equal(t.header_values(echo, "authorization"), [], "Authorization at the other origin")


@case("security", "redirect-location-with-userinfo-sends-no-credentials")
async def location_userinfo(t: CaseContext) -> None:
    target = _with_userinfo(t.env.https("/echo"), "mallory", "from-the-location")
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/redirect"), params={"to": target}))
    t.equal(t.header_values(echo, "authorization"), [], "Authorization after a Location with userinfo")


def _logged_text(t: CaseContext, url: str, **kwargs: Any) -> Any:
    """The log lines of one call with Logging at ALL (a coroutine giving the lines)."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    async def run() -> list[str]:
        logger = logging.getLogger(f"tether.conformance.security.{t.engine_name}")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        handler = Keep()
        logger.addHandler(handler)

        def configure(config: HttpClientConfig[Any]) -> None:
            config.install(Logging, level=LogLevel.ALL, logger=logger)

        try:
            async with t.client(configure) as client:
                await (await client.get(url, **kwargs)).body_as_bytes()
        finally:
            logger.removeHandler(handler)
        return records

    return run()


@case("security", "userinfo-password-redacted-in-logging")
async def userinfo_logging(t: CaseContext) -> None:
    records = await _logged_text(t, _with_userinfo(t.env.http("/redirect")), params={"to": "/echo"})
    text = "\n".join(records)
    t.check(len(records) >= 4, f"both hops logged: {records!r}")
    t.check(SECRET not in text and quote(SECRET) not in text, f"the password in the log: {text!r}")


@case("security", "location-userinfo-redacted-in-logging")
async def location_logging(t: CaseContext) -> None:
    records = await _logged_text(t, t.env.http("/redirect/with-userinfo"))
    text = "\n".join(records)
    t.check("location: http://mallory:***@" in text.lower(), f"the Location header logged redacted: {text!r}")
    t.check(LOCATION_USERINFO_PASSWORD not in text, f"the password in the log: {text!r}")


@case("security", "same-origin-location-userinfo-sends-no-credentials")
async def same_origin_location_userinfo(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/redirect/with-userinfo")))
    t.equal(t.header_values(echo, "authorization"), [], "Authorization after a Location with userinfo")


@case("security", "userinfo-password-redacted-in-exception-messages")
async def userinfo_exception(t: CaseContext) -> None:
    async with t.client() as client:
        exc = await t.raises(ConnectError, client.get(_with_userinfo("http://127.0.0.1:1/")))
    shown = f"{exc} {exc!r} {exc.__cause__}"
    t.check(SECRET not in shown, f"the password in the exception: {shown!r}")
