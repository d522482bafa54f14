"""The prior_bound identification check: a window whose data barely moved any channel's effect
from its prior (audit s20 R48 F1).

Each channel's effect enters the fit as a pseudo-observation, its contribution ``0 ± s``
(:func:`.objective.prior_lifts`: ``s`` the effect prior's scale). At the estimate, the
posterior variance of that contribution is ``gᵀ H⁻¹ g`` (``H = JᵀJ`` over every row, ``g`` the
contribution's gradient in θ); the prior row alone would give it ``s²``, and every other row
(the data, lift tests) can only shrink it, so ``ρ = sqrt(gᵀ H⁻¹ g) / s`` is in (0, 1] and
``1 − ρ²`` is the share of the effect's precision the data supply. A new shop's first 30 days
(4 states, ~2 orders per state-day) supply 1–8% for both its channels: rows ``0.00 [0.00,
3.8]`` that are the prior's, which recommend read as measured and cut channels returning 2.0
and 1.5 per unit at "80% confidence".

Per channel, the share travels with the planning models (:mod:`.planning`,
``ChannelResponseModel.data_share``): the analysis reports the channel as estimated, and
planning (Recommend, OptimizeBudget) moves no money on a channel under ``MIN_DATA_SHARE``
(s21 P1; the threshold lives in :mod:`mesh.runtime.data_share`, which both services read).

Why the whole window and not each channel here: in the simulator's ``demo`` worlds (a year, 10 geos,
national rows as the accuracy bench fits them) single channels are as prior-bound as that
shop's (meta retargeting: 3–14% of its precision from the data on development seeds 100–109),
while the others are measured (meta prospecting 89–96%, SMS 39–74%). Flagging them one by one
would turn most demo analyses to REVIEW, a change of what those analyses report beyond this
finding. So the check fires when the data supply under ``MIN_DATA_SHARE`` of the precision of
*every* channel's effect — the window measures none of them — and marks them all not
identified. R48's 30-day shops (seeds 7, 11–13, truth 2.0/1.5 and 4.0/3.0) have at most 8%; 60
days 25%, 90 days 31–36% (the best-measured channel); in the demo and confounded development
worlds the best-measured channel has 96–99% and 92–99% (the best paid one 89–96% and 66–86%).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesh.runtime.data_share import MIN_DATA_SHARE

from .fit import MMMFit
from .health_outcome import HealthCheck, Verdict
from .objective import t_residual

__all__ = ["MIN_DATA_SHARE", "PriorBound", "prior_bound", "prior_bound_check"]


@dataclass(frozen=True, slots=True)
class PriorBound:
    """A channel whose effect the window's data barely informed: ``share`` of its precision
    from the data, its effect prior's sd and the data's own sd (per unit of spend, or of the
    outcome for a channel without spend), and the days at this pace for ``MIN_DATA_SHARE``."""

    channel: str
    share: float
    prior_sd: float
    data_sd: float
    days_needed: int


def data_shares(fit: MMMFit) -> dict[str, float]:
    """Each channel's share of its effect's precision that the data (and lift tests) supply."""
    obj = fit.objective
    n = fit.layout.n_channels
    priors = obj.lifts[:n]
    if len(priors) < n or any(d.lags_cf is not None or d.lift != 0.0 for d in priors):
        return {}  # not the effect prior rows (a state older than them): nothing to judge
    _, jac = obj.evaluate(fit.theta, jacobian=True)
    assert jac is not None
    bread = np.linalg.pinv(jac.T @ jac, rcond=1e-12, hermitian=True)
    st = obj.media(fit.theta, jacobian=True)
    out = {}
    for d in priors:
        pred, grad = obj.lift(fit.theta, d, st, gradient=True)
        assert grad is not None
        # a Student-t prior's curvature where the estimate sits: its sd there
        _, slope = t_residual(pred / d.stderr, d.tail)
        prior_var = (d.stderr / max(abs(slope), 1e-12)) ** 2
        post_var = max(float(grad @ bread @ grad), 0.0)
        out[fit.panel.channels[d.channel]] = float(np.clip(1.0 - post_var / prior_var, 0.0, 1.0))
    return out


def prior_bound(fit: MMMFit) -> tuple[PriorBound, ...]:
    """Every channel, when the data supply under ``MIN_DATA_SHARE`` of each one's effect
    precision (see the module docstring); () otherwise."""
    shares = data_shares(fit)
    if not shares or max(shares.values()) >= MIN_DATA_SHARE:
        return ()
    panel = fit.panel
    spend = panel.spend.sum(axis=(1, 2))
    total = float(panel.outcome.sum())
    out = []
    for d in fit.objective.lifts[: fit.layout.n_channels]:
        name = panel.channels[d.channel]
        share = shares[name]
        per = float(spend[d.channel]) if spend[d.channel] > 0 else total
        prior_sd = d.stderr / max(per, 1e-12)
        # data precision = prior precision × share / (1 − share); it grows with the days
        ratio = share / (1.0 - share)
        data_sd = prior_sd / np.sqrt(ratio) if ratio > 0 else float("inf")
        target = MIN_DATA_SHARE / (1.0 - MIN_DATA_SHARE)
        days = panel.n_days * target / ratio if ratio > 0 else float("inf")
        out.append(PriorBound(name, share, prior_sd, data_sd,
                              int(min(days, 1e6))))  # fmt: skip
    return tuple(out)


def _pace(panel_days: int, b: PriorBound, it: str = "it") -> str:
    """How much more history would measure ``b``'s channel (``it``), in a shop owner's terms."""
    more = b.days_needed - panel_days
    if b.days_needed > 365:
        return ("more than a year of spend like this would be needed; a pause, a launch or a "
                f"budget step in some regions measures {it} sooner")  # fmt: skip
    return (f"about {max(10, -(-more // 10) * 10):,} more days of spend like this "
            f"(at the pace of these {panel_days}), fewer if {'its' if it == 'it' else 'their'} "
            "spend changes (a pause, a launch or a budget step in some regions)")  # fmt: skip


def reason(panel_days: int, b: PriorBound) -> str:
    """Why ``b``'s channel is not identified, in words (the counterfactual's and the
    identification's reason)."""
    return (f"the {panel_days} days' data barely moved its effect from the prior ({b.share:.0%} "
            f"of what the row says is from the data: on their own they put its return at "
            f"±{1.645 * b.data_sd:,.3g} per unit at 90%, against the prior's "
            f"±{1.645 * b.prior_sd:,.3g}), so its row is the prior's, not a measurement; "
            f"{_pace(panel_days, b)}, or a lift test (liftos design) measures it directly")  # fmt: skip


def prior_bound_check(fit: MMMFit, bound: tuple[PriorBound, ...]) -> HealthCheck | None:
    """REVIEW naming every channel of a window that measures none (None: it measures some)."""
    if not bound:
        return None
    days = fit.panel.n_days
    return HealthCheck(
        "prior_bound", Verdict.REVIEW, max(b.share for b in bound), MIN_DATA_SHARE,
        f"the window's {days} days barely moved any channel's effect from the prior (data "
        f"share of each effect's precision under {MIN_DATA_SHARE:.0%}): "
        + "; ".join(f"{b.channel} {b.share:.0%} (return ±{1.645 * b.data_sd:,.3g} per unit "
                    f"from the data alone, ±{1.645 * b.prior_sd:,.3g} from the prior)"
                    for b in bound)
        + "; their rows are the prior's, not measurements, and a cut or a raise read from "
        "them would be the prior's: " + _pace(days, max(bound, key=lambda b: b.days_needed), "them")
        + ", or a lift test (liftos design) measures a channel directly",
    )  # fmt: skip
