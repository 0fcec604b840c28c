"""URLs: parsing without rewriting, and DefaultRequest's merge rules.

`Url` is `yarl.URL`. tether builds every URL with `encoded=True` after percent-encoding only the
characters that may not appear raw, so a query such as `?a=%2F&b=c+d` reaches the server byte for byte
(yarl's default parsing would decode `%2F` and re-encode spaces).

`merge_urls(default, request)` resolves a request URL against a default (base) URL the way Ktor's
DefaultRequest does, which is RFC 3986 section 5 reference resolution except for the query: the
request's parameters are kept and every default parameter whose *name* the request does not use is
appended.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Union
from urllib.parse import quote, urlsplit

from yarl import URL

from tether.exceptions import InvalidUrlError

__all__ = [
    "QueryParams",
    "Url",
    "merge_query",
    "merge_urls",
    "parse_url",
    "redact_userinfo",
    "resolve_reference",
    "take_userinfo",
    "with_params",
]

Url = URL

QueryValue = Union[str, int, float, bool, None]
QueryParams = Union[
    Mapping[str, QueryValue | Sequence[QueryValue]],
    Iterable[tuple[str, QueryValue]],
    str,
    None,
]

# RFC 3986 gen-delims + sub-delims + unreserved + "%": everything that may stand raw in a URL.
_SAFE = "!#$&'()*+,/:;=?@[]~%"
#: A URL made only of characters that may stand raw needs no quoting: the common case, kept fast.
_ALREADY_RAW = re.compile(r"[A-Za-z0-9\-._~!#$&'()*+,/:;=?@\[\]%]*\Z")


def parse_url(value: str | URL) -> URL:
    """Parse without rewriting: existing %-escapes and `+` are kept, only illegal characters are quoted.

    >>> str(parse_url("http://h/p?a=%2F&b=c d"))
    'http://h/p?a=%2F&b=c%20d'
    """
    if isinstance(value, URL):
        return value
    if not isinstance(value, str):
        raise InvalidUrlError(f"URL must be a str or yarl.URL, got {type(value).__name__}")
    return _parse_text(value)


@functools.lru_cache(maxsize=2048)
def _parse_text(value: str) -> URL:
    # URLs are immutable values and applications call the same few endpoints: parse each text once.
    text = value.strip()
    if _ALREADY_RAW.match(text) and "//" in text[:12] and text.count("#") <= 1:
        try:
            return _with_valid_port(URL(text, encoded=True))
        except (ValueError, TypeError) as exc:
            raise InvalidUrlError(f"Cannot parse URL {redact_userinfo(value)!r}: {exc}") from None
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InvalidUrlError(f"Cannot parse URL {redact_userinfo(value)!r}: {exc}") from None
    netloc = parts.netloc
    after_scheme = text[len(parts.scheme) + 1 :] if parts.scheme else text
    has_authority = after_scheme.startswith("//")
    if netloc and not netloc.isascii():
        netloc = _idna_netloc(netloc, value)
    quoted = _unsplit(
        parts.scheme,
        netloc if has_authority else None,
        quote(parts.path, safe=_SAFE),
        quote(parts.query, safe=_SAFE) if parts.query or _has_empty_query(text) else None,
        quote(parts.fragment, safe=_SAFE) if parts.fragment or "#" in text else None,
    )
    try:
        return _with_valid_port(URL(quoted, encoded=True))
    except (ValueError, TypeError) as exc:
        raise InvalidUrlError(f"Cannot parse URL {redact_userinfo(value)!r}: {exc}") from None


def _with_valid_port(url: URL) -> URL:
    """`url` once its port is known to be valid: yarl parses a pre-encoded URL's authority lazily, so
    `http://h:99999/` would otherwise fail later, in an engine, with a plain ValueError."""
    try:
        url.explicit_port  # noqa: B018 (parses and checks the port)
    except ValueError:
        raise ValueError("the port must be a number from 0 to 65535") from None
    return url


def _has_empty_query(text: str) -> bool:
    before_fragment = text.split("#", 1)[0]
    return before_fragment.endswith("?")


def _idna_netloc(netloc: str, original: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    host, sep, port = hostport.partition(":")
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidUrlError(f"Cannot encode host of {redact_userinfo(original)!r}: {exc}") from None
    userinfo = quote(userinfo, safe=_SAFE) + "@" if userinfo else ""
    return f"{userinfo}{encoded}{sep}{port}"


def _unsplit(scheme: str, authority: str | None, path: str, query: str | None, fragment: str | None) -> str:
    out = ""
    if scheme:
        out += scheme + ":"
    if authority is not None:
        out += "//" + authority
    out += path
    if query is not None:
        out += "?" + query
    if fragment is not None:
        out += "#" + fragment
    return out


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    remaining = path
    while remaining:
        if remaining.startswith("../"):
            remaining = remaining[3:]
        elif remaining.startswith("./") or remaining.startswith("/./"):
            remaining = remaining[2:]
        elif remaining == "/.":
            remaining = "/"
        elif remaining.startswith("/../"):
            remaining = remaining[3:]
            if output:
                output.pop()
        elif remaining == "/..":
            remaining = "/"
            if output:
                output.pop()
        elif remaining in (".", ".."):
            remaining = ""
        else:
            start = 1 if remaining.startswith("/") else 0
            cut = remaining.find("/", start)
            segment, remaining = (remaining, "") if cut < 0 else (remaining[:cut], remaining[cut:])
            output.append(segment)
    return "".join(output)


def _merge_paths(base_path: str, base_has_authority: bool, ref_path: str) -> str:
    """RFC 3986 section 5.2.3: drop the base's last segment, append the reference."""
    if base_has_authority and not base_path:
        return "/" + ref_path
    cut = base_path.rfind("/")
    return base_path[: cut + 1] + ref_path


