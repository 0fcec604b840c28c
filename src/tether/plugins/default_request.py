"""DefaultRequest: a base URL, headers, query parameters and cookies applied to every request.

Rules (Ktor 3.4, `reference/ktor-client-notes.md` section 5, with one improvement):
- URL: `tether.url.merge_urls(default.url, request.url)`: RFC 3986 resolution against the base, plus
  every default query parameter whose name the request does not use. An absolute request URL is used
  as given: default parameters (an API key, say) never travel to a host the request named itself.
- Headers: for a name the request does not set, the default values are added. For a name it sets, the
  request's values come first and default values not already present follow, except for headers that
  hold a single value (`SINGLE_VALUE_HEADERS`): there the request's value alone is kept (Ktor would
  send both `Content-Type`s).
- `Cookie`: the request's cookies first, then default cookies with other names, in one header.
- Attributes and capabilities: the request's win, the defaults fill the gaps.

Several `default_request(...)` calls merge (a later URL replaces an earlier one; later headers, params
and cookies replace earlier ones of the same name); `replace=True` drops the earlier ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict, istr
from yarl import URL

from tether.attributes import Attributes
from tether.engine.capabilities import HttpClientEngineCapability
from tether.http import HeadersInit, build_headers
from tether.plugins.api import PluginBuilder, SetupRequest, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.url import QueryParams, merge_urls, parse_url, with_params

__all__ = ["SINGLE_VALUE_HEADERS", "DefaultRequest", "DefaultRequestConfig", "merge_headers"]

#: Headers where a second value would be wrong rather than additive.
SINGLE_VALUE_HEADERS = frozenset(
    istr(name)
    for name in (
        "Authorization",
        "Proxy-Authorization",
        "Content-Type",
        "Content-Length",
        "Host",
        "User-Agent",
        "Range",
        "If-Modified-Since",
        "If-Unmodified-Since",
        "If-Range",
        "Referer",
        "Origin",
    )
)


class DefaultRequestConfig:
    """The defaults. Assigning `headers`, `params` or `cookies` merges by name with earlier values."""

    def __init__(self) -> None:
        self._url: URL | None = None
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._params: list[tuple[str, str]] = []
        self._cookies: dict[str, str] = {}
        self.attributes = Attributes()
        self.capabilities: dict[HttpClientEngineCapability[Any], Any] = {}

    @property
    def url(self) -> URL | None:
        return self._url

    @url.setter
    def url(self, value: str | URL | None) -> None:
        self._url = None if value is None else parse_url(value)

    @property
    def headers(self) -> CIMultiDict[str]:
        """The default headers; mutate freely (`add`, `[name] = value`, `del`)."""
        return self._headers

    @headers.setter
    def headers(self, value: HeadersInit) -> None:
        incoming = build_headers(value)
        for name in {istr(n) for n in incoming}:
            self._headers.popall(name, None)
        self._headers.extend(incoming)

    @property
    def params(self) -> list[tuple[str, str]]:
        return self._params

    @params.setter
    def params(self, value: QueryParams) -> None:
        query = with_params(URL("http://x/"), value).query
        names = set(query)
        self._params = [(k, v) for k, v in self._params if k not in names] + list(query.items())

    @property
    def cookies(self) -> dict[str, str]:
        return self._cookies

    @cookies.setter
    def cookies(self, value: Mapping[str, str]) -> None:
        self._cookies.update(value)

    def set_capability(self, capability: HttpClientEngineCapability[Any], value: Any) -> None:
        self.capabilities[capability] = value

    def __repr__(self) -> str:
        return (
            f"DefaultRequestConfig(url={self._url}, headers={list(self._headers.items())}, "
            f"params={self._params}, cookies={self._cookies})"
        )


def merge_headers(request: CIMultiDict[str], defaults: CIMultiDict[str]) -> None:
    """Add `defaults` to `request` in place, with the rules in the module docstring."""
    for name in {istr(n) for n in defaults}:
        default_values = defaults.getall(name)
        if name == "Cookie":
            continue
        present = request.getall(name, [])
        if not present:
            for value in default_values:
                request.add(name, value)
        elif name not in SINGLE_VALUE_HEADERS:
            for value in default_values:
                if value not in present:
                    request.add(name, value)


def _merge_cookies(request: CIMultiDict[str], defaults: CIMultiDict[str], cookies: Mapping[str, str]) -> None:
    default_pairs = [p for v in defaults.getall("Cookie", []) for p in _cookie_pairs(v)]
    default_pairs += list(cookies.items())
    if not default_pairs:
        return
    request_pairs = [p for v in request.getall("Cookie", []) for p in _cookie_pairs(v)]
    names = {name for name, _ in request_pairs}
    merged = request_pairs + [(n, v) for n, v in default_pairs if n not in names]
    request.popall("Cookie", None)
    request["Cookie"] = "; ".join(f"{n}={v}" for n, v in merged)


def _cookie_pairs(header: str) -> list[tuple[str, str]]:
    pairs = []
    for item in header.split(";"):
        name, sep, value = item.strip().partition("=")
        if name:
            pairs.append((name, value if sep else ""))
    return pairs


def _install(plugin: PluginBuilder[DefaultRequestConfig]) -> None:
    defaults = plugin.plugin_config
    params = with_params(URL("http://x/"), defaults.params).raw_query_string

    def apply(request: HttpRequestBuilder) -> None:
        base = defaults.url
        if base is not None:
            request.url = merge_urls(with_params(base, params) if params else base, request.url)
        merge_headers(request.headers, defaults.headers)
        _merge_cookies(request.headers, defaults.headers, defaults.cookies)
        request.attributes.update(defaults.attributes, overwrite=False)
        for capability, value in defaults.capabilities.items():
            request.capabilities.setdefault(capability, value)

    plugin.on(SetupRequest, apply)


DefaultRequest = create_client_plugin("DefaultRequest", DefaultRequestConfig, _install)
