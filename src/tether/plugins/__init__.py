"""The built-in plugins, and the API for writing your own (`tether.plugins.api`)."""

from tether.plugins.api import (
    AttributeKey,
    ClientHook,
    ClientPlugin,
    MonitoringEvent,
    PluginBuilder,
    Send,
    Sender,
    SendingRequest,
    SetupRequest,
    create_client_plugin,
)
from tether.plugins.auth import Auth
from tether.plugins.body_progress import BodyProgress, tqdm_progress
from tether.plugins.content_encoding import ContentEncoding, ContentEncodingConfig
from tether.plugins.content_negotiation import ContentNegotiation, ContentNegotiationConfig
from tether.plugins.cookies import HttpCookies, HttpCookiesConfig
from tether.plugins.default_request import DefaultRequest, DefaultRequestConfig
from tether.plugins.logging import Logging, LoggingConfig, LogLevel
from tether.plugins.redirect import HttpRedirect, HttpRedirectConfig
from tether.plugins.retry import HttpRequestRetry, RetryPolicy
from tether.plugins.sse import SSE
from tether.plugins.timeout import HttpTimeout, HttpTimeoutPluginConfig
from tether.plugins.user_agent import UserAgent, UserAgentConfig
from tether.plugins.validator import HttpCallValidator, HttpCallValidatorConfig

__all__ = [
    "Auth",
    "BodyProgress",
    "ContentEncoding",
    "ContentEncodingConfig",
    "ContentNegotiation",
    "ContentNegotiationConfig",
    "HttpCookies",
    "HttpCookiesConfig",
    "HttpRequestRetry",
    "LogLevel",
    "Logging",
    "LoggingConfig",
    "RetryPolicy",
    "UserAgent",
    "UserAgentConfig",
    "tqdm_progress",
    "AttributeKey",
    "ClientHook",
    "ClientPlugin",
    "MonitoringEvent",
    "DefaultRequest",
    "DefaultRequestConfig",
    "HttpCallValidator",
    "HttpCallValidatorConfig",
    "HttpRedirect",
    "HttpRedirectConfig",
    "HttpTimeout",
    "SSE",
    "HttpTimeoutPluginConfig",
    "PluginBuilder",
    "Send",
    "Sender",
    "SendingRequest",
    "SetupRequest",
    "create_client_plugin",
]
