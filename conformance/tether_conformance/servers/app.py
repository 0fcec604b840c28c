"""The ASGI application served by hypercorn: the endpoints the cases call."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PATTERN = bytes(range(256))


def pattern_bytes(size: int) -> bytes:
    """Deterministic, binary-rich bytes: every byte value appears."""
    whole, rest = divmod(size, len(PATTERN))
    return PATTERN * whole + PATTERN[:rest]


class Counter:
    """Requests seen, so the runner can tell whether a case did any I/O."""

    def __init__(self) -> None:
        self.requests = 0


async def read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                return b"".join(parts)
        elif message["type"] == "http.disconnect":
            return b"".join(parts)


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    content_length: bool = True,
) -> None:
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers or []]
    if content_length and not any(k == b"content-length" for k, _ in raw_headers):
        raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def make_app(counter: Counter) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            counter.requests += 1
            await websocket_echo(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        counter.requests += 1
        path: str = scope["path"]
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        handler = ROUTES.get(path)
        if handler is None:
            for prefix, prefixed in PREFIX_ROUTES.items():
                if path.startswith(prefix):
                    handler = prefixed
                    break
        if handler is None:
            await read_body(receive)
            await respond(send, 404, f"no route {path}".encode(), [("content-type", "text/plain")])
            return
        await handler(scope, receive, send, query)

    return app


Handler = Callable[[Scope, Receive, Send, dict[str, str]], Awaitable[None]]


async def websocket_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Any WebSocket path: accept (with the first offered subprotocol) and echo every message."""
    if (await receive())["type"] != "websocket.connect":
        return
    offered = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": offered[0] if offered else None})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def echo(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    body = await read_body(receive)
    document = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope.get("raw_path", b"").decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "http_version": scope["http_version"],
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_text": body[:4096].decode("utf-8", "replace") if len(body) <= 4096 else None,
    }
    await respond(send, 200, json.dumps(document).encode(), [("content-type", "application/json")])


