"""Typed per-call and per-client state: `AttributeKey[T]` and the `Attributes` map.

Keys compare by identity, never by name, so two plugins that happen to share a name cannot collide
(Ktor's `AttributeKey(name)` can).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, cast, overload

__all__ = ["AttributeKey", "Attributes"]

T = TypeVar("T")
D = TypeVar("D")


class AttributeKey(Generic[T]):
    """A unique, typed key. `name` is for humans (reprs, errors) only.

    >>> RETRY_COUNT: AttributeKey[int] = AttributeKey("RetryCount")
    >>> attributes = Attributes()
    >>> attributes[RETRY_COUNT] = 1
    >>> attributes[RETRY_COUNT]
    1
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not name or not name.strip():
            raise ValueError("AttributeKey name must not be blank")
        self.name = name

    def __repr__(self) -> str:
        return f"AttributeKey({self.name!r})"


class Attributes:
    """A map from `AttributeKey[T]` to `T`. Thread-safe: plugins may touch it from worker threads."""

    __slots__ = ("_lock", "_values")

    _creation_lock = threading.Lock()

    def __init__(self) -> None:
        self._values: dict[AttributeKey[Any], Any] = {}
        self._lock: threading.Lock | None = None

    def __getitem__(self, key: AttributeKey[T]) -> T:
        try:
            return cast(T, self._values[key])
        except KeyError:
            raise KeyError(f"No instance for key {key!r}") from None

    def __setitem__(self, key: AttributeKey[T], value: T) -> None:
        self._values[key] = value

    def __delitem__(self, key: AttributeKey[Any]) -> None:
        self._values.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[AttributeKey[Any]]:
        return iter(list(self._values))

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def get(self, key: AttributeKey[T]) -> T | None: ...
    @overload
    def get(self, key: AttributeKey[T], default: D) -> T | D: ...
    def get(self, key: AttributeKey[T], default: object = None) -> object:
        return self._values.get(key, default)

    def put(self, key: AttributeKey[T], value: T) -> None:
        self._values[key] = value

    def remove(self, key: AttributeKey[Any]) -> None:
        self._values.pop(key, None)

    def compute_if_absent(self, key: AttributeKey[T], factory: Callable[[], T]) -> T:
        if self._lock is None:
            with Attributes._creation_lock:
                if self._lock is None:
                    self._lock = threading.Lock()
        with self._lock:
            if key in self._values:
                return cast(T, self._values[key])
            value = factory()
            self._values[key] = value
            return value

    def copy(self) -> Attributes:
        clone = Attributes()
        clone._values = dict(self._values)
        return clone

    def update(self, other: Attributes, *, overwrite: bool = True) -> None:
        for key, value in other._values.items():
            if overwrite or key not in self._values:
                self._values[key] = value

    def __repr__(self) -> str:
        inner = ", ".join(f"{key.name}={value!r}" for key, value in self._values.items())
        return f"Attributes({inner})"
