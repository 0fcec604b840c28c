"""SSEBufferPolicy: what a session keeps of the stream it processed, for diagnostics after an error.

The snapshot lives in memory and is what `exc.response.body_as_text()` returns after an
`SSEClientException`; the network is never read again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SSEBuffer", "SSEBufferPolicy"]


@dataclass(frozen=True)
class SSEBufferPolicy:
    """`off()`, `last_lines(n)`, `last_event()`, `last_events(n)`, `all()`."""

    kind: str
    count: int = 0

    @staticmethod
    def off() -> SSEBufferPolicy:
        return SSEBufferPolicy("off")

    @staticmethod
    def last_lines(n: int) -> SSEBufferPolicy:
        _positive(n, "last_lines")
        return SSEBufferPolicy("lines", n)

    @staticmethod
    def last_event() -> SSEBufferPolicy:
        return SSEBufferPolicy("events", 1)

    @staticmethod
    def last_events(n: int) -> SSEBufferPolicy:
        _positive(n, "last_events")
        return SSEBufferPolicy("events", n)

    @staticmethod
    def all() -> SSEBufferPolicy:
        return SSEBufferPolicy("all")

    def new_buffer(self) -> SSEBuffer:
        return SSEBuffer(self)

    def __repr__(self) -> str:
        if self.kind == "lines":
            return f"SSEBufferPolicy.last_lines({self.count})"
        if self.kind == "events":
            return "SSEBufferPolicy.last_event()" if self.count == 1 else f"SSEBufferPolicy.last_events({self.count})"
        return f"SSEBufferPolicy.{self.kind}()"


def _positive(n: int, name: str) -> None:
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"SSEBufferPolicy.{name}(n) needs n >= 1, got {n!r}")


class SSEBuffer:
    """Receives every processed line (the parser's `on_line`) and keeps what the policy says."""

    def __init__(self, policy: SSEBufferPolicy) -> None:
        self.policy = policy
        self._lines: deque[str] | list[str] = deque(maxlen=policy.count) if policy.kind == "lines" else []
        self._events: deque[str] = deque(maxlen=policy.count or None)
        self._block: list[str] = []

    @property
    def on_line(self) -> Callable[[str], None] | None:
        """What the parser should call with each line (None when nothing is kept: no cost at all)."""
        return None if self.policy.kind == "off" else self.add

    def add(self, line: str) -> None:
        kind = self.policy.kind
        if kind == "events":
            if line:
                self._block.append(line)
            elif self._block:
                self._events.append("\n".join(self._block))
                self._block = []
        else:
            self._lines.append(line)

    def snapshot(self) -> str:
        kind = self.policy.kind
        if kind == "off":
            return ""
        if kind == "events":
            return "".join(f"{block}\n\n" for block in self._events)
        return "".join(f"{line}\n" for line in self._lines)