async def echo_body(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    body = await read_body(receive)
    content_type = dict(scope["headers"]).get(b"content-type", b"application/octet-stream").decode()
    await respond(send, 200, body, [("content-type", content_type)])


async def sized_bytes(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    size = int(query.get("size", "1024"))
    body = pattern_bytes(size)
    headers = [("content-type", "application/octet-stream"), ("x-sha256", hashlib.sha256(body).hexdigest())]
    if scope["method"] == "HEAD":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(size).encode()),
                    *[(k.encode(), v.encode()) for k, v in headers],
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    await respond(send, 200, body, headers)


async def chunked(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    size, chunk = int(query.get("size", "10000")), int(query.get("chunk", "1000"))
    delay = float(query.get("delay", "0"))
    body = pattern_bytes(size)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    for start in range(0, size, chunk):
        await send({"type": "http.response.body", "body": body[start : start + chunk], "more_body": True})
        if delay:
            await asyncio.sleep(delay)
    await send({"type": "http.response.body", "body": b""})


async def status(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    code = int(scope["path"].rsplit("/", 1)[1])
    if code in (204, 304) or code < 200:
        await send({"type": "http.response.start", "status": code, "headers": [(b"x-status", str(code).encode())]})
        await send({"type": "http.response.body", "body": b""})
        return
    await respond(send, code, f"status {code}".encode(), [("content-type", "text/plain")])


async def redirect(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    code = int(query.get("status", "302"))
    headers = [("location", query["to"])] if "to" in query else []
    await respond(send, code, b"redirecting", headers)


async def redirect_loop(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    await respond(send, 302, b"", [("location", "/redirect/loop")])


async def redirect_chain(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    remaining = int(scope["path"].rsplit("/", 1)[1])
    target = f"/redirect/chain/{remaining - 1}" if remaining > 1 else "/echo"
    await respond(send, 302, b"", [("location", target)])


async def delay(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    await asyncio.sleep(float(query.get("seconds", "1")))
    await respond(send, 200, b"late", [("content-type", "text/plain")])


async def stall_body(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
    await send({"type": "http.response.body", "body": b"first", "more_body": True})
    await asyncio.sleep(float(query.get("seconds", "2")))
    await send({"type": "http.response.body", "body": b"-last"})


#: `/hold` answers wait here, by key, until `/release` lets them finish.
HELD: dict[str, asyncio.Event] = {}


async def hold(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    """Sends the head at once and the body only when `/release?key=` is called: "done", or "late"
    after `seconds` (default 5) when nobody released it."""
    await read_body(receive)
    key = query["key"]
    released = HELD.setdefault(key, asyncio.Event())
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
    try:
        await asyncio.wait_for(released.wait(), float(query.get("seconds", "5")))
        body = b"done"
    except asyncio.TimeoutError:
        body = b"late"
    finally:
        HELD.pop(key, None)
    await send({"type": "http.response.body", "body": body})


async def release(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    HELD.setdefault(query["key"], asyncio.Event()).set()
    await respond(send, 200, b"released", [("content-type", "text/plain")])


COMPRESSED_TEXT = ("tether " * 500).encode()


def compress(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "deflate":
        return zlib.compress(data)
    if kind == "br":
        import brotli

        return bytes(brotli.compress(data))
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(kind)


_BOMBS: dict[str, bytes] = {}


async def compressed(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    kind = scope["path"].rsplit("/", 1)[1]
    body = compress(kind, COMPRESSED_TEXT)
    await respond(send, 200, body, [("content-type", "text/plain"), ("content-encoding", kind)])


async def compression_bomb(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    """50 MiB of zeros, compressed to a few kilobytes."""
    await read_body(receive)
    kind = query.get("kind", "gzip")
    if kind not in _BOMBS:
        _BOMBS[kind] = compress(kind, bytes(50 * 1024 * 1024))
    await respond(send, 200, _BOMBS[kind], [("content-type", "application/octet-stream"), ("content-encoding", kind)])


_FLAKY: dict[str, int] = {}


async def flaky(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    """Fails with 503 the first `fail` times a `key` is asked for, then answers 200 with the count."""
    await read_body(receive)
    key = query.get("key", "default")
    seen = _FLAKY[key] = _FLAKY.get(key, 0) + 1
    if seen <= int(query.get("fail", "2")):
        headers = [("retry-after", query["retry_after"])] if "retry_after" in query else []
        await respond(send, 503, b"try again", headers)
        return
    await respond(send, 200, f"attempt {seen}".encode(), [("content-type", "text/plain")])


async def set_cookie(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    headers = [("set-cookie", value) for key, value in parse_qsl(scope["query_string"].decode()) if key == "c"]
    await respond(send, 200, b"set", headers)


async def many_headers(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    count = int(query.get("count", "100"))
    headers = [(f"x-header-{i}", f"value-{i}-" + "v" * 40) for i in range(count)]
    await respond(send, 200, b"ok", headers)


async def multi_headers(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    await respond(
        send,
        200,
        b"ok",
        [
            ("set-cookie", "a=1; Path=/"),
            ("set-cookie", "b=2; Path=/"),
            ("x-multi", "one"),
            ("x-multi", "two"),
            ("X-Mixed-Case", "Kept"),
        ],
    )


async def text_utf8(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    await respond(send, 200, "Grüße, 世界 ✓".encode(), [("content-type", "text/plain; charset=utf-8")])


async def duplex_echo(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    """Answers each request-body chunk as soon as it arrives: a half-duplex client deadlocks here."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if body := message.get("body", b""):
            await send({"type": "http.response.body", "body": body, "more_body": True})
        if not message.get("more_body"):
            break
    await send({"type": "http.response.body", "body": b""})


SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def _sse(send: Send, events: list[bytes], delay: float = 0.0) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    for event in events:
        await send({"type": "http.response.body", "body": event, "more_body": True})
        if delay:
            await asyncio.sleep(delay)
    await send({"type": "http.response.body", "body": b""})


async def sse_basic(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    await _sse(
        send,
        [
            b": welcome\n\n",
            b"event: greeting\nid: 1\ndata: hello\n\n",
            b"data: multi\r\ndata: line\r\n\r\n",
            b'id: 3\nevent: bye\ndata: {"done": true}\n\n',
        ],
    )


async def sse_many(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    count = int(query.get("count", "1000"))
    body = b"".join(b"id: %d\ndata: event %d\n\n" % (i, i) for i in range(count))
    await _sse(send, [body[i : i + 4096] for i in range(0, len(body), 4096)])


async def sse_reconnect(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    last = dict(scope["headers"]).get(b"last-event-id", b"").decode()
    if not last:
        await _sse(send, [b"retry: 50\nid: 1\ndata: one\n\n"])
    elif last == "1":
        await _sse(send, [b"id: 2\ndata: two\n\n"])
    else:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def sse_wrong_type(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    await respond(send, 200, b"data: not an event stream\n\n", [("content-type", "text/plain")])


BASIC_USER, BASIC_PASSWORD = "alice", "s3cret"
DIGEST_REALM, DIGEST_NONCE, DIGEST_OPAQUE = (
    "digest@tether",
    "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    "5ccc069c403ebaf9f0171e9517f40e41",
)


def _authorization(scope: Scope) -> str:
    value: bytes = dict(scope["headers"]).get(b"authorization", b"")
    return value.decode("latin-1")


async def auth_basic(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    import base64

    expected = "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    if _authorization(scope) == expected:
        await respond(send, 200, b"basic ok", [("content-type", "text/plain")])
        return
    challenge = query.get("challenge", 'Basic realm="tether"')
    await respond(send, 401, b"unauthorized", [("www-authenticate", challenge)])


async def auth_bearer(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    await read_body(receive)
    if _authorization(scope) == f"Bearer {query.get('valid', 'fresh')}":
        await respond(send, 200, b"bearer ok", [("content-type", "text/plain")])
        return
    await respond(send, 401, b"unauthorized", [("www-authenticate", 'Bearer realm="tether", error="invalid_token"')])


async def auth_digest(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    import hashlib

    from tether.plugins.auth.challenge import parse_challenges

    await read_body(receive)
    algorithm = query.get("algorithm", "MD5")
    hash_ = hashlib.md5 if algorithm == "MD5" else hashlib.sha256

    def h(text: str) -> str:
        return str(hash_(text.encode()).hexdigest())

    header = _authorization(scope)
    if header.startswith("Digest "):
        params = parse_challenges([header])[0].params
        ha1 = h(f"{BASIC_USER}:{DIGEST_REALM}:{BASIC_PASSWORD}")
        ha2 = h(f"{scope['method']}:{params.get('uri', '')}")
        expected = h(f"{ha1}:{DIGEST_NONCE}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}")
        raw_uri = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        if (
            params.get("response") == expected
            and params.get("opaque") == DIGEST_OPAQUE
            and params.get("uri") == raw_uri
            and params.get("algorithm", "MD5").upper() == algorithm
        ):
            await respond(send, 200, f"digest {algorithm} ok".encode(), [("content-type", "text/plain")])
            return
    challenge = (
        f'Digest realm="{DIGEST_REALM}", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{DIGEST_NONCE}", opaque="{DIGEST_OPAQUE}"'
    )
    await respond(send, 401, b"unauthorized", [("www-authenticate", challenge)])


ROUTES: dict[str, Handler] = {
    "/auth/basic": auth_basic,
    "/auth/bearer": auth_bearer,
    "/auth/digest": auth_digest,
    "/compression-bomb": compression_bomb,
    "/flaky": flaky,
    "/cookies/set": set_cookie,
    "/duplex/echo": duplex_echo,
    "/sse/basic": sse_basic,
    "/sse/many": sse_many,
    "/sse/reconnect": sse_reconnect,
    "/sse/wrong-type": sse_wrong_type,
    "/echo": echo,
    "/echo/body": echo_body,
    "/bytes": sized_bytes,
    "/chunked": chunked,
    "/redirect": redirect,
    "/redirect/loop": redirect_loop,
    "/delay": delay,
    "/stall-body": stall_body,
    "/hold": hold,
    "/release": release,
    "/headers/many": many_headers,
    "/headers/multi": multi_headers,
    "/text/utf8": text_utf8,
}
PREFIX_ROUTES: dict[str, Handler] = {
    "/status/": status,
    "/redirect/chain/": redirect_chain,
    "/compressed/": compressed,
}


# --- security: a Location carrying userinfo (issue 15 §3) ------------------------------------------
LOCATION_USERINFO_PASSWORD = "location-pa55-never-logged"


async def redirect_with_userinfo(scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
    """302 to `/echo` on the same host, with userinfo in the Location (the password is not in the request)."""
    await read_body(receive)
    host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode("latin-1")
    location = f"http://mallory:{LOCATION_USERINFO_PASSWORD}@{host}/echo"
    await respond(send, 302, b"redirecting", [("location", location)])


ROUTES["/redirect/with-userinfo"] = redirect_with_userinfo
