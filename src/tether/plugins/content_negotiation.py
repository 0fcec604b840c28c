"""ContentNegotiation: send objects as JSON (or any registered codec) and read responses as types.

    config.install(ContentNegotiation)
    await client.post(url, content=User(name="Ada"))          # dataclasses, dicts, lists -> JSON
    user = await (await client.get(url)).body(User)           # JSON -> User (nested dataclasses too)

A codec is `encode(obj) -> bytes` and `decode(data, type) -> obj`, registered for a content type:
`config.register("application/x-msgpack", MsgpackCodec())`. Requests get an `Accept` header listing
the registered types unless they set one.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Protocol

from tether.channel import ByteReadChannel
from tether.content import ByteArrayContent, OutgoingContent
from tether.exceptions import TetherError
from tether.plugins.api import NOT_HANDLED, PluginBuilder, create_client_plugin
from tether.request import HttpRequestBuilder
from tether.response import HttpResponse

__all__ = ["Codec", "ContentNegotiation", "ContentNegotiationConfig", "JsonCodec", "ContentConversionError"]


class ContentConversionError(TetherError, ValueError):
    """A body could not be converted to or from the requested type."""


class Codec(Protocol):
    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes, type_: Any) -> Any: ...


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):  # pydantic v2 models
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _build(type_: Any, value: Any) -> Any:
    """Turn parsed JSON into `type_`: dataclasses (nested), lists, dicts, Optional, pydantic models."""
    origin = typing.get_origin(type_)
    if type_ is Any or type_ is object:
        return value
    if origin in (typing.Union, types.UnionType):
        arguments = typing.get_args(type_)
        if value is None and type(None) in arguments:
            return None
        for argument in arguments:
            if argument is type(None):
                continue
            try:
                return _build(argument, value)
            except (TypeError, ValueError, ContentConversionError):
                continue
        raise ContentConversionError(f"{value!r} matches none of {type_}")
    if origin in (list, tuple, set, frozenset):
        (item_type, *_) = typing.get_args(type_) or (Any,)
        return origin(_build(item_type, item) for item in value)
    if origin is dict:
        _, item_type = typing.get_args(type_) or (Any, Any)
        return {key: _build(item_type, item) for key, item in value.items()}
    if isinstance(type_, type) and dataclasses.is_dataclass(type_):
        if not isinstance(value, dict):
            raise ContentConversionError(f"Expected a JSON object for {type_.__name__}, got {type(value).__name__}")
        hints = typing.get_type_hints(type_)
        known = {f.name for f in dataclasses.fields(type_) if f.init}
        return type_(**{name: _build(hints.get(name, Any), item) for name, item in value.items() if name in known})
    if isinstance(type_, type) and hasattr(type_, "model_validate"):
        return type_.model_validate(value)
    if isinstance(type_, type) and not isinstance(value, type_):
        if type_ is float and isinstance(value, int):
            return float(value)
        raise ContentConversionError(f"Expected {type_.__name__}, got {type(value).__name__}")
    return value


class JsonCodec:
    def encode(self, value: Any) -> bytes:
        return json.dumps(_plain(value), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes, type_: Any) -> Any:
        try:
            return _build(type_, json.loads(data))
        except json.JSONDecodeError as exc:
            raise ContentConversionError(f"Response body is not valid JSON: {exc}") from exc


@dataclass
class ContentNegotiationConfig:
    codecs: dict[str, Codec] = field(default_factory=lambda: {"application/json": JsonCodec()})
    #: Content type used for request bodies (must be registered).
    default_content_type: str = "application/json"

    def register(self, content_type: str, codec: Codec) -> None:
        self.codecs[content_type.lower()] = codec


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _codec_for(codecs: dict[str, Codec], media_type: str) -> Codec | None:
    if media_type in codecs:
        return codecs[media_type]
    if media_type.endswith("+json") and "application/json" in codecs:  # application/problem+json ...
        return codecs["application/json"]
    return None


def _install(plugin: PluginBuilder[ContentNegotiationConfig]) -> None:
    config = plugin.plugin_config
    accept = ", ".join(config.codecs)

    def add_accept(request: HttpRequestBuilder, content: object) -> None:
        if "Accept" not in request.headers:
            request.headers["Accept"] = accept

    def encode(request: HttpRequestBuilder, body: object, body_type: type | None) -> OutgoingContent | None:
        if isinstance(body, (bytes, bytearray, memoryview, str)) or body is None:
            return None
        if not (dataclasses.is_dataclass(body) or isinstance(body, (dict, list, tuple)) or hasattr(body, "model_dump")):
            return None
        media_type = _media_type(request.headers.get("Content-Type")) or config.default_content_type
        codec = _codec_for(config.codecs, media_type)
        if codec is None:
            return None
        return ByteArrayContent(codec.encode(body), request.headers.get("Content-Type") or media_type)

    async def decode(response: HttpResponse, channel: ByteReadChannel, type_: type) -> object:
        if type_ in (bytes, str, ByteReadChannel):
            return NOT_HANDLED
        codec = _codec_for(config.codecs, _media_type(response.headers.get("Content-Type")))
        if codec is None:
            return NOT_HANDLED
        return codec.decode(await channel.read_all(), type_)

    plugin.on_request(add_accept)
    plugin.transform_request_body(encode)
    plugin.transform_response_body(decode)


ContentNegotiation = create_client_plugin("ContentNegotiation", ContentNegotiationConfig, _install)
