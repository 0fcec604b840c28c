"""Authentication: Basic, Bearer and Digest providers with Ktor 3.4's token-cache control.

config.install(Auth, lambda auth: auth.bearer(load_tokens=load, refresh_tokens=refresh))
client.auth_provider(BearerAuthProvider).clear_token()
client.clear_auth_tokens()
"""

from tether.plugins.auth.challenge import AuthChallenge, parse_challenges
from tether.plugins.auth.plugin import Auth, AuthConfig
from tether.plugins.auth.providers import (
    AuthProvider,
    BasicAuthCredentials,
    BasicAuthProvider,
    BearerAuthProvider,
    BearerTokens,
    DigestAuthProvider,
    RefreshTokensParams,
)
from tether.plugins.auth.token_holder import AuthTokenHolder

__all__ = [
    "Auth",
    "AuthChallenge",
    "AuthConfig",
    "AuthProvider",
    "AuthTokenHolder",
    "BasicAuthCredentials",
    "BasicAuthProvider",
    "BearerAuthProvider",
    "BearerTokens",
    "DigestAuthProvider",
    "RefreshTokensParams",
    "parse_challenges",
]
