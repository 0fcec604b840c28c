"""The public surface is curated: every name in __all__ exists and nothing private leaks."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["tether", "tether.plugins", "tether.engine", "tether.exceptions", "tether.testing", "tether.url"]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_exported_name_exists_and_is_public(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    for name in exported:
        assert hasattr(module, name), f"{module_name}.{name} is exported but missing"
        assert not name.startswith("_") or name == "__version__"


def test_the_design_contract_names_are_importable() -> None:
    from tether import HttpClient, HttpClientConfig  # noqa: F401
    from tether.engine import HttpClientEngineConfig, ProxyBuilder  # noqa: F401
    from tether.plugins import DefaultRequest, create_client_plugin  # noqa: F401
    from tether.testing import MockEngine  # noqa: F401


def test_every_exception_derives_from_tether_error() -> None:
    import tether.exceptions as exceptions

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.TetherError), name
