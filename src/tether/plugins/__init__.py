"""The built-in plugins, and the API for writing your own (`tether.plugins.api`)."""

from tether.plugins.api import (
    AttributeKey,
    ClientHook,
    ClientPlugin,
    PluginBuilder,
    Send,
    Sender,
    SendingRequest,
    SetupRequest,
    create_client_plugin,
)
from tether.plugins.default_request import DefaultRequest, DefaultRequestConfig
from tether.plugins.redirect import HttpRedirect, HttpRedirectConfig
from tether.plugins.sse import SSE
from tether.plugins.timeout import HttpTimeout, HttpTimeoutPluginConfig
from tether.plugins.validator import HttpCallValidator, HttpCallValidatorConfig

__all__ = [
    "AttributeKey",
    "ClientHook",
    "ClientPlugin",
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
