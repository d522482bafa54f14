"""Estimators: pure functions ``estimate_x(frame, spec, *, alpha=0.05, **options) -> EffectEstimate``.

One public module per method family: ``difference_in_means``, ``did``, ``event_study``,
``staggered_did``, ``iv``, ``rdd``, ``matching``, ``weighting`` (IPW, AIPW),
``synthetic_control``, ``dml``, ``bsts``, ``naive``. Shared: ``result`` (the result and spec
types), ``validate`` (role checks), ``_inference`` (intervals, p-values, clusters, sandwich
variances), ``_ols`` (least squares with absorbed effects), ``_panel`` (the DiD-family panel),
``_propensity`` (propensity scores, balance, overlap); the rest are one estimator's internals.
"""
