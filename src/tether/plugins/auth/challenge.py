"""`WWW-Authenticate` parsing (RFC 9110 11.6.1): several challenges per header, quoted strings with
escapes and commas, token68, case-insensitive scheme and parameter names. Pure: text in, values out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tether.http import TOKEN

__all__ = ["AuthChallenge", "parse_challenges"]

_TOKEN_RE = re.compile(TOKEN)
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SPACE = " \t"


@dataclass(frozen=True)
class AuthChallenge:
    """One challenge: `scheme` as sent, `params` with lower-cased names, or a `token68`."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None

    def matches(self, scheme: str) -> bool:
        return self.scheme.lower() == scheme.lower()

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self, chars: str = _SPACE) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str | None:
        match = _TOKEN_RE.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        assert self.peek() == '"'
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == '"':
                return "".join(out)
            out.append(char)
        return "".join(out)  # unterminated: take what there is (lenient, like browsers)


def _parse_one_header(header: str) -> list[AuthChallenge]:
    cursor = _Cursor(header)
    challenges: list[AuthChallenge] = []
    while True:
        cursor.skip(_SPACE + ",")
        if cursor.at_end():
            return challenges
        scheme = cursor.token()
        if scheme is None:
            return challenges  # garbage: keep what was understood
        params: dict[str, str] = {}
        token68: str | None = None
        cursor.skip()
        # token68 ("Bearer abc==") stands alone: nothing but a comma or the end may follow it.
        match = _TOKEN68_RE.match(cursor.text, cursor.pos)
        if match is not None:
            rest = cursor.text[match.end() :].lstrip(_SPACE)
            if not rest or rest.startswith(","):
                token68 = match.group(0)
                cursor.pos = match.end()
        while token68 is None:
            cursor.skip()
            start = cursor.pos
            name = cursor.token()
            if name is None:
                break
            cursor.skip()
            if cursor.peek() != "=":
                cursor.pos = start  # the next challenge's scheme
                break
            cursor.pos += 1
            cursor.skip()
            value = cursor.quoted() if cursor.peek() == '"' else (cursor.token() or "")
            params[name.lower()] = value
            cursor.skip()
            if cursor.peek() == ",":
                cursor.pos += 1
                continue
            break
        challenges.append(AuthChallenge(scheme, params, token68))


def parse_challenges(headers: Iterable[str]) -> list[AuthChallenge]:
    """Every challenge of every `WWW-Authenticate` header value, in order."""
    return [challenge for header in headers for challenge in _parse_one_header(header)]
