"""Auth providers: Basic, Bearer and Digest (RFC 7617, RFC 6750, RFC 7616)."""

from __future__ import annotations

import base64
import hashlib
import inspect
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

from tether.attributes import AttributeKey
from tether.plugins.auth.challenge import AuthChallenge
from tether.plugins.auth.token_holder import AuthTokenHolder
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

if TYPE_CHECKING:
    from tether.client import HttpClient

__all__ = [
    "AuthProvider",
    "BasicAuthCredentials",
    "BasicAuthProvider",
    "BearerAuthProvider",
    "BearerTokens",
    "DigestAuthCredentials",
    "DigestAuthProvider",
    "RefreshTokensParams",
]

#: Marks a request made by a token refresher: Auth leaves it alone (no recursion).
REFRESH_TOKEN_REQUEST: AttributeKey[bool] = AttributeKey("AuthRefreshTokenRequest")


@dataclass(frozen=True)
class BasicAuthCredentials:
    username: str
    password: str


DigestAuthCredentials = BasicAuthCredentials


@dataclass(frozen=True)
class BearerTokens:
    access_token: str
    refresh_token: str | None = None


@dataclass(frozen=True)
class RefreshTokensParams:
    client: HttpClient
    response: HttpResponse
    old_tokens: BearerTokens | None

    def mark_as_refresh_token_request(self, request: HttpRequestBuilder) -> None:
        """Call it on the refresh request you send with the same client: Auth will not touch it."""
        request.attributes[REFRESH_TOKEN_REQUEST] = True


async def _maybe(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


#: What `credentials=` of `auth.basic(...)` and `auth.digest(...)` accepts.
_Credentials = Union[BasicAuthCredentials, tuple[str, str]]
BasicCredentialsSource = Union[
    _Credentials, Callable[[], Union[_Credentials, Awaitable[Union[_Credentials, None]], None]]
]
#: What `load_tokens=` of `auth.bearer(...)` accepts.
BearerTokensSource = Union[BearerTokens, Callable[[], Union[BearerTokens, Awaitable[Union[BearerTokens, None]], None]]]

_CREDENTIALS = "BasicAuthCredentials(username, password) or a (username, password) tuple of str"
_CREDENTIALS_FORMS = f"{_CREDENTIALS}, or a function (sync or async) returning one of those or None"
_RETURNED_TOKENS = "BearerTokens(access_token=...) or None"
_TOKENS_FORMS = "BearerTokens(access_token=...), or a function (sync or async) returning BearerTokens or None"


def _kind(value: object) -> str:
    # Never the value itself: it may hold a password or a token.
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} item(s) ({', '.join(type(part).__name__ for part in value)})"
    return type(value).__name__


def _as_credentials(value: object, where: str, forms: str = _CREDENTIALS_FORMS) -> BasicAuthCredentials | None:
    if value is None or isinstance(value, BasicAuthCredentials):
        return value
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(part, str) for part in value):
        return BasicAuthCredentials(value[0], value[1])
    raise TypeError(f"{where} must be {forms}; got {_kind(value)}")


def credentials_loader(
    credentials: BasicCredentialsSource, where: str
) -> Callable[[], BasicAuthCredentials | Awaitable[BasicAuthCredentials | None] | None]:
    """The loader behind `credentials=`: a constant, or the user's function with its result checked.
    TypeError naming `where` and the accepted forms for anything else (when the client is built)."""
    if callable(credentials):
        load = credentials

        async def checked() -> BasicAuthCredentials | None:
            return _as_credentials(await _maybe(load()), f"The value returned by {where}", f"{_CREDENTIALS} or None")

        return checked
    constant = _as_credentials(credentials, where)
    if constant is None:
        raise TypeError(f"{where} must be {_CREDENTIALS_FORMS}; got None")
    return lambda: constant


def _as_tokens(value: object, where: str, forms: str = _TOKENS_FORMS) -> BearerTokens | None:
    if value is None or isinstance(value, BearerTokens):
        return value
    hint = " (wrap a token string: BearerTokens(access_token=token))" if isinstance(value, str) else ""
    raise TypeError(f"{where} must be {forms}{hint}; got {_kind(value)}")


def tokens_loader(
    load_tokens: BearerTokensSource, where: str
) -> Callable[[], BearerTokens | Awaitable[BearerTokens | None] | None]:
    """The loader behind `load_tokens=`: a constant `BearerTokens`, or the user's function with its
    result checked; TypeError naming `where` and the accepted forms for anything else."""
    if callable(load_tokens):
        load = load_tokens

        async def checked() -> BearerTokens | None:
            return _as_tokens(await _maybe(load()), f"The value returned by {where}", _RETURNED_TOKENS)

        return checked
    constant = _as_tokens(load_tokens, where)
    if constant is None:
        raise TypeError(f"{where} must be {_TOKENS_FORMS}; got None")
    return lambda: constant


