"""tether: one HTTP client facade over swappable engines, with Ktor-style plugins.

from tether import HttpClient

async with HttpClient() as client:            # the default engine (see tether.engine)
    response = await client.get("https://example.org/")
    print(response.status, await response.body_as_text())
"""

from tether.attributes import AttributeKey, Attributes
from tether.channel import ByteReadChannel
from tether.client import HttpClient, HttpStatement
from tether.config import HttpClientConfig
from tether.content import (
    ByteArrayContent,
    FormDataContent,
    FormPart,
    MultiPartFormDataContent,
    NoContent,
    OutgoingContent,
    StreamContent,
    TextContent,
)
from tether.engine import (
    HttpClientEngine,
    HttpClientEngineConfig,
    HttpClientEngineFactory,
    ProxyBuilder,
    ProxyConfig,
)
from tether.exceptions import (
    BodyAlreadyConsumedError,
    BodyLengthMismatchError,
    BodyNotReplayableError,
    ClientClosedError,
    ClientRequestException,
    ConnectError,
    ConnectTimeoutException,
    EngineNotFoundError,
    HttpRequestTimeoutException,
    InvalidHeaderError,
    InvalidMethodError,
    InvalidUrlError,
    ProtocolError,
    RedirectResponseException,
    ResponseClosedError,
    ResponseException,
    SendCountExceedException,
    ServerResponseException,
    SocketTimeoutException,
    SSEClientException,
    TetherError,
    TlsError,
    UnsafeHeaderException,
    UnsupportedCapabilityError,
)
from tether.http import Headers, HttpProtocolVersion, HttpStatusCode
from tether.request import HttpRequest, HttpRequestBuilder, HttpRequestData
from tether.response import HttpResponse, HttpResponseData
from tether.url import Url, merge_urls

__version__ = "0.1.0.dev0"

__all__ = [
    "AttributeKey",
    "Attributes",
    "BodyAlreadyConsumedError",
    "BodyLengthMismatchError",
    "BodyNotReplayableError",
    "ByteArrayContent",
    "ByteReadChannel",
    "ClientClosedError",
    "ClientRequestException",
    "ConnectError",
    "ConnectTimeoutException",
    "EngineNotFoundError",
    "FormDataContent",
    "FormPart",
    "Headers",
    "HttpClient",
    "HttpClientConfig",
    "HttpClientEngine",
    "HttpClientEngineConfig",
    "HttpClientEngineFactory",
    "HttpProtocolVersion",
    "HttpRequest",
    "HttpRequestBuilder",
    "HttpRequestData",
    "HttpRequestTimeoutException",
    "HttpResponse",
    "HttpResponseData",
    "HttpStatement",
    "HttpStatusCode",
    "InvalidHeaderError",
    "InvalidMethodError",
    "InvalidUrlError",
    "MultiPartFormDataContent",
    "NoContent",
    "OutgoingContent",
    "ProtocolError",
    "ProxyBuilder",
    "ProxyConfig",
    "RedirectResponseException",
    "ResponseClosedError",
    "ResponseException",
    "SSEClientException",
    "SendCountExceedException",
    "ServerResponseException",
    "SocketTimeoutException",
    "StreamContent",
    "TetherError",
    "TextContent",
    "TlsError",
    "UnsafeHeaderException",
    "UnsupportedCapabilityError",
    "Url",
    "__version__",
    "merge_urls",
]
