"""HttpRequestRetry: retry 5xx responses and transport failures, with backoff and Retry-After.

    config.install(HttpRequestRetry, max_retries=5)
    response = await client.get(url, retry=RetryPolicy(max_retries=0))   # per request (or retry=False)

- Retries a 5xx response (`retry_on_server_errors`) and transport failures — ConnectError, TlsError is
  not one of them, ProtocolError — (`retry_on_exception`); timeouts only with `retry_on_timeout`.
- Only idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) unless `retry_non_idempotent`.
- The delay is exponential with jitter (`base_delay * base ** (attempt - 1)`, capped at `max_delay`,
  plus up to `jitter` seconds); a `Retry-After` header (seconds *or* HTTP-date) is honoured when
  longer, up to `max_delay`.
- `modify_request(request, attempt, response, cause)` may change the request before each retry.
- A one-shot stream body cannot be sent again: instead of a retry, `BodyNotReplayableError` says so.
- The client's send limit is raised for the call, so retries (with their redirects) never end in a
  spurious `SendCountExceedException`.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Union

from tether.content import StreamContent, WriterChannelContent
from tether.events import HttpRequestRetryEvent
from tether.exceptions import (
    BodyNotReplayableError,
    ConnectError,
    ConnectTimeoutException,
    HttpRequestTimeoutException,
    ProtocolError,
    SocketTimeoutException,
    TetherError,
    TlsError,
)
from tether.plugins.api import PluginBuilder, Send, Sender, call_handler, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = ["HttpRequestRetry", "RetryPolicy", "parse_retry_after"]

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
TIMEOUTS = (HttpRequestTimeoutException, ConnectTimeoutException, SocketTimeoutException)

ModifyRequest = Callable[
    [HttpRequestBuilder, int, Union[HttpResponse, None], Union[BaseException, None]], Union[Awaitable[None], None]
]


@dataclass
class RetryPolicy:
    """HttpRequestRetry's settings. The delay before retry n is
    `min(base_delay * base ** (n - 1), max_delay) + uniform(0, jitter)`: the default 1 s of jitter
    dominates a small `base_delay`, so lower both together (`base_delay=0.2, jitter=0.1`)."""

    max_retries: int = 3
    retry_on_server_errors: bool = True
    retry_on_exception: bool = True
    retry_on_timeout: bool = False
    retry_non_idempotent: bool = False
    base: float = 2.0
    base_delay: float = 1.0
    max_delay: float = 60.0
    #: Up to this many seconds of random jitter are added to every delay.
    jitter: float = 1.0
    respect_retry_after: bool = True
    modify_request: ModifyRequest | None = None

    def validate(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.base_delay < 0 or self.max_delay < 0 or self.jitter < 0 or self.base < 1:
            raise ValueError("delays and jitter must be >= 0 and base >= 1")

    def delay(self, attempt: int, response: HttpResponse | None) -> float:
        computed = min(self.base_delay * self.base ** (attempt - 1), self.max_delay)
        computed += random.uniform(0, self.jitter) if self.jitter else 0.0
        if self.respect_retry_after and response is not None:
            header = response.headers.get("Retry-After")
            wait = parse_retry_after(header) if header else None
            if wait is not None:
                computed = max(computed, min(wait, self.max_delay))
        return computed

    def should_retry_exception(self, cause: BaseException) -> bool:
        if isinstance(cause, TIMEOUTS):
            return self.retry_on_timeout
        if isinstance(cause, TlsError):
            return False  # a certificate does not fix itself
        return self.retry_on_exception and isinstance(cause, (ConnectError, ProtocolError))


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait: `Retry-After: 120` or an HTTP-date; None when it is neither."""
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() is true for "²" and other scripts' digits
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _replayable(request: HttpRequestBuilder) -> bool:
    body = request.body
    if isinstance(body, WriterChannelContent):
        return False
    return not (isinstance(body, StreamContent) and not body.replayable)


def _install(plugin: PluginBuilder[RetryPolicy]) -> None:
    defaults = plugin.plugin_config
    defaults.validate()
    client = plugin.client

    async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
        override = request.call_options.get("retry")
        if override is False:
            return await sender.proceed(request)
        policy = override if isinstance(override, RetryPolicy) else defaults
        if isinstance(override, int) and not isinstance(override, bool):
            policy = replace(defaults, max_retries=override)
        if policy.max_retries == 0 or (request.method not in IDEMPOTENT and not policy.retry_non_idempotent):
            return await sender.proceed(request)
        from tether.client import raise_send_limit

        raise_send_limit(request, client.max_send_count * (policy.max_retries + 1))
        attempt = 0
        while True:
            response: HttpResponse | None = None
            cause: BaseException | None = None
            try:
                response = await sender.proceed(request)
            except TetherError as exc:
                if not policy.should_retry_exception(exc) or attempt >= policy.max_retries:
                    raise
                cause = exc
            if response is not None:
                if not (policy.retry_on_server_errors and 500 <= int(response.status) < 600):
                    return response
                if attempt >= policy.max_retries:
                    return response
            if not _replayable(request):
                reason = f"status {response.status}" if response is not None else f"{cause}"
                raise BodyNotReplayableError(
                    f"Not retrying {request.method} {request.url} after {reason}: its body is a one-shot stream "
                    "(pass a callable returning a fresh stream to allow retries)"
                ) from cause
            attempt += 1
            await client.monitor.emit_new(HttpRequestRetryEvent, request, attempt, response, cause)
            await asyncio.sleep(policy.delay(attempt, response))
            if policy.modify_request is not None:
                await call_handler(policy.modify_request(request, attempt, response, cause))

    plugin.on(Send, send)


HttpRequestRetry = create_client_plugin("HttpRequestRetry", RetryPolicy, _install, call_options=("retry",))