def check_setting(where: str, name: str, value: object, ok: bool, expected: str) -> None:
    """TypeError `where: name must be expected, got <type>` unless `ok` (not the value: it may be a secret)."""
    if not ok:
        raise TypeError(f"{where}: {name} must be {expected}, got {_kind(value)}")


def check_refresh(refresh_tokens: object) -> None:
    check_setting(
        "Auth bearer()",
        "refresh_tokens",
        refresh_tokens,
        refresh_tokens is None or callable(refresh_tokens),
        "None or a function (sync or async) taking RefreshTokensParams and returning BearerTokens or None",
    )


def check_common(where: str, realm: object, cache_tokens: object, send_without_request: object = None) -> None:
    check_setting(where, "realm", realm, realm is None or isinstance(realm, str), "a str or None")
    check_setting(where, "cache_tokens", cache_tokens, isinstance(cache_tokens, bool), "a bool")
    if send_without_request is not None:
        check_setting(
            where,
            "send_without_request",
            send_without_request,
            callable(send_without_request),
            "a function taking the request builder and returning a bool",
        )


class AuthProvider:
    """One scheme's way to authenticate. Subclasses implement the four hooks."""

    scheme = ""

    def __init__(self, realm: str | None, send_without_request: Callable[[HttpRequestBuilder], bool]) -> None:
        self.realm = realm
        self._send_without_request = send_without_request

    def send_without_request(self, request: HttpRequestBuilder) -> bool:
        return self._send_without_request(request)

    def is_applicable(self, challenge: AuthChallenge) -> bool:
        if not challenge.matches(self.scheme):
            return False
        return self.realm is None or challenge.realm == self.realm

    async def add_request_headers(self, request: HttpRequestBuilder, challenge: AuthChallenge | None) -> None:
        raise NotImplementedError

    async def refresh_token(self, response: HttpResponse, request: HttpRequestBuilder) -> bool:
        """After a 401: True when the request should be sent again (with `add_request_headers`)."""
        return True

    def clear_token(self) -> None:
        """Forget cached credentials or tokens (they are loaded again when next needed)."""


class BasicAuthProvider(AuthProvider):
    """Basic credentials. As in Ktor, they are sent only after the server's `401` challenge (two round
    trips per call) unless `send_without_request` returns True for the request."""

    scheme = "Basic"

    def __init__(
        self,
        credentials: BasicCredentialsSource,
        realm: str | None = None,
        send_without_request: Callable[[HttpRequestBuilder], bool] = lambda request: False,
        cache_tokens: bool = True,
    ) -> None:
        loader = credentials_loader(credentials, "Auth basic(credentials=...)")
        check_common("Auth basic()", realm, cache_tokens, send_without_request)
        super().__init__(realm, send_without_request)
        self._holder: AuthTokenHolder[BasicAuthCredentials] = AuthTokenHolder(loader, cache_tokens)

    async def add_request_headers(self, request: HttpRequestBuilder, challenge: AuthChallenge | None) -> None:
        credentials = await self._holder.load()
        if credentials is None:
            return
        raw = f"{credentials.username}:{credentials.password}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")

    def clear_token(self) -> None:
        self._holder.clear()


_BEARER_USED: AttributeKey[BearerTokens | None] = AttributeKey("BearerTokensUsed")


class BearerAuthProvider(AuthProvider):
    scheme = "Bearer"

    def __init__(
        self,
        load_tokens: BearerTokensSource,
        refresh_tokens: Callable[[RefreshTokensParams], BearerTokens | Awaitable[BearerTokens | None] | None] | None,
        realm: str | None = None,
        send_without_request: Callable[[HttpRequestBuilder], bool] = lambda request: True,
        cache_tokens: bool = True,
        client: HttpClient | None = None,
    ) -> None:
        loader = tokens_loader(load_tokens, "Auth bearer(load_tokens=...)")
        check_refresh(refresh_tokens)
        check_common("Auth bearer()", realm, cache_tokens, send_without_request)
        super().__init__(realm, send_without_request)
        self._holder: AuthTokenHolder[BearerTokens] = AuthTokenHolder(loader, cache_tokens)
        self._refresh = refresh_tokens
        self._client = client

    def is_applicable(self, challenge: AuthChallenge) -> bool:
        return super().is_applicable(challenge)

    async def add_request_headers(self, request: HttpRequestBuilder, challenge: AuthChallenge | None) -> None:
        tokens = await self._holder.load()
        request.attributes[_BEARER_USED] = tokens
        if tokens is not None:
            request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        else:
            request.headers.popall("Authorization", None)

    async def refresh_token(self, response: HttpResponse, request: HttpRequestBuilder) -> bool:
        used = request.attributes.get(_BEARER_USED)
        if self._refresh is None:
            return False
        refresh = self._refresh
        assert self._client is not None

        async def run() -> BearerTokens | None:
            params = RefreshTokensParams(self._client, response, used)  # type: ignore[arg-type]
            returned = await _maybe(refresh(params))
            return _as_tokens(returned, "The value returned by Auth bearer(refresh_tokens=...)", _RETURNED_TOKENS)

        tokens = await self._holder.refresh(used, run)
        return tokens is not None

    def clear_token(self) -> None:
        self._holder.clear()


class DigestAuthProvider(AuthProvider):
    """RFC 7616 with `qop=auth` (or none), MD5, SHA-256 and their `-sess` variants."""

    scheme = "Digest"
    ALGORITHMS: ClassVar[dict[str, Callable[[bytes], Any]]] = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}

    def __init__(
        self,
        credentials: BasicCredentialsSource,
        realm: str | None = None,
        algorithm: str = "SHA-256",
        cache_tokens: bool = True,
    ) -> None:
        loader = credentials_loader(credentials, "Auth digest(credentials=...)")
        check_common("Auth digest()", realm, cache_tokens)
        check_setting("Auth digest()", "algorithm", algorithm, isinstance(algorithm, str), "a str (MD5 or SHA-256)")
        super().__init__(realm, lambda request: False)
        if algorithm.upper().removesuffix("-SESS") not in self.ALGORITHMS:
            raise ValueError(f"Digest algorithm must be MD5 or SHA-256 (optionally -sess), got {algorithm!r}")
        self.algorithm = algorithm.upper()
        self._holder: AuthTokenHolder[BasicAuthCredentials] = AuthTokenHolder(loader, cache_tokens)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def is_applicable(self, challenge: AuthChallenge) -> bool:
        if not super().is_applicable(challenge):
            return False
        offered = challenge.params.get("algorithm", "MD5").upper()
        if offered not in (self.algorithm, self.algorithm.removesuffix("-SESS")):
            return False
        # A challenge that offers qops, none of them "auth" (only "auth-int", which hashes the body):
        # answering without a qop would be refused; like an unknown algorithm, the 401 is the answer.
        qop = challenge.params.get("qop")
        return qop is None or "auth" in _qops(qop)

    @staticmethod
    def new_cnonce() -> str:
        return os.urandom(16).hex()

    def _next_count(self, nonce: str) -> int:
        with self._lock:
            self._counts[nonce] = count = self._counts.get(nonce, 0) + 1
            return count

    async def add_request_headers(self, request: HttpRequestBuilder, challenge: AuthChallenge | None) -> None:
        if challenge is None:
            return
        credentials = await self._holder.load()
        if credentials is None:
            return
        params = challenge.params
        realm = params.get("realm", "")
        nonce = params.get("nonce", "")
        algorithm = params.get("algorithm", "MD5").upper()
        hash_ = self.ALGORITHMS[algorithm.removesuffix("-SESS")]

        def h(text: str) -> str:
            return str(hash_(text.encode("utf-8")).hexdigest())

        uri = request.url.raw_path_qs
        cnonce = self.new_cnonce()
        ha1 = h(f"{credentials.username}:{realm}:{credentials.password}")
        if algorithm.endswith("-SESS"):
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{request.method}:{uri}")
        qops = _qops(params.get("qop", ""))
        fields = [
            f"username={_quoted(credentials.username)}",
            f"realm={_quoted(realm)}",
            f"nonce={_quoted(nonce)}",
            f"uri={_quoted(uri)}",
            f"algorithm={algorithm}",
        ]
        if "auth" in qops:
            nc = f"{self._next_count(nonce):08x}"
            response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += [f'response="{response}"', "qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            fields.append(f'response="{h(f"{ha1}:{nonce}:{ha2}")}"')
        if "opaque" in params:
            fields.append(f"opaque={_quoted(params['opaque'])}")
        request.headers["Authorization"] = "Digest " + ", ".join(fields)

    def clear_token(self) -> None:
        self._holder.clear()


def _qops(offered: str) -> list[str]:
    return [q.strip().lower() for q in offered.split(",") if q.strip()]


def _quoted(value: str) -> str:
    """An RFC 9110 quoted-string: a `"` or `\\` inside (a nonce may hold one) is escaped, as the
    challenge parser unescaped it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_stale_digest(challenge: AuthChallenge) -> bool:
    """A Digest challenge with `stale=true`: the credentials were right, the nonce had expired (RFC
    7616 3.3): answered once more with the new nonce, beyond the one re-send per call."""
    return challenge.matches("Digest") and challenge.params.get("stale", "").strip().lower() == "true"


Credentials = Union[BasicAuthCredentials, BearerTokens]
