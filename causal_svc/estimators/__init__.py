"""Estimators: pure functions ``estimate_x(frame, spec, *, alpha=0.05, **options) -> EffectEstimate``."""
