"""A claim's verdict against the analyses."""

from __future__ import annotations

import enum

__all__ = ["Verdict"]


class Verdict(enum.StrEnum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    UNSUPPORTED = "unsupported"
