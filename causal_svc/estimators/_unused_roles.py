"""Warn about spec roles an estimator does not use, rather than ignoring them silently."""

from __future__ import annotations

from .result import EffectSpec
from .validate import role_field


def unused_role_warnings(spec: EffectSpec, method: str, used: set[str]) -> list[str]:
    """One warning per role that is set on ``spec`` but not in ``used``."""
    optional = (
        "unit",
        "time",
        "covariates",
        "instruments",
        "running_variable",
        "cluster",
        "weights",
        "effect_modifiers",
        "pre_outcome",
    )
    out = []
    for role in optional:
        value = getattr(spec, role)
        if role not in used and value not in (None, (), ""):
            out.append(f"{role_field(role)} is set but {method} does not use it; it was ignored")
    return out
