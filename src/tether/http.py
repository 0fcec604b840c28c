"""HTTP value types: status codes, protocol versions and headers.

Headers are a thin, read-only face over `multidict.CIMultiDictProxy` (case-insensitive, multi-valued,
order-preserving); request builders use `multidict.CIMultiDict` directly.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import ItemsView, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Final, Union

from multidict import CIMultiDict, CIMultiDictProxy, istr

__all__ = [
    "Headers",
    "HeadersInit",
    "HttpProtocolVersion",
    "HttpStatusCode",
    "TOKEN",
    "UNSAFE_HEADERS",
]

HeadersInit = Union[
    Mapping[str, str],
    Iterable[tuple[str, str]],
    "Headers",
    CIMultiDict[str],
    CIMultiDictProxy[str],
    None,
]

#: An RFC 9110 token (5.6.2) as a regular expression: header names, auth schemes, parameters.
TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"

#: Headers the engine owns; setting them on a request raises `UnsafeHeaderException` (as Ktor does).
UNSAFE_HEADERS: Final = frozenset({istr("Transfer-Encoding"), istr("Upgrade")})


class HttpStatusCode(int):
    """An `int` that knows its reason phrase: `HttpStatusCode(404).description == "Not Found"`."""

    description: str

    def __new__(cls, value: int, description: str | None = None) -> HttpStatusCode:
        if not 100 <= int(value) <= 999:
            raise ValueError(f"HTTP status code must be three digits, got {value}")
        self = super().__new__(cls, value)
        if description is None:
            try:
                description = HTTPStatus(int(value)).phrase
            except ValueError:
                description = "Unknown Status Code"
        self.description = description
        return self

    @staticmethod
    @functools.lru_cache(maxsize=512)
    def of(value: int, description: str | None = None) -> HttpStatusCode:
        """A shared instance: status codes repeat, so engines need not build one per response."""
        return HttpStatusCode(value, description or None)

    @property
    def value(self) -> int:
        return int(self)

    def is_success(self) -> bool:
        return 200 <= self < 300

    def is_redirect(self) -> bool:
        return 300 <= self < 400

    def __repr__(self) -> str:
        return f"HttpStatusCode({int(self)}, {self.description!r})"

    def __str__(self) -> str:
        return f"{int(self)} {self.description}"

    def __reduce__(self) -> tuple[type[HttpStatusCode], tuple[int, str]]:
        return (HttpStatusCode, (int(self), self.description))


class HttpProtocolVersion(enum.Enum):
    """The protocol a response arrived over, as the engine reports it."""

    HTTP_1_0 = "HTTP/1.0"
    HTTP_1_1 = "HTTP/1.1"
    HTTP_2_0 = "HTTP/2.0"
    HTTP_3_0 = "HTTP/3.0"

    @classmethod
    @functools.lru_cache(maxsize=64)
    def parse(cls, text: str) -> HttpProtocolVersion:
        """`"HTTP/2"`, `"h2"`, `"2"`, `"HTTP/1.1"` ... -> the version; unknown text raises ValueError."""
        normalized = text.strip().upper().removeprefix("HTTP/")
        aliases = {
            "1.0": cls.HTTP_1_0,
            "1": cls.HTTP_1_0,
            "1.1": cls.HTTP_1_1,
            "2": cls.HTTP_2_0,
            "2.0": cls.HTTP_2_0,
            "H2": cls.HTTP_2_0,
            "H2C": cls.HTTP_2_0,
            "3": cls.HTTP_3_0,
            "3.0": cls.HTTP_3_0,
            "H3": cls.HTTP_3_0,
        }
        try:
            return aliases[normalized]
        except KeyError:
            raise ValueError(f"unknown HTTP protocol version {text!r}") from None

    def __str__(self) -> str:
        return str(self.value)


def build_headers(init: HeadersInit) -> CIMultiDict[str]:
    """A fresh mutable multi-map from any of the header shapes the API accepts."""
    result: CIMultiDict[str] = CIMultiDict()
    if init is None:
        return result
    if isinstance(init, Headers):
        result.extend(init.items())
    elif isinstance(init, (CIMultiDict, CIMultiDictProxy)):
        result.extend(init)
    elif isinstance(init, Mapping):
        for name, value in init.items():
            result.add(name, value)
    else:
        for name, value in init:
            result.add(name, value)
    return result


class Headers(Mapping[str, str]):
    """Immutable, case-insensitive, multi-valued headers.

    `headers["content-type"]` is the first value; `get_all(name)` every value in arrival order;
    `items()` every (name, value) pair, repeated names included.

    >>> h = Headers([("X-A", "1, 2"), ("x-a", "3")])
    >>> h.get_split_values("X-A")
    ['1', '2', '3']
    """

    # `_body_length`: what `expected_body_length` found in these headers (unset until asked; headers
    # are immutable, and engines share one object between identical response heads).
    __slots__ = ("_body_length", "_map")
    _body_length: int | None

    def __init__(self, init: HeadersInit = None) -> None:
        source = init if isinstance(init, CIMultiDict) else build_headers(init)
        self._map: CIMultiDictProxy[str] = CIMultiDictProxy(source)

    def __getitem__(self, name: str) -> str:
        return self._map[name]

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name in self._map:
            folded = name.lower()
            if folded not in seen:
                seen.add(folded)
                yield name

    def __len__(self) -> int:
        return len({name.lower() for name in self._map})

    def __contains__(self, name: object) -> bool:
        return name in self._map

    def items(self) -> ItemsView[str, str]:
        """Every (name, value) pair, names repeated when a header has several lines."""
        return self._map.items()

    def get_all(self, name: str) -> list[str]:
        """Every value of `name` in arrival order; empty when absent."""
        return self._map.getall(name, [])

    def get_split_values(self, name: str, separator: str = ",", split_inside_quotes: bool = False) -> list[str] | None:
        """Every value of `name`, split at `separator` and stripped; None when the header is absent.

        A separator inside a double-quoted string is not a split point unless `split_inside_quotes`.
        """
        values = self._map.getall(name, None)
        if values is None:
            return None
        result: list[str] = []
        for value in values:
            result.extend(split_header_value(value, separator, split_inside_quotes))
        return result

    @property
    def multidict(self) -> CIMultiDictProxy[str]:
        """The read-only multidict underneath (for engines handing headers to a library)."""
        return self._map

    def to_multidict(self) -> CIMultiDict[str]:
        """A mutable copy."""
        return CIMultiDict(self._map)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted((k.lower(), v) for k, v in self.items()) == sorted((k.lower(), v) for k, v in other.items())
        if isinstance(other, Mapping):
            return self == Headers(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({list(self.items())!r})"


def split_header_value(value: str, separator: str = ",", split_inside_quotes: bool = False) -> list[str]:
    """Split one header value at `separator`, honouring double quotes (and backslash escapes in them)."""
    if len(separator) != 1:
        raise ValueError(f"separator must be a single character, got {separator!r}")
    if split_inside_quotes:
        return [part.strip() for part in value.split(separator) if part.strip()]
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif in_quotes and char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            in_quotes = not in_quotes
        elif char == separator and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]
