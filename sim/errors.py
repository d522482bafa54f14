"""The simulator's one exception. ``sim`` imports nothing else of ours, so it cannot use
``mesh.runtime.exceptions``; callers map :class:`SimError` to ``InvalidInput`` at their boundary (it carries
the same ``field`` and ``reason``)."""

from __future__ import annotations


class SimError(ValueError):
    """A request the simulator cannot honour: names the offending ``field`` and a ``reason``."""

    def __init__(self, message: str, *, field: str, reason: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason
