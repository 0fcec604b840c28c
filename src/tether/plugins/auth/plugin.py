"""The Auth plugin: providers add credentials, a 401 makes the matching provider refresh and the
request is sent again once.

    config.install(Auth, lambda auth: auth.bearer(load_tokens=load, refresh_tokens=refresh))

- Before a request: every provider whose `send_without_request(request)` is true adds its header
  (Bearer by default, Basic and Digest only when asked or challenged).
- On a 401: all `WWW-Authenticate` challenges are parsed; the first provider applicable to one of
  them (scheme, case-insensitive, and realm) refreshes; with no challenge at all, a single provider
  is tried. The request is sent again at most once per call (a circuit breaker); a refresh that
  returns nothing hands the 401 back. A one-shot stream body cannot be re-sent:
  `BodyNotReplayableError` says so instead.
- Only for the origin the call was made to: after a redirect to another origin (which already
  dropped `Authorization`) Auth adds nothing and answers no challenge.
- A request sent with `auth=False`, or marked with `RefreshTokensParams.mark_as_refresh_token_request`,
  is left alone (use it for the refresh call itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from tether.attributes import AttributeKey
from tether.content import StreamContent, WriterChannelContent
from tether.exceptions import BodyNotReplayableError
from tether.plugins.api import PluginBuilder, Send, Sender, create_client_plugin
from tether.plugins.auth.challenge import AuthChallenge, parse_challenges
from tether.plugins.auth.providers import (
    REFRESH_TOKEN_REQUEST,
    AuthProvider,
    BasicAuthProvider,
    BasicCredentialsSource,
    BearerAuthProvider,
    BearerTokens,
    BearerTokensSource,
    DigestAuthProvider,
    RefreshTokensParams,
    check_common,
    check_refresh,
    is_stale_digest,
    tokens_loader,
)
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = ["Auth", "AuthConfig"]

_RETRIED: AttributeKey[bool] = AttributeKey("AuthRetried")
_ORIGIN: AttributeKey[str] = AttributeKey("AuthOrigin")


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


@dataclass
class AuthConfig:
    providers: list[AuthProvider] = field(default_factory=list)
    _pending: list[Callable[[Any], AuthProvider]] = field(default_factory=list, repr=False)

    def basic(
        self,
        credentials: BasicCredentialsSource,
        realm: str | None = None,
        send_without_request: Callable[[HttpRequestBuilder], bool] = lambda request: False,
        cache_tokens: bool = True,
    ) -> None:
        """`credentials`: `BasicAuthCredentials(username, password)`, a `(username, password)` tuple,
        or a function (sync or async) returning either or None. Anything else raises TypeError here."""
        self.providers.append(BasicAuthProvider(credentials, realm, send_without_request, cache_tokens))

    def bearer(
        self,
        load_tokens: BearerTokensSource,
        refresh_tokens: Callable[[RefreshTokensParams], BearerTokens | Awaitable[BearerTokens | None] | None]
        | None = None,
        send_without_request: Callable[[HttpRequestBuilder], bool] = lambda request: True,
        realm: str | None = None,
        cache_tokens: bool = True,
    ) -> None:
        """`load_tokens`: a function (sync or async) returning `BearerTokens` or None, or constant
        `BearerTokens`; `refresh_tokens`: None or a function taking `RefreshTokensParams`. Anything
        else raises TypeError here, not at the first request."""
        tokens_loader(load_tokens, "Auth bearer(load_tokens=...)")
        check_refresh(refresh_tokens)
        check_common("Auth bearer()", realm, cache_tokens, send_without_request)
        self._pending.append(
            lambda client: BearerAuthProvider(
                load_tokens, refresh_tokens, realm, send_without_request, cache_tokens, client
            )
        )

    def digest(
        self,
        credentials: BasicCredentialsSource,
        realm: str | None = None,
        algorithm: str = "SHA-256",
        cache_tokens: bool = True,
    ) -> None:
        """`credentials`: as for `basic`."""
        self.providers.append(DigestAuthProvider(credentials, realm, algorithm, cache_tokens))


def _replayable(request: HttpRequestBuilder) -> bool:
    body = request.body
    if isinstance(body, WriterChannelContent):
        return False
    return not (isinstance(body, StreamContent) and not body.replayable)


def _install(plugin: PluginBuilder[AuthConfig]) -> None:
    config = plugin.plugin_config
    providers = list(config.providers) + [make(plugin.client) for make in config._pending]
    config.providers = providers
    config._pending.clear()

    def skipped(request: HttpRequestBuilder) -> bool:
        return request.call_options.get("auth") is False or request.attributes.get(REFRESH_TOKEN_REQUEST, False)

    async def before(request: HttpRequestBuilder, content: object) -> None:
        if skipped(request):
            return
        request.attributes[_ORIGIN] = _origin(request.url)
        for provider in providers:
            if provider.send_without_request(request):
                await provider.add_request_headers(request, None)

    async def send(sender: Sender, request: HttpRequestBuilder) -> HttpResponse:
        response = await sender.proceed(request)
        if request.attributes.get(_RETRIED):
            return response  # circuit breaker: one answered challenge per call
        # The challenge answered once; a Digest nonce that expired meanwhile (stale=true: the
        # credentials were right, RFC 7616 3.3) is answered once more, with the new nonce.
        for answered in range(2):
            if int(response.status) != 401 or skipped(request):
                return response
            if request.attributes.get(_ORIGIN) != _origin(request.url):
                return response  # a redirect took us elsewhere: no credentials for that origin
            challenges = parse_challenges(response.headers.get_all("WWW-Authenticate"))
            if answered:
                challenges = [c for c in challenges if is_stale_digest(c)]
                if not challenges:
                    return response
            chosen: tuple[AuthProvider, AuthChallenge | None] | None = None
            for offered in challenges:
                match = next((p for p in providers if p.is_applicable(offered)), None)
                if match is not None:
                    chosen = (match, offered)
                    break
            if chosen is None and not challenges and len(providers) == 1:
                chosen = (providers[0], None)
            if chosen is None:
                return response
            provider, challenge = chosen
            if not await provider.refresh_token(response, request):
                return response
            if not _replayable(request):
                raise BodyNotReplayableError(
                    f"Cannot re-send {request.method} {request.url} with new credentials after a 401: its "
                    "body is a one-shot stream (pass a callable returning a fresh stream)"
                )
            await provider.add_request_headers(request, challenge)
            request.attributes[_RETRIED] = True
            response = await sender.proceed(request)
        return response

    plugin.on_request(before)
    plugin.on(Send, send)


Auth = create_client_plugin("Auth", AuthConfig, _install, call_options=("auth",))
