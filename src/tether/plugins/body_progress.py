"""BodyProgress: report upload and download progress per request.

    await client.post(url, content=data, on_upload=lambda sent, total: print(sent, total))
    await client.get(url, on_download=tqdm_progress(bar))

Listeners get `(bytes_so_far, content_length_or_None)`, sync or async. `tqdm_progress(bar)` adapts a
tqdm bar (or anything with `total`, `n` and `refresh()`).

A plain (blocking) listener runs on the engine's executor, never on the event loop: one call at a
time, in order, values that arrive during a call coalesced into the latest, the final value always
delivered before the body ends (see `tether.blocking.ProgressNotifier`). A coroutine listener is
awaited on the loop for every value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Union

from tether.attributes import AttributeKey
from tether.blocking import ProgressNotifier
from tether.channel import ByteReadChannel
from tether.content import ByteArrayContent, NoContent, OutgoingContent, StreamContent
from tether.plugins.api import PluginBuilder, SendingRequest, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = ["BodyProgress", "ProgressListener", "tqdm_progress"]

ProgressListener = Callable[[int, Union[int, None]], Union[Awaitable[None], None]]
#: Upload progress is reported every this many bytes of an in-memory body.
UPLOAD_STEP = 64 * 1024

_DOWNLOAD: AttributeKey[ProgressListener] = AttributeKey("OnDownload")
_ORIGINAL_BODY: AttributeKey[OutgoingContent] = AttributeKey("BodyBeforeProgress")


def tqdm_progress(bar: Any) -> ProgressListener:
    """A listener that drives a tqdm progress bar."""

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return update


class _ObservedBytes(StreamContent):
    """An in-memory body streamed in pieces only to report progress on them: still bytes in memory,
    so the engine's response-head bound applies as it does to the body unobserved."""

    produced_while_sent = False


def _observed_upload(
    content: OutgoingContent, listener: ProgressListener, executor: Executor | None
) -> OutgoingContent:
    total = content.content_length
    if isinstance(content, ByteArrayContent):
        data = content.data

        async def pieces() -> AsyncIterator[bytes]:
            # A piece counts as sent when the engine takes it, and the last value is delivered before
            # the last piece is handed over: an engine may never resume the generator after it (aiohttp
            # cancels its writer once the response is complete), and the server cannot answer first.
            notifier = ProgressNotifier(listener, executor)
            sent = 0
            await notifier.notify(0, total)
            for start in range(0, len(data), UPLOAD_STEP):
                piece = data[start : start + UPLOAD_STEP]
                sent += len(piece)
                await notifier.notify(sent, total)
                if sent == len(data):
                    await notifier.finish()
                yield piece
            if not data:
                await notifier.finish()

        return _ObservedBytes(pieces, content_length=len(data), content_type=content.content_type)
    if isinstance(content, StreamContent):
        source = content

        async def streamed() -> AsyncIterator[bytes]:
            notifier = ProgressNotifier(listener, executor)
            sent = 0
            async for piece in source.open():
                sent += len(piece)
                await notifier.notify(sent, total)
                if sent == total:  # the last piece of a known length: see pieces()
                    await notifier.finish()
                yield piece
            await notifier.finish()

        replayable = content.replayable
        return StreamContent(
            streamed if replayable else streamed(), content_length=total, content_type=content.content_type
        )
    return content


def _observed_download(
    body: ByteReadChannel, listener: ProgressListener, total: int | None, executor: Executor | None
) -> ByteReadChannel:
    async def counted() -> AsyncIterator[bytes]:
        notifier = ProgressNotifier(listener, executor)
        received = 0
        async for chunk in body:
            received += len(chunk)
            await notifier.notify(received, total)
            yield chunk
        await notifier.finish()

    return ByteReadChannel(counted(), on_close=body.aclose)


def _install(plugin: PluginBuilder[Any]) -> None:
    executor = plugin.client.engine.executor

    def upload(request: HttpRequestBuilder, content: OutgoingContent) -> None:
        listener = request.call_options.get("on_upload")
        if listener is not None and not isinstance(content, NoContent):
            # Every hop wraps the caller's body afresh (a redirect must not count bytes twice).
            original = request.attributes.compute_if_absent(_ORIGINAL_BODY, lambda: content)
            request.body = _observed_upload(original, listener, executor)

    def download(response: HttpResponse) -> None:
        listener = response.request.attributes.get(_DOWNLOAD)
        if listener is None:
            return
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        response.wrap_body(lambda body: _observed_download(body, listener, total, executor))

    def remember(request: HttpRequestBuilder, content: object) -> None:
        listener = request.call_options.get("on_download")
        if listener is not None:
            request.attributes[_DOWNLOAD] = listener

    plugin.on_request(remember)
    plugin.on(SendingRequest, upload)
    plugin.on_response(download)


BodyProgress = create_client_plugin("BodyProgress", call_options=("on_upload", "on_download"))(_install)
