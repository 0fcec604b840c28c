"""Logging: requests and responses through the standard `logging` module.

    config.install(Logging, level=LogLevel.HEADERS)          # logger "tether.http" at INFO

Levels: NONE, INFO (request line and status), HEADERS (+ headers), BODY (+ bodies), ALL (everything).
Every hop is logged (redirects and retries too). `sanitize_header` names headers whose values are
replaced with "***" (Authorization, Cookie, Set-Cookie and Proxy-Authorization by default); the
password of a URL with userinfo in any header value is shown as "***" too. Response
bodies are logged as the caller reads them, never read ahead: logging never consumes the body.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from tether.channel import ByteReadChannel
from tether.content import ByteArrayContent, NoContent, OutgoingContent
from tether.http import Headers
from tether.plugins.api import PluginBuilder, SendingRequest, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse
from tether.url import redact_userinfo

__all__ = ["LogLevel", "Logging", "LoggingConfig"]


class LogLevel(enum.Enum):
    NONE = (False, False, False)
    INFO = (True, False, False)
    HEADERS = (True, True, False)
    BODY = (True, False, True)
    ALL = (True, True, True)


SENSITIVE = ("Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization")


@dataclass
class LoggingConfig:
    level: LogLevel = LogLevel.HEADERS
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("tether.http"))
    #: Headers whose values are never logged.
    sanitize_header: set[str] = field(default_factory=lambda: {name.lower() for name in SENSITIVE})
    placeholder: str = "***"
    #: Log only the requests this returns True for (all when None); it gets the request (builder
    #: before sending, `HttpRequestData` with the response), both with `method`, `url`, `headers`.
    filter: Callable[[Any], bool] | None = None
    #: Bytes of a body logged at most.
    max_body_bytes: int = 4096


def _install(plugin: PluginBuilder[LoggingConfig]) -> None:
    config = plugin.plugin_config
    log_info, log_headers, log_body = config.level.value
    logger = config.logger
    hidden = {name.lower() for name in config.sanitize_header}

    def headers_text(headers: Headers | list[tuple[str, str]]) -> str:
        pairs = headers.items() if isinstance(headers, Headers) else headers
        # A password in a URL-valued header (a `Location` with userinfo) is shown as *** too.
        return "".join(
            f"\n  {name}: {config.placeholder if name.lower() in hidden else redact_userinfo(value)}"
            for name, value in pairs
        )

    def body_text(data: bytes) -> str:
        shown = data[: config.max_body_bytes].decode("utf-8", "replace")
        more = f"… ({len(data)} bytes)" if len(data) > config.max_body_bytes else ""
        return shown + more

    def wanted(request: HttpRequestBuilder) -> bool:
        return log_info and (config.filter is None or config.filter(request))

    def on_sending(request: HttpRequestBuilder, content: OutgoingContent) -> None:
        if not wanted(request):
            return
        message = f"REQUEST {request.method} {request.url}"
        if log_headers:
            message += headers_text(list(request.headers.items()))
        if log_body:
            if isinstance(content, ByteArrayContent):
                message += f"\nBODY {content.content_type or ''}\n{body_text(content.data)}"
            elif not isinstance(content, NoContent):
                message += f"\nBODY {content.content_type or ''} (streamed, not logged)"
        logger.info(message)

    def on_response(response: HttpResponse) -> None:
        request = response.request
        if not log_info or (config.filter is not None and not config.filter(request)):
            return
        message = f"RESPONSE {response.status} {response.version} ({request.method} {request.url})"
        if log_headers:
            message += headers_text(response.headers)
        logger.info(message)
        if log_body:
            response.wrap_body(lambda body: _logged(body, logger, request.url, config.max_body_bytes))

    plugin.on(SendingRequest, on_sending)
    plugin.on_response(on_response)


def _logged(body: ByteReadChannel, logger: logging.Logger, url: object, limit: int) -> ByteReadChannel:
    """The same bytes, logged as the caller reads them (a tee, not a read-ahead)."""
    seen = bytearray()
    total = 0

    async def tee() -> AsyncIterator[bytes]:
        nonlocal total
        async for chunk in body:
            total += len(chunk)
            if len(seen) < limit:
                seen.extend(chunk[: limit - len(seen)])
            yield chunk
        more = f"… ({total} bytes)" if total > limit else ""
        logger.info(f"BODY of {url}\n{bytes(seen).decode('utf-8', 'replace')}{more}")

    return ByteReadChannel(tee(), on_close=body.aclose)


Logging = create_client_plugin("Logging", LoggingConfig, _install)
