"""Requests: the mutable `HttpRequestBuilder` plugins work on, and the immutable `HttpRequestData`
that is the only thing an engine sees."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from multidict import CIMultiDict
from yarl import URL

from tether.attributes import Attributes
from tether.content import NO_CONTENT, OutgoingContent
from tether.engine.capabilities import HttpClientEngineCapability, HttpTimeoutCapability, HttpTimeoutConfig
from tether.http import Headers
from tether.url import parse_url, redact_userinfo

__all__ = ["HttpRequest", "HttpRequestBuilder", "HttpRequestData"]

T = TypeVar("T")

_NO_CAPABILITIES: Mapping[HttpClientEngineCapability[Any], Any] = MappingProxyType({})
_NO_HEADERS = Headers()


#: Fills a frozen dataclass instance in one step: `_SET_ATTRIBUTE(instance, "__dict__", fields)`.
_SET_ATTRIBUTE = object.__setattr__


@dataclass(frozen=True, init=False)
class HttpRequestData:
    """One request as handed to an engine: plain immutable values (attributes aside)."""

    url: URL
    method: str
    headers: Headers
    body: OutgoingContent = NO_CONTENT
    attributes: Attributes = field(default_factory=Attributes, compare=False)
    capabilities: Mapping[HttpClientEngineCapability[Any], Any] = field(default_factory=lambda: MappingProxyType({}))

    def __init__(
        self,
        url: URL,
        method: str,
        headers: Headers,
        body: OutgoingContent = NO_CONTENT,
        attributes: Attributes | None = None,
        capabilities: Mapping[HttpClientEngineCapability[Any], Any] | None = None,
    ) -> None:
        # One per request: all fields at once instead of a frozen dataclass's setattr per field.
        _SET_ATTRIBUTE(
            self,
            "__dict__",
            {
                "url": url,
                "method": method,
                "headers": headers,
                "body": body,
                "attributes": Attributes() if attributes is None else attributes,
                "capabilities": _NO_CAPABILITIES if capabilities is None else capabilities,
            },
        )

    @property
    def required_capabilities(self) -> frozenset[HttpClientEngineCapability[Any]]:
        return frozenset(self.capabilities)

    def get_capability(self, capability: HttpClientEngineCapability[T]) -> T | None:
        value: T | None = self.capabilities.get(capability)
        return value

    @property
    def timeout(self) -> HttpTimeoutConfig:
        """The timeouts engines must enforce for this request (all None when none were set)."""
        return self.capabilities.get(HttpTimeoutCapability) or _NO_TIMEOUTS

    def __repr__(self) -> str:
        return f"<HttpRequestData {self.method} {self.url}>"


_NO_TIMEOUTS = HttpTimeoutConfig()

#: What `HttpResponse.request` exposes: the request as it was finally sent.
HttpRequest = HttpRequestData


class HttpRequestBuilder:
    """A request under construction. Plugins read and change it in their hooks.

    `body` holds whatever the caller gave; `transform_request_body` hooks turn it into an
    `OutgoingContent` before it is sent.
    """

    def __init__(
        self,
        method: str = "GET",
        url: str | URL = "",
        headers: CIMultiDict[str] | None = None,
        body: object = NO_CONTENT,
    ) -> None:
        self.method = method.upper()
        self._url = parse_url(url)
        self.headers: CIMultiDict[str] = headers if headers is not None else CIMultiDict()
        self.body: object = body
        self.body_type: type | None = None
        self.attributes = Attributes()
        self.capabilities: dict[HttpClientEngineCapability[Any], Any] = {}
        self._expect_success: bool | None = None
        #: Per-call plugin settings given as keywords (`client.get(url, timeout=3)`).
        self.call_options: dict[str, Any] = {}

    @property
    def url(self) -> URL:
        return self._url

    @url.setter
    def url(self, value: str | URL) -> None:
        self._url = parse_url(value)

    @property
    def expect_success(self) -> bool | None:
        """Per-request override of the client's `expect_success` (None: the client's setting)."""
        return self._expect_success

    @expect_success.setter
    def expect_success(self, value: bool | None) -> None:
        # Checked as the client-wide setting is: "yes" or 1 would otherwise pass as a truthy override.
        if value is not None and value is not True and value is not False:
            raise TypeError(
                "expect_success must be True, False or None (the client's setting), "
                f"got {type(value).__name__} {value!r}"
            )
        self._expect_success = value

    def set_capability(self, capability: HttpClientEngineCapability[T], value: T) -> None:
        self.capabilities[capability] = value

    def get_capability(self, capability: HttpClientEngineCapability[T]) -> T | None:
        value: T | None = self.capabilities.get(capability)
        return value

    def take_from(self, other: HttpRequestBuilder) -> HttpRequestBuilder:
        """Make this builder a copy of `other` (used by plugins that re-send)."""
        self.method = other.method
        self._url = other._url
        self.headers = CIMultiDict(other.headers)
        self.body = other.body
        self.body_type = other.body_type
        self.attributes = other.attributes.copy()
        self.capabilities = dict(other.capabilities)
        self._expect_success = other._expect_success
        self.call_options = dict(other.call_options)
        return self

    def copy(self) -> HttpRequestBuilder:
        clone = HttpRequestBuilder.__new__(HttpRequestBuilder)
        return clone.take_from(self)

    def build(self) -> HttpRequestData:
        body = self.body
        if not isinstance(body, OutgoingContent):
            raise TypeError(
                f"Request body of type {type(body).__name__} was not converted to OutgoingContent; "
                "install a plugin that handles it (ContentNegotiation) or pass bytes/str"
            )
        content_type = body.content_type
        if not self.headers and not content_type:
            headers = _NO_HEADERS  # immutable: every request without headers can share it
        else:
            fields = CIMultiDict(self.headers)
            if content_type and "Content-Type" not in fields:
                fields["Content-Type"] = content_type
            headers = Headers(fields)
        capabilities = self.capabilities
        return HttpRequestData(
            self._url,
            self.method,
            headers,
            body,
            self.attributes,
            MappingProxyType(dict(capabilities)) if capabilities else _NO_CAPABILITIES,
        )

    def __repr__(self) -> str:
        return f"<HttpRequestBuilder {self.method} {redact_userinfo(str(self._url))}>"
