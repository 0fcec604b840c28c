"""HttpCookies: an RFC 6265 cookie jar, in memory by default, pluggable.

    config.install(HttpCookies)                                   # AcceptAllCookiesStorage
    config.install(HttpCookies, storage=ConstantCookiesStorage([Cookie("a", "1", domain="api.test")]))

- `Set-Cookie` of every response (redirect hops included) is stored for the URL that sent it.
- Before every send (every hop) the `Cookie` header is built from the jar for that URL: domain
  matching (host-only unless `Domain`; IP addresses match exactly), path matching with the RFC 6265
  default path (the request path up to its last `/`, an improvement on Ktor's full path), expiry from
  `Max-Age` then `Expires`, `Secure` cookies only over https. Cookies the caller put on the request
  come first and win over stored ones of the same name; they are not sent to another origin.
- A `Domain` that is a public suffix (`com`, `co.uk`, `github.io`: the Public Suffix List shipped in
  the `publicsuffixlist` package, ICANN and private sections, never fetched at run time) is refused:
  the cookie is dropped, unless the `Domain` is the response's own host, when it becomes host-only
  (RFC 6265 5.3 step 5). See docs/plugins-reference.md for exactly which origins get a cookie.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from yarl import URL

from tether.attributes import AttributeKey
from tether.plugins.api import PluginBuilder, SendingRequest, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = [
    "AcceptAllCookiesStorage",
    "ConstantCookiesStorage",
    "Cookie",
    "CookiesStorage",
    "HttpCookies",
    "HttpCookiesConfig",
    "is_public_suffix",
    "parse_set_cookie",
]


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    domain: str | None = None
    path: str | None = None
    #: Absolute expiry time (epoch seconds); None for a session cookie.
    expires: float | None = None
    secure: bool = False
    http_only: bool = False
    #: True when the cookie had no Domain attribute: it goes back to exactly that host only.
    host_only: bool = True


def _default_path(url: URL) -> str:
    path = url.path or "/"
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@functools.cache
def _public_suffixes() -> Any:
    # Parsed once per process (about 0.1 s), when the first HttpCookies client is built: never on the
    # event loop in the middle of a response.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def is_public_suffix(domain: str) -> bool:
    """True for a domain under which anyone may register names (`com`, `co.uk`, `github.io`), and
    for a single label the list does not know (its default rule `*`): no cookie may be set for it.

    >>> is_public_suffix("co.uk"), is_public_suffix("example.co.uk")
    (True, False)
    """
    return bool(_public_suffixes().is_public(domain.lower().rstrip(".")))


def _domain_matches(host: str, cookie: Cookie) -> bool:
    domain = (cookie.domain or "").lower()
    host = host.lower()
    if host == domain:
        return True
    return not cookie.host_only and not _is_ip(host) and host.endswith("." + domain)


def _path_matches(path: str, cookie_path: str) -> bool:
    if path == cookie_path:
        return True
    if path.startswith(cookie_path):
        return cookie_path.endswith("/") or path[len(cookie_path)] == "/"
    return False


def _parse_expires(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        # Netscape's "Wdy, DD-Mon-YYYY HH:MM:SS GMT"
        try:
            parsed = email.utils.parsedate_to_datetime(value.replace("-", " "))
        except (TypeError, ValueError):
            return None
    return parsed.timestamp() if parsed is not None else None


def parse_set_cookie(header: str, url: URL, now: float | None = None) -> Cookie | None:
    """One `Set-Cookie` value for a response from `url`; None when it must be ignored (RFC 6265 5.2-5.3)."""
    now = time.time() if now is None else now
    first, *attributes = header.split(";")
    name, sep, value = first.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    host = (url.host or "").lower()
    domain: str | None = None
    path: str | None = None
    expires: float | None = None
    max_age: float | None = None
    secure = http_only = False
    for attribute in attributes:
        key, _, raw = attribute.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if key == "domain" and raw:
            domain = raw.lstrip(".").lower()
        elif key == "path" and raw.startswith("/"):
            path = raw
        elif key == "expires":
            expires = _parse_expires(raw)
        elif key == "max-age":
            try:
                seconds = int(raw)
            except ValueError:
                continue
            max_age = now + seconds if seconds > 0 else 0.0
        elif key == "secure":
            secure = True
        elif key == "httponly":
            http_only = True
    if max_age is not None:
        expires = max_age  # Max-Age wins over Expires (RFC 6265 5.3 step 3)
    host_only = True
    if domain and not _is_ip(domain) and is_public_suffix(domain):
        if domain != host:
            return None  # Domain=.com would send it to every site under com (RFC 6265 5.3 step 5)
        domain = None  # the host is itself a public suffix: the cookie goes back to it only
    if domain:
        if host != domain and (not host.endswith("." + domain) or _is_ip(host)):
            return None  # a server may not set cookies for another domain
        host_only = False
    return Cookie(name, value, domain or host, path or _default_path(url), expires, secure, http_only, host_only)


class CookiesStorage(Protocol):
    """Where cookies live. Implement it to persist them."""

    def get(self, url: URL) -> list[Cookie]: ...

    def add(self, url: URL, cookie: Cookie) -> None: ...


class AcceptAllCookiesStorage:
    """In memory, thread-safe, accepts every valid cookie; expired ones are dropped lazily."""

    def __init__(self) -> None:
        self._cookies: list[Cookie] = []
        self._lock = threading.Lock()

    def add(self, url: URL, cookie: Cookie) -> None:
        with self._lock:
            self._cookies = [
                c
                for c in self._cookies
                if not (c.name == cookie.name and c.domain == cookie.domain and c.path == cookie.path)
            ]
            if cookie.expires is None or cookie.expires > time.time():
                self._cookies.append(cookie)

    def get(self, url: URL) -> list[Cookie]:
        now = time.time()
        host = url.host or ""
        path = url.path or "/"
        secure = url.scheme in ("https", "wss")
        with self._lock:
            self._cookies = [c for c in self._cookies if c.expires is None or c.expires > now]
            matches = [
                c
                for c in self._cookies
                if _domain_matches(host, c) and _path_matches(path, c.path or "/") and (secure or not c.secure)
            ]
        # RFC 6265 5.4: longer paths first.
        return sorted(matches, key=lambda c: -len(c.path or "/"))

    def all(self) -> list[Cookie]:
        with self._lock:
            return list(self._cookies)


class ConstantCookiesStorage:
    """A fixed set of cookies; whatever servers set is ignored."""

    def __init__(self, cookies: Iterable[Cookie]) -> None:
        self._inner = AcceptAllCookiesStorage()
        for cookie in cookies:
            self._inner.add(URL.build(scheme="https", host=cookie.domain or "localhost"), cookie)

    def add(self, url: URL, cookie: Cookie) -> None:
        return None

    def get(self, url: URL) -> list[Cookie]:
        return self._inner.get(url)


@dataclass
class HttpCookiesConfig:
    storage: CookiesStorage = field(default_factory=AcceptAllCookiesStorage)


_CALLER_COOKIES: AttributeKey[tuple[str, list[tuple[str, str]]]] = AttributeKey("CallerCookies")


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


def _pairs(header: str) -> list[tuple[str, str]]:
    pairs = []
    for item in header.split(";"):
        name, _, value = item.strip().partition("=")
        if name:
            pairs.append((name, value))
    return pairs


def _install(plugin: PluginBuilder[HttpCookiesConfig]) -> None:
    storage = plugin.plugin_config.storage
    _public_suffixes()

    def remember_caller_cookies(request: HttpRequestBuilder, content: object) -> None:
        pairs = [pair for value in request.headers.getall("Cookie", []) for pair in _pairs(value)]
        request.attributes[_CALLER_COOKIES] = (_origin(request.url), pairs)

    def add_cookies(request: HttpRequestBuilder, content: object) -> None:
        origin, caller = request.attributes.get(_CALLER_COOKIES, ("", []))
        pairs = list(caller) if _origin(request.url) == origin else []  # never to another origin
        names = {name for name, _ in pairs}
        pairs += [(c.name, c.value) for c in storage.get(request.url) if c.name not in names]
        request.headers.popall("Cookie", None)
        if pairs:
            request.headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in pairs)

    def store(response: HttpResponse) -> None:
        url = response.request.url
        for header in response.headers.get_all("Set-Cookie"):
            cookie = parse_set_cookie(header, url)
            if cookie is not None:
                storage.add(url, cookie)

    plugin.on_request(remember_caller_cookies)
    plugin.on(SendingRequest, add_cookies)
    plugin.on_response(store)


HttpCookies = create_client_plugin("HttpCookies", HttpCookiesConfig, _install)
