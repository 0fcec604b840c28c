"""HttpRedirect: follows 301, 302, 303, 307 and 308 (installed unless `follow_redirects = False`).

- 303 becomes GET without a body (HEAD stays HEAD); the others keep method and body. A one-shot
  stream body cannot be re-sent and raises `BodyNotReplayableError`.
- `Location` is resolved against the current URL (RFC 3986); without one, the 3xx is returned.
- When the origin (scheme, host, port) changes, `Authorization`, `Cookie` and `Proxy-Authorization`
  are always dropped, and so are the headers named in `sensitive_headers` (by default
  `DEFAULT_SENSITIVE_HEADERS`: `X-Api-Key`, `Api-Key`, `X-Auth-Token`, `X-Access-Token`,
  `Private-Token`): credentials never follow a redirect to another origin. Name your own credential
  headers there: `config.install(HttpRedirect, sensitive_headers={*DEFAULT_SENSITIVE_HEADERS, "X-Tenant-Key"})`.
- Userinfo in a `Location` (`http://user:pw@other/`) is dropped: it never becomes credentials (the
  userinfo of the URL a call starts with does, for that origin only; see docs/auth.md).
- https -> http is refused (the 3xx is returned) unless `allow_https_downgrade`.
- Loops end at the client's `max_send_count` with `SendCountExceedException`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from multidict import istr
from yarl import URL

from tether.content import NO_CONTENT
from tether.events import HttpResponseRedirectEvent
from tether.exceptions import InvalidUrlError
from tether.plugins.api import PluginBuilder, ResponseSend, Send, Sender, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse
from tether.url import resolve_reference

__all__ = [
    "CREDENTIAL_HEADERS",
    "DEFAULT_SENSITIVE_HEADERS",
    "REDIRECT_STATUSES",
    "HttpRedirect",
    "HttpRedirectConfig",
    "same_origin",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Always dropped on a hop to another origin (they cannot be configured away).
CREDENTIAL_HEADERS = (istr("Authorization"), istr("Cookie"), istr("Proxy-Authorization"))
#: Also dropped by default: the API-key and token headers in wide use (`sensitive_headers` replaces it).
DEFAULT_SENSITIVE_HEADERS = frozenset({"X-Api-Key", "Api-Key", "X-Auth-Token", "X-Access-Token", "Private-Token"})


@dataclass
class HttpRedirectConfig:
    #: Only redirect GET and HEAD (Ktor's default is True; Python clients follow every method).
    check_http_method: bool = False
    #: Follow an https -> http redirect.
    allow_https_downgrade: bool = False
    #: Headers that carry credentials of yours, dropped on a hop to another origin (besides
    #: `CREDENTIAL_HEADERS`, which always are). Case-insensitive.
    sensitive_headers: Collection[str] = DEFAULT_SENSITIVE_HEADERS


def same_origin(a: URL, b: URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _install(plugin: PluginBuilder[HttpRedirectConfig]) -> None:
    config = plugin.plugin_config
    monitor = plugin.client.monitor
    if isinstance(config.sensitive_headers, str):
        raise TypeError("sensitive_headers is a collection of header names, e.g. {'X-Api-Key'}")
    dropped = (*CREDENTIAL_HEADERS, *(istr(name) for name in config.sensitive_headers))

    def passes(request: HttpRequestBuilder, response: HttpResponse) -> bool:
        return response.status not in REDIRECT_STATUSES or (
            config.check_http_method and request.method not in ("GET", "HEAD")
        )

    async def follow(sender: Sender, request: HttpRequestBuilder, response: HttpResponse) -> HttpResponse:
        current = request
        while int(response.status) in REDIRECT_STATUSES:
            location = response.headers.get("Location")
            if not location:
                return response
            try:
                target = resolve_reference(current.url, location)
            except InvalidUrlError:
                return response
            if target.scheme not in ("http", "https"):
                return response
            if target.raw_user is not None:
                target = target.with_user(None)  # a Location's userinfo never becomes credentials
            if current.url.scheme == "https" and target.scheme == "http" and not config.allow_https_downgrade:
                return response
            following = current.copy()
            following.url = target
            if int(response.status) == 303 and current.method != "HEAD":
                following.method = "GET"
                following.body = NO_CONTENT
                for name in ("Content-Type", "Content-Length", "Content-Encoding"):
                    following.headers.popall(name, None)
            if not same_origin(current.url, target):
                for name in dropped:
                    following.headers.popall(name, None)
            current = following
            await monitor.emit_new(HttpResponseRedirectEvent, following, response)
            response = await sender.proceed(current)
        return response

    plugin.on(Send, ResponseSend(passes, follow))


HttpRedirect = create_client_plugin("HttpRedirect", HttpRedirectConfig, _install)
