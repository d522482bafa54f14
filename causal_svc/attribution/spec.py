"""What the attribution model is asked to fit: adstock shapes, priors, nuisance basis, holdout.

Priors are normal on the fit's unconstrained parameters (logit decay, log Weibull shape and
scale, log half-saturation relative to the channel's median per-capita input, log Hill shape).
They are weakly informative by design — saturation is the part of a media model the data
identify least (a channel's spend moves ±10–30% around its level, so the curve far below that
level is an extrapolation) — and mirror the defaults of the open tools: Meridian centres the
half-saturation at the median media level and fixes the Hill slope at 1; PyMC-Marketing puts
Beta(1, 3) on the geometric decay.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields

from .calendar import ModelCalendar
from .transforms import DEFAULT_MAX_LAG, AdstockKind

__all__ = ["Identification", "ModelSpec", "NormalPrior", "Priors"]


class Identification(enum.StrEnum):
    """Which variation in spend identifies the channels.

    ``NATIONAL``: movements of the national (geo-averaged) series that the calendar and
    external factors do not explain; local demand shocks that budgets chase average out.
    ``GEO``: cross-geo differences within each day, with free day effects (Meridian's geo
    model); unbiased only if budgets do not chase local demand the analyst cannot see.

    What ``NATIONAL`` leaves: local shocks average out only in proportion to the number of
    geos. Their geo-weighted mean is a day-level demand movement that budgets chasing each
    geo's demand follow too, and at the national level it cannot be told from a budget's own
    pacing. That residual confounding, not the interval arithmetic, is what makes a channel
    with no effect look significant in a few percent more runs than the nominal 5% on the
    simulator's ``null`` world (measured: controlling for the true shock removes 5 of the 7
    false positives) and what the effect prior's pull towards zero partly offsets elsewhere.
    The remedy is variation the shock cannot reach — an experiment (lift tests), or the
    budgets' common pacing — not a wider interval.

    ``PACING`` (opt-in and experimental; not the default, see below): geo-day rows
    without day effects, net of the national design, each geo's basis, and a control function
    for local demand (Rivers & Vuong 1988; the instrument is Hausman's "the same series in the
    other markets"): per paid channel, each geo's log spend (centred per geo) less the mean of
    the other geos' that day, at lags 0–3 (the shock persists and the adstock reaches back).
    A budget's pacing is common to every geo, so the other geos' spend carries it and none of
    this geo's shock; what is left of this geo's spend is its chase of local demand plus noise,
    and controlling for it leaves the pacing to identify the channel. Cells without spend
    (a go-dark test's treated geos) get no control: a designed holdout is exogenous variation
    to keep, not demand to control for. Weeks are the clusters (the national shock is common
    to all geos of a day).

    Measured (``bench/attribution_accuracy.py --identification pacing``, 10 demo seeds): the
    bias is mostly gone (bias reduction 98.0% against national's 94.6%), but the error is not
    (MAE 0.95 against 0.75), coverage is 83.3% (Meta prospecting, the calibrated channel,
    56%), one model of ten fails its health checks, and an analysis takes ~5× as long. On
    ``null`` (40 seeds) it is worse than national: 17.5% / 25% significant with / without
    calibration, the null channel's mean estimate 0.32 without (national 0.27) — the control
    function does not remove that channel's confounding — and week clusters understate its
    spread (geo clusters: 11% against 32% on 28 of those seeds).

    ``INSTRUMENTED`` (opt-in; not the default, see below): the same geo-day rows and
    nuisance as ``PACING``, without a control function; instead each geo's media are
    instrumented by the other geos' spend that day (:func:`.within.leave_one_out_inputs`:
    the geo's own level times the other geos' day; Hausman's "the same series in the other
    markets"), in nonlinear two-stage least squares (Amemiya 1974): the data rows of the fit
    are the geo-day residuals projected on the instruments — the media terms' derivatives
    in θ evaluated on the leave-one-out inputs — so the estimate solves ``Zᵀ e(θ) = 0``
    next to the priors and lift tests. Why a control function is not enough and an
    instrument is: a geo's error is its own demand shock; the leave-one-out spend holds
    every other geo's shock and none of its own, so it is uncorrelated with that error,
    whereas conditioning on "this geo's spend less the others'" makes the error correlate
    with the others' (the control function's bias is of the national model's order). Geos
    are the clusters (shocks are independent across geos; each geo's persist). No day
    effects: they would absorb the pacing that identifies the channels.

    Measured (``bench/attribution_accuracy.py --identification instrumented``, seeds
    0–19; national beside it, before :func:`.fit.demand_index`, after which national reads
    95.3% / 95.7%): bias reduction demo 97.0% (94.6%), confounded 96.8% (94.1%);
    held-out seeds 100–109 / 100–107: 98.9% (97.4%) and 94.2% (89.2%). It costs
    precision — MAE 0.85 vs 0.75 (demo), 0.68 vs 0.61 (confounded), coverage 95.0% / 91.7%
    vs 98.3% / 99.2% — and time: 2–3× the national fit (the 2SLS criterion has as many
    moments as parameters and its weakly identified directions take the optimiser many
    small steps; :mod:`.fit` stops instrumented fits on a small absolute gain). On ``null``
    it does not help (see docs/performance.md, issue 15), so the false positives there are
    not the national rows' confounding alone. It stays opt-in; the default stays national.

    ``GEO_DEMAND`` (opt-in, experimental; not a candidate default): ``GEO``'s rows (day
    effects, geo clusters) with each channel's input instrumented, in the same nonlinear 2SLS
    as ``INSTRUMENTED``, by the input less its chase of local demand — the channel's loading
    times the *other* paid channels' common log spend move that geo-day
    (:func:`.demand_proxy.dechased_inputs`). Budgets chase local demand in every paid channel
    at once, so what the channels share in a geo-day (net of each one's geo level and
    national day) is that demand; a channel's own noise is what is left. Why an instrument
    and not the move as a control: the move read from spend holds the channels' own noise
    (on ``misallocated`` it correlates 0.73–0.77 with the simulator's true chase), and with
    day effects the residual demand it misses confounds every channel — as a control
    (``bench/attribution_identification.py`` variant ``proxy``) every paid channel reads
    +1.8 to +3.2 too high there. With the *true* demand as the control (variant ``oracle``)
    and every channel Weibull, TikTok's bias halves (−1.33 → −0.66, coverage 30% → 80%) and
    the null channel is significant in 5% of ``null`` runs (national 15%). The instrument
    keeps part of that: ``GEO_DEMAND`` with every channel Weibull reads TikTok −0.59, but
    the channels whose budgets chase demand read higher than national (Meta retargeting
    +0.92 against +0.47, search +0.86 against −0.16); on ``demo`` / ``confounded`` (seeds
    0–19) MAE 0.98 / 0.91 against national's 0.69 / 0.55 and bias reduction 97.9% / 80.3%
    against 95.3% / 95.7%. Instrumented fits cannot run the sup-score test of no effect.
    See docs/performance.md, "Controlling for local demand".

    AUTO (the service's default; AnalyzeAttributionRequest.identification) is not a member:
    it is a choice between ``GEO`` and ``NATIONAL`` made from the window's data — the budget
    response and the cross-geo share of spend variance — before the fit
    (:mod:`.identification_choice`); the fit, and the stored spec, hold what it chose.
    """

    NATIONAL = "national"
    GEO = "geo"
    PACING = "pacing"
    INSTRUMENTED = "instrumented"
    # Opt-in, experimental, not a candidate default (measured below).
    GEO_DEMAND = "geo_demand"

    @property
    def day_effects(self) -> bool:
        """Whether the nuisance has a free effect per day (geo rows of ``GEO``, ``GEO_DEMAND``)."""
        return self in (Identification.GEO, Identification.GEO_DEMAND)

    @property
    def text(self) -> str:
        """What identifies the channels, in words."""
        if self is Identification.NATIONAL:
            return (
                "national spend movements not explained by the calendar, external factors, "
                "trend and seasonality identify the channels; local demand shocks that budgets "
                "chase average out over geos"
            )
        if self is Identification.PACING:
            return (
                "budgets' common pacing identifies the channels: geo-day rows net of the "
                "calendar, external factors, each geo's trend and seasonality, and a control "
                "function for local demand (each geo's spend against the other geos' spend "
                "that day, lags 0-3)"
            )
        if self is Identification.INSTRUMENTED:
            return (
                "budgets' common pacing identifies the channels: each geo's media are "
                "instrumented by the other geos' spend that day (nonlinear two-stage least "
                "squares on geo-day rows net of the calendar, external factors and each geo's "
                "trend and seasonality), so a geo's own demand shock, which its budget "
                "chases, cannot move the estimate"
            )
        if self is Identification.GEO_DEMAND:
            return (
                "cross-geo spend differences within each day identify the channels (day "
                "effects); each channel's input is instrumented by itself less its chase of "
                "local demand, read from the other paid channels' common spend move that "
                "geo-day"
            )
        return "cross-geo spend differences within each day identify the channels (day effects)"


@dataclass(frozen=True, slots=True)
class NormalPrior:
    """Normal prior on a transformed parameter, with the bounds the optimiser keeps it in."""

    mean: float
    sd: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class Priors:
    """Priors of the nonlinear parameters, on their unconstrained scales."""

    # logit(decay): centred at decay 0.3, sd 1.2 spans 0.06–0.75 at ±1.3 sd.
    logit_decay: NormalPrior = NormalPrior(-0.85, 1.2, -5.0, 2.5)
    # log Weibull shape: centred at 1.5 (a delayed peak), sd 0.5.
    log_weibull_shape: NormalPrior = NormalPrior(0.405, 0.5, -1.2, 1.8)
    # log Weibull scale (days): centred at 4 days, sd 0.7.
    log_weibull_scale: NormalPrior = NormalPrior(1.386, 0.7, -0.7, 3.0)
    # log(K / median per-capita input): centred at the median, sd 0.7 (a factor of 2 at 1 sd).
    log_half_saturation: NormalPrior = NormalPrior(0.0, 0.7, -3.5, 3.5)
    # log Hill shape: centred at 1 (Meridian's default slope), sd 0.35.
    log_hill_shape: NormalPrior = NormalPrior(0.0, 0.35, -1.2, 1.4)
    # Half-normal on each paid channel's incremental outcome per unit of spend, with scale this
    # share of the business's total outcome per unit of total media spend: a channel returning
    # more than half of all the business sells per media dollar is a priori implausible. Mode
    # at zero, so a channel with no effect is never pulled up (Meridian's ROI priors serve the
    # same purpose but put no mass at zero).
    # Demand elasticity of media effects: 1 = a constant share of demand (the multiplicative
    # MMM), 0 = independent of demand (the additive MMM); centred between, sd 0.25 spans both.
    demand_elasticity: NormalPrior = NormalPrior(0.5, 0.25, 0.0, 1.0)
    roi_scale: float = 0.25
    # Half-normal on the outcome share of a channel without spend (email): scale 25%.
    share_scale: float = 0.25
    # Fields below were added after analyses were stored: a stored Priors unpickles its
    # fields by position, so new ones go last (:func:`.fit.state_from_bytes`).
    # The carry-over the data choose (``ModelSpec.adstock`` None): a Weibull whose shape 1 is
    # the geometric decay exp(−1/scale), so the family holds both shapes and the prior is
    # centred on geometric. Shape: log 1 = 0, sd 0.5 (a peak 3–5 days out, shape ≈ 2, is
    # 1.4 sd away: the data must show it). Scale: the geometric decay prior carried over
    # (decay 0.06–0.75 ↔ scale 0.36–3.5 days), its lower end open to decays near 0 as the
    # logit's is.
    carryover_log_shape: NormalPrior = NormalPrior(0.0, 0.5, -1.0, 1.8)
    carryover_log_scale: NormalPrior = NormalPrior(0.11, 0.88, -2.5, 3.0)
    # Degrees of freedom of the effect prior: a half Student-t with this many (inf: the
    # half-normal), scaled to the half-normal's curvature at zero, so a small or null effect
    # is pulled towards zero exactly as before while an effect the data put many prior scales
    # out is pulled only logarithmically (Gelman 2006; Carvalho, Polson & Scott 2010: heavy
    # tails let measured signals escape the shrinkage meant for noise). Not the default: the
    # half-normal's pull also offsets budgets' chase of demand, and a heavier tail lets the
    # confounded channels' estimates escape as well (docs/performance.md, issue 15).
    effect_df: float = float("inf")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """The model's configuration.

    Attributes
    ----------
    adstock : AdstockKind or mapping channel -> AdstockKind, or None
        Carry-over shape, for every channel or per channel (others get the default).
        None: chosen per channel by the data — a Weibull family that holds the geometric
        decay (shape 1) and delayed peaks (shape > 1), its prior centred on geometric
        (``Priors.carryover_*``). Opt-in: about neutral wherever measured, and it does not
        find the simulator's delayed TikTok (docs/performance.md, issue 15).
    max_lag : int
        Longest carry-over, days.
    annual_harmonics : int
        Annual Fourier pairs in each geo's own seasonality (0 = trend only).
    holdout_days : int
        Last days held out for the validation fit (0 = none).
    identification : Identification
    country : str or ModelCalendar
        Whose holidays the national design controls: a country's national ones, or the
        calendar the analysis resolved from its geos (:func:`.calendar.model_calendar`).
    interval_level : float
        Coverage of the reported intervals.
    priors : Priors
    holdout_fit_to_window : bool
        ``holdout_days`` is a default, not the caller's: a window too short to hold them out
        holds out the longest it can instead, if that is enough to judge
        (:func:`.health_holdout.holdout_days`). False: exactly ``holdout_days`` or none.
    """

    adstock: AdstockKind | Mapping[str, AdstockKind] | None = AdstockKind.GEOMETRIC
    max_lag: int = DEFAULT_MAX_LAG
    annual_harmonics: int = 2
    holdout_days: int = 28
    identification: Identification = Identification.NATIONAL
    country: str | ModelCalendar = "US"
    interval_level: float = 0.90
    priors: Priors = field(default_factory=Priors)
    # Fields below were added after analyses were stored (a FitState keeps its spec): see
    # __setstate__.
    holdout_fit_to_window: bool = False

    def __setstate__(self, state: list[object]) -> None:
        """A slots dataclass unpickles the fields it was stored with: a spec stored before the
        later fields existed gets their defaults (else every read of them, and every
        ``dataclasses.replace`` of the spec, raises AttributeError)."""
        for i, f in enumerate(fields(self)):
            if i < len(state):
                value = state[i]
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(self, f.name, value)

    def adstock_for(self, channel: str) -> AdstockKind:
        if self.adstock is None:
            return AdstockKind.WEIBULL
        if isinstance(self.adstock, AdstockKind):
            return self.adstock
        return self.adstock.get(channel, AdstockKind.GEOMETRIC)

    def carryover_chosen(self, channel: str) -> bool:
        """Whether the channel's carry-over shape is left to the data (geometric-centred)."""
        return self.adstock is None
