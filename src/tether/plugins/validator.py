"""HttpCallValidator: `expect_success` and custom response validators.

Installed first, so it is the outermost `Send` interceptor and sees the final response after
redirects, retries and auth. With `expect_success` (client-wide or per request) a status >= 300 raises
`RedirectResponseException` (3xx), `ClientRequestException` (4xx) or `ServerResponseException` (5xx);
the body is read into memory first so `exc.response.body_as_text()` still works, and the message quotes
at most `MESSAGE_EXCERPT_CHARS` of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tether.exceptions import (
    ClientRequestException,
    RedirectResponseException,
    ResponseException,
    ServerResponseException,
)
from tether.plugins.api import PluginBuilder, ResponseSend, Send, Sender, call_handler, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = ["MESSAGE_EXCERPT_CHARS", "HttpCallValidator", "HttpCallValidatorConfig"]

#: How much of an error body goes into an exception message (the full body stays on the response).
MESSAGE_EXCERPT_CHARS = 1024

ResponseValidator = Callable[[HttpResponse], Awaitable[None] | None]
ExceptionHandler = Callable[[BaseException, HttpRequestBuilder], Awaitable[None] | None]


@dataclass
class HttpCallValidatorConfig:
    validators: list[ResponseValidator] = field(default_factory=list)
    exception_handlers: list[ExceptionHandler] = field(default_factory=list)

    def validate_response(self, validator: ResponseValidator) -> None:
        """Run `validator(response)` on every final response; it raises to reject one.
        Validators run last-registered first (as in Ktor), after the `expect_success` check."""
        self.validators.append(validator)

    def handle_response_exception(self, handler: ExceptionHandler) -> None:
        """Observe every exception a call raises (`handler(cause, request)`); it is re-raised after."""
        self.exception_handlers.append(handler)


async def _body_excerpt(response: HttpResponse) -> str:
    try:
        text = await response.body_as_text()
    except Exception:
        return "<body failed decoding>"
    return excerpt(text)


def excerpt(text: str) -> str:
    """`text` cut to what an exception message quotes."""
    if len(text) > MESSAGE_EXCERPT_CHARS:
        return text[:MESSAGE_EXCERPT_CHARS] + f"… ({len(text)} chars)"
    return text


def status_exception(response: HttpResponse, text: str) -> ResponseException | None:
    """The exception the `expect_success` rule raises for `response` (None for a status < 300)."""
    status = int(response.status)
    if status < 300:
        return None
    if status < 400:
        return RedirectResponseException(response, text)
    if status < 500:
        return ClientRequestException(response, text)
    if status < 600:
        return ServerResponseException(response, text)
    return ResponseException(response, text)


async def validate_status(response: HttpResponse) -> None:
    """The `expect_success` rule."""
    if int(response.status) < 300:
        return
    error = status_exception(response, await _body_excerpt(response))
    if error is not None:
        raise error


def _install(plugin: PluginBuilder[HttpCallValidatorConfig]) -> None:
    config = plugin.plugin_config
    client = plugin.client

    async def validate(request: HttpRequestBuilder, response: HttpResponse) -> None:
        expect = request.expect_success if request.expect_success is not None else client.expect_success
        if expect:
            await validate_status(response)
        for validator in reversed(config.validators):
            await call_handler(validator(response))

    if config.exception_handlers:

        async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
            try:
                response = await sender.proceed(request)
                await validate(request, response)
                return response
            except Exception as exc:
                for handler in config.exception_handlers:
                    await call_handler(handler(exc, request))
                raise

        plugin.on(Send, send)
        return

    def passes(request: HttpRequestBuilder, response: HttpResponse) -> bool:
        return response.status < 300 and not config.validators  # nothing expect_success could reject

    async def follow(sender: Sender, request: HttpRequestBuilder, response: HttpResponse) -> HttpResponse:
        await validate(request, response)
        return response

    # Without exception handlers, nothing here needs to see what sending raises.
    plugin.on(Send, ResponseSend(passes, follow))


HttpCallValidator = create_client_plugin("HttpCallValidator", HttpCallValidatorConfig, _install)
