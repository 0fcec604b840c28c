"""Checks on what users set: misspelled names and values of the wrong type, named in the error.

The configuration objects are plain dataclasses; these checks run once per client (never per
request), when a configuration is applied, so `config.expect_sucess = True` or `max_retries="3"`
fails at construction with the field's name instead of misbehaving later.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal, Union

__all__ = ["check_field_types", "type_error", "unknown_name_error"]


def unknown_name_error(owner: str, name: str, valid: Iterable[str], hint: str = "") -> AttributeError:
    """`AttributeError` for `owner.name`, naming the valid names (and the likeliest one)."""
    names = sorted(valid)
    close = difflib.get_close_matches(name, names, n=1)
    guess = f" Did you mean {close[0]!r}?" if close else ""
    extra = f" {hint}" if hint else ""
    return AttributeError(f"{owner} has no setting {name!r}.{guess}{extra} Valid settings: {', '.join(names)}")


def _describe(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


def _matches(value: Any, hint: Any) -> bool:
    """Whether `value` fits the annotation `hint`; constructs not understood here pass."""
    if hint is Any or hint is object:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is not None:
        if origin is Callable or getattr(origin, "__name__", "") == "Callable":
            return callable(value)
        return not isinstance(origin, type) or getattr(origin, "_is_protocol", False) or isinstance(value, origin)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type) and not getattr(hint, "_is_protocol", False):
        return isinstance(value, hint)
    return True  # a Protocol, a TypeVar, a forward reference, a Protocol...: not ours to judge


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of `cls`'s dataclass fields; the ones that do not resolve (names only
    imported for type checking) are left out."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = sys.modules.get(klass.__module__)
        namespace = dict(vars(module)) if module else {}
        for name, annotation in inspect.get_annotations(klass).items():
            try:
                hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
            except Exception:
                hints.pop(name, None)
    fields = {field.name for field in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set(hints)
    return {name: hint for name, hint in hints.items() if name in fields}


def type_error(owner: str, name: str, value: Any, hint: Any) -> TypeError:
    return TypeError(f"{owner}.{name} must be {_describe(hint)}, got {type(value).__name__} {value!r}")


def check_field_types(config: Any, owner: str) -> None:
    """TypeError naming the first dataclass field of `config` whose value does not fit its annotation."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return
    for name, hint in _field_hints(type(config)).items():
        value = getattr(config, name, None)
        if not _matches(value, hint):
            raise type_error(owner, name, value, hint)
