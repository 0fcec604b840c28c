"""Request and response bodies of every kind and size."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import uuid
import zlib
from collections.abc import AsyncIterator

from tether import BodyLengthMismatchError, HttpClient, StreamContent
from tether_conformance.registry import CaseContext, case
from tether_conformance.servers.app import COMPRESSED_TEXT, pattern_bytes

MIB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@case("bodies", "bytes-binary-upload")
async def binary_upload(t: CaseContext) -> None:
    data = pattern_bytes(70_000)
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/echo"), content=data))
    t.equal((echo["body_length"], echo["body_sha256"]), (len(data), sha(data)))
    t.equal(t.header_values(echo, "content-length"), [str(len(data))])
    t.equal(t.header_values(echo, "content-type"), ["application/octet-stream"])


@case("bodies", "text-upload")
async def text_upload(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/echo"), content="héllo ✓"))
    t.equal(echo["body_text"], "héllo ✓")
    t.equal(t.header_values(echo, "content-type"), ["text/plain; charset=utf-8"])


@case("bodies", "json-upload")
async def json_upload(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/echo"), json={"a": [1, "ü"]}))
    t.equal(echo["body_text"], '{"a": [1, "ü"]}')
    t.equal(t.header_values(echo, "content-type"), ["application/json"])


@case("bodies", "form-upload")
async def form_upload(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/echo"), data={"name": "a b", "x": "&="}))
    t.equal(echo["body_text"], "name=a+b&x=%26%3D")
    t.equal(t.header_values(echo, "content-type"), ["application/x-www-form-urlencoded"])


@case("bodies", "multipart-upload")
async def multipart_upload(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.post(
            t.env.http("/echo/body"),
            data={"field": "value"},
            files={"file": ("hello.txt", io.BytesIO(b"file content"), "text/plain")},
        )
        body = await response.body_as_text()
    t.check(response.headers["Content-Type"].startswith("multipart/form-data; boundary="), "content type")
    t.check('name="field"\r\n\r\nvalue\r\n' in body, "field part")
    t.check('filename="hello.txt"\r\nContent-Type: text/plain\r\n\r\nfile content\r\n' in body, "file part")


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for i in range(count):
        yield bytes([i % 256]) * size


@case("bodies", "stream-upload-unknown-length")
async def stream_upload_chunked(t: CaseContext) -> None:
    expected = b"".join(bytes([i % 256]) * 1000 for i in range(50))
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/echo"), content=_chunks(50, 1000)))
    t.equal((echo["body_length"], echo["body_sha256"]), (len(expected), sha(expected)))


@case("bodies", "stream-upload-known-length")
async def stream_upload_length(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(
            await client.post(t.env.http("/echo"), content=StreamContent(_chunks(10, 100), content_length=1000))
        )
    t.equal(echo["body_length"], 1000)
    t.equal(t.header_values(echo, "content-length"), ["1000"])


async def _after_echo_still_works(t: CaseContext, client: HttpClient) -> None:
    echo = await t.json_of(await client.post(t.env.http("/echo"), content=b"next"))
    t.equal(echo["body_length"], 4, "the next request's body length on the same client")


@case("bodies", "stream-shorter-than-its-content-length-raises-body-length-mismatch")
async def stream_upload_short(t: CaseContext) -> None:
    # The server waits for the rest of the declared body, as any server would: without the check,
    # two engines waited forever, one raised h11's own exception and one a ProtocolError.
    async with t.client() as client:
        body = StreamContent(_chunks(1, 10), content_length=100)
        await t.raises(BodyLengthMismatchError, asyncio.wait_for(client.post(t.env.http("/echo"), content=body), 10))
        await _after_echo_still_works(t, client)


@case("bodies", "stream-longer-than-its-content-length-raises-body-length-mismatch")
async def stream_upload_long(t: CaseContext) -> None:
    # Before: one engine sent the extra bytes after the declared body (on a kept-alive connection,
    # the start of a smuggled request), two cut the body silently and reported the server's 200.
    async with t.client() as client:
        body = StreamContent(_chunks(2, 100), content_length=100)
        await t.raises(BodyLengthMismatchError, asyncio.wait_for(client.post(t.env.http("/echo"), content=body), 10))
        await _after_echo_still_works(t, client)


class _SourceFailed(Exception):
    pass


@case("bodies", "a-failing-body-source-raises-its-own-exception")
async def stream_upload_source_fails(t: CaseContext) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"a" * 100
        raise _SourceFailed("the producer broke")

    async with t.client() as client:
        await t.raises(_SourceFailed, asyncio.wait_for(client.post(t.env.http("/echo"), content=failing()), 10))
        await _after_echo_still_works(t, client)


@case("bodies", "a-body-stream-yielding-text-raises-type-error")
async def stream_upload_text_chunk(t: CaseContext) -> None:
    async def text() -> AsyncIterator[bytes]:
        yield "not bytes"  # type: ignore[misc]

    async with t.client() as client:
        error = await t.raises(TypeError, asyncio.wait_for(client.post(t.env.http("/echo"), content=text()), 10))
        t.check("must yield bytes" in str(error), f"the message names the fix: {error}")


@case("bodies", "empty-post-sends-zero-length")
async def empty_post(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.post(t.env.http("/echo"), content=b""))
    t.equal(echo["body_length"], 0)
    t.equal(t.header_values(echo, "content-length"), ["0"])


@case("bodies", "get-without-body-has-no-length")
async def get_no_body(t: CaseContext) -> None:
    async with t.client() as client:
        echo = await t.json_of(await client.get(t.env.http("/echo")))
    t.equal(t.header_values(echo, "content-length") in ([], ["0"]), True, "Content-Length on a bodiless GET")
    t.equal(t.header_values(echo, "transfer-encoding"), [], "Transfer-Encoding on a bodiless GET")


@case("bodies", "upload-20-mib")
async def upload_large(t: CaseContext) -> None:
    data = pattern_bytes(20 * MIB)
    async with t.client() as client:
        echo = await t.json_of(await client.put(t.env.http("/echo"), content=data))
    t.equal((echo["body_length"], echo["body_sha256"]), (len(data), sha(data)))


@case("bodies", "download-20-mib-read-to")
async def download_large(t: CaseContext) -> None:
    size = 20 * MIB
    digest = hashlib.sha256()

    class Sink:
        written = 0

        def write(self, data: bytes) -> None:
            digest.update(data)
            Sink.written += len(data)

    client = t.client()
    async with client.prepare_get(t.env.http(f"/bytes?size={size}")).execute() as response:
        written = await response.body_as_channel().read_to(Sink())
    t.equal(written, size, "bytes written")
    t.equal(digest.hexdigest(), sha(pattern_bytes(size)), "sha256")


@case("bodies", "download-binary-exact")
async def download_binary(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/bytes?size=100000"))
        data = await response.body_as_bytes()
    t.equal(sha(data), response.headers["X-Sha256"])


@case("bodies", "download-chunked")
async def download_chunked(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/chunked?size=100000&chunk=777"))
        data = await response.body_as_bytes()
    t.equal(data, pattern_bytes(100_000))


@case("bodies", "streaming-read-n")
async def streaming_read(t: CaseContext) -> None:
    async with (
        t.client() as client,
        client.prepare_get(t.env.http("/chunked?size=5000&chunk=100&delay=0.001")).execute() as response,
    ):
        channel = response.body_as_channel()
        first = await channel.read(10)
        rest = b"".join([chunk async for chunk in channel])
    t.equal(len(first) <= 10 and len(first) > 0, True, "read(10) size")
    t.equal(first + rest, pattern_bytes(5000))


@case("bodies", "head-before-body")
async def head_before_body(t: CaseContext) -> None:
    # The server sends the body only after this client has seen the head and asked for it, so an
    # engine that waits for body bytes (or the end) before returning the head gets "late" instead.
    key = uuid.uuid4().hex
    async with t.client() as client, client.prepare_get(t.env.http(f"/hold?key={key}")).execute() as response:
        t.equal((int(response.status), response.headers.get("Content-Length")), (200, "4"))
        await client.get(t.env.http(f"/release?key={key}"))
        body = await response.body_as_bytes()
    t.equal(body, b"done")


@case("bodies", "streaming-close-early")
async def streaming_close_early(t: CaseContext) -> None:
    async with t.client() as client:
        async with client.prepare_get(t.env.http(f"/bytes?size={5 * MIB}")).execute() as response:
            await response.body_as_channel().read(1000)
        # the connection is released or discarded; the client keeps working
        again = await client.get(t.env.http("/bytes?size=10"))
    t.equal(len(await again.body_as_bytes()), 10)


@case("bodies", "zero-length-response")
async def zero_length(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/bytes?size=0"))
    t.equal((response.headers.get("Content-Length"), await response.body_as_bytes()), ("0", b""))


@case("bodies", "status-204-no-body")
async def no_content(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/status/204"))
    t.equal((int(response.status), await response.body_as_bytes()), (204, b""))


@case("bodies", "status-304-no-body")
async def not_modified(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/status/304"))
    t.equal((int(response.status), await response.body_as_bytes()), (304, b""))


@case("bodies", "text-decoded-with-charset")
async def text_charset(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/text/utf8"))
    t.equal(await response.body_as_text(), "Grüße, 世界 ✓")


@case("bodies", "json-response")
async def json_response(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/echo?j=1"))
    t.equal((await response.json())["query"], "j=1")


@case("bodies", "post-echo-roundtrip-1-mib")
async def echo_roundtrip(t: CaseContext) -> None:
    data = pattern_bytes(MIB + 7)
    async with t.client() as client:
        response = await client.post(t.env.http("/echo/body"), content=data)
    t.equal(await response.body_as_bytes() == data, True, "echoed bytes equal")


def _raw_encoding_case(kind: str) -> None:
    """Without ContentEncoding, a compressed body arrives exactly as sent (no engine decodes on its own)."""

    @case("bodies", f"{kind}-delivered-raw")
    async def body(t: CaseContext) -> None:
        async with t.client() as client:
            response = await client.get(t.env.http(f"/compressed/{kind}"))
            data = await response.body_as_bytes()
        t.equal(response.headers.get("Content-Encoding"), kind)
        decoded = gzip.decompress(data) if kind == "gzip" else zlib.decompress(data)
        t.equal(decoded, COMPRESSED_TEXT, "the raw compressed body decodes to what the server compressed")


for _kind in ("gzip", "deflate"):
    _raw_encoding_case(_kind)


def _raw_body_case(name: str, raw: str, body: bytes, version: str = "HTTP/1.1") -> None:
    """A response from the raw-socket server whose framing every engine must read the same way."""

    @case("bodies", name)
    async def check(t: CaseContext) -> None:
        async with t.client() as client:
            response = await client.get(t.env.raw_url(raw))
            data = await response.body_as_bytes()
        t.equal((str(response.version), data), (version, body))


for _name, _raw, _body, _version in [
    ("body-until-close", "body-until-close", b"read until the connection closes", "HTTP/1.1"),
    ("http10-body-until-close", "http10-body-until-close", b"http/1.0 body", "HTTP/1.0"),
    ("chunk-extensions-ignored", "chunk-extensions", b"hello world", "HTTP/1.1"),
    ("chunked-trailers-ignored", "chunked-trailers", b"body", "HTTP/1.1"),
]:
    _raw_body_case(_name, _raw, _body, _version)