def _query_pairs(raw: str) -> list[tuple[str, str]]:
    pairs = []
    for item in raw.split("&"):
        if item == "":
            continue
        name, _, _ = item.partition("=")
        pairs.append((name, item))
    return pairs


def merge_query(request_query: str, default_query: str) -> str:
    """Ktor's rule: the request's parameters, then each default parameter whose name the request lacks.

    Works on the raw (encoded) query so nothing is re-encoded.
    """
    request_pairs = _query_pairs(request_query)
    names = {name for name, _ in request_pairs}
    merged = [item for _, item in request_pairs]
    merged.extend(item for name, item in _query_pairs(default_query) if name not in names)
    return "&".join(merged)


def merge_urls(default: str | URL, request: str | URL) -> URL:
    """Resolve `request` against `default` with Ktor's DefaultRequest rules.

    >>> str(merge_urls("http://base.url/path/", "file"))
    'http://base.url/path/file'
    >>> str(merge_urls("http://base.url/path/", "/other"))
    'http://base.url/other'
    >>> str(merge_urls("http://h/api/?key=1", "users?page=2"))
    'http://h/api/users?page=2&key=1'
    """
    return _resolve(parse_url(default), parse_url(request), merge_defaults_query=True)


def resolve_reference(base: str | URL, reference: str | URL) -> URL:
    """Plain RFC 3986 section 5.2 reference resolution (what a `Location` header needs)."""
    return _resolve(parse_url(base), parse_url(reference), merge_defaults_query=False)


def _resolve(base: URL, ref: URL, *, merge_defaults_query: bool) -> URL:
    if ref.scheme:
        # An absolute reference is used as given (RFC 3986 5.2.2; Ktor: "merge stops there").
        return ref
    ref_text = str(ref)
    if ref.raw_host is not None or ref_text.startswith("//"):
        # A network-path reference keeps its own authority and takes only the base's scheme.
        return URL(f"{base.scheme}:{ref_text}", encoded=True)
    ref_path = ref.raw_path
    has_query = "?" in ref_text.split("#", 1)[0]
    ref_query = ref.raw_query_string if has_query else None
    if ref_path == "":
        path = base.raw_path
        query = ref_query if ref_query is not None else base.raw_query_string
    else:
        if ref_path.startswith("/"):
            path = remove_dot_segments(ref_path)
        else:
            path = remove_dot_segments(_merge_paths(base.raw_path, base.raw_host is not None, ref_path))
        query = ref_query or ""
    if merge_defaults_query:
        query = merge_query(ref_query or "", base.raw_query_string)
    fragment: str | None
    if "#" in ref_text:
        fragment = ref.raw_fragment
    elif merge_defaults_query:
        fragment = base.raw_fragment or None  # Ktor: the request's fragment when it has one, else the default's.
    else:
        fragment = None
    return URL(_unsplit(base.scheme, _authority(base), path, query or None, fragment), encoded=True)


def _authority(url: URL) -> str | None:
    if url.raw_host is None:
        return None
    host = url.raw_host
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = ""
    if url.raw_user is not None:
        userinfo = url.raw_user
        if url.raw_password is not None:
            userinfo += ":" + url.raw_password
        userinfo += "@"
    port = f":{url.explicit_port}" if url.explicit_port is not None else ""
    return f"{userinfo}{host}{port}"


def with_params(url: URL, params: QueryParams) -> URL:
    """Append `params` to the URL's query (never replacing what the URL already carries)."""
    if params is None:
        return url
    if isinstance(params, str):
        extra = params.lstrip("?")
    else:
        items: Iterable[tuple[str, QueryValue]]
        if isinstance(params, Mapping):
            flat: list[tuple[str, QueryValue]] = []
            for name, value in params.items():
                if isinstance(value, (list, tuple)):
                    flat.extend((name, v) for v in value)
                else:
                    flat.append((name, value))  # type: ignore[arg-type]
            items = flat
        else:
            items = params
        extra = "&".join(f"{quote(str(name), safe='')}={quote(_param_text(value), safe='')}" for name, value in items)
    if not extra:
        return url
    current = url.raw_query_string
    query = f"{current}&{extra}" if current else extra
    return _replace_query(url, query)


def _replace_query(url: URL, query: str) -> URL:
    text = str(url.with_fragment(None).with_query(None))
    fragment = f"#{url.raw_fragment}" if url.raw_fragment else ""
    return URL(f"{text}?{query}{fragment}", encoded=True)


def _param_text(value: QueryValue) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


#: `//user:password@` in a URL text: the password part is what `redact_userinfo` hides.
_USERINFO_PASSWORD = re.compile(r"(//[^/?#@]*?:)[^/?#@]*@")


def redact_userinfo(text: str) -> str:
    """`text` with the password of any `scheme://user:password@host` replaced by `***` (for messages).

    >>> redact_userinfo("http://alice:s3cret@api.test/x")
    'http://alice:***@api.test/x'
    """
    return _USERINFO_PASSWORD.sub(r"\1***@", text) if "@" in text else text


def take_userinfo(url: URL) -> tuple[URL, str | None]:
    """The URL without its userinfo, and the `Authorization` value (Basic) the userinfo stood for
    (None when the URL had none). tether never sends userinfo in a URL: it becomes Basic credentials
    for the request's own origin only.

    >>> take_userinfo(URL("http://alice:pw@api.test/x"))
    (URL('http://api.test/x'), 'Basic YWxpY2U6cHc=')
    """
    if url.raw_user is None:
        return url, None
    pair = f"{url.user or ''}:{url.password or ''}".encode()
    return url.with_user(None), "Basic " + base64.b64encode(pair).decode("ascii")
