"""Incremental revenue and margin per channel x category, and halo / cannibalisation per
product pair, from a product x day panel (first-party sales + the platforms' spend per
product).

Method
------
**Category equations.** For each category ``k`` the day's revenue is regressed on each
channel's spend on the category's products, adstocked and saturated, beside the baseline
controls of :func:`causal_svc.products.design.baseline_controls`::

    y[k, t] = W[k, t] gamma + sum_c beta[c, k] Z[c, k, t] + e[t]
    Z[c, k, t] = K hill(A[c, k, t] / K),   A[c, k, t] = sum_{p in k} adstock_c(s[c, p, t])

``beta`` is a return per unit of spend at low spend, and ``beta sum_t Z`` the channel's
incremental revenue in the category, net of the halo and cannibalisation inside it (the
outcome is the category's total). The decay and half-saturation of each channel are chosen
per category on a grid by profile least squares (coordinate descent, partialling out ``W``
by Frisch–Waugh–Lovell); the interval is the coefficient's, with Newey–West (HAC) errors
for the serial correlation of daily retail demand, scaled by ``sum_t Z``. Why this and not
the geo attribution model: the platforms' product reports have no geo (neither
``shopping_performance_view`` nor Meta's ``product_id`` breakdown can be cut by region), so
identification comes from time variation alone: flights, per-product bids and the
platforms' shifting delivery across a category's products; the controls take out what
moves budgets and sales together (seasonality, holidays, discounts the merchant runs,
launches).

**Pair equations.** For each product ``q`` its revenue is regressed on its own channel
regressors ``z[c, q, t] = Z[c, k, t] a[c, q, t] / A[c, k, t]`` (the share of the category's
response its adstock holds, the category's transform reused) and on each sibling ``p``'s
predicted lift ``zeta[p, t] = sum_c beta[c, k] z[c, p, t]``; the coefficient on ``zeta`` is the
share of ``p``'s lift that moves to ``q``: positive a halo, negative cannibalisation.
``beta[c, k]`` is the channel's return in the category as its cells read it: the per-product fit's
incremental revenue over the channel's regressor summed, ``sum_p b[c, p] sum_t z[c, p, t] /
sum_t Z[c, k, t]``, never below zero (spend cannot take sales from what it advertises). It was
one coefficient on ``Z[c, k]`` fitted beside the controls, which the category equation's own
reasoning rejects (it weighs products by how much their spend varies), and where a channel's
effect in the category is small and saturated it came out negative: on seed 63 of
``bench/products_accuracy.py`` google_shopping's was -1.16 per unit in Outerwear (per-product
fit: +1.74). ``zeta`` then subtracted a product's Shopping lift: one promoted mostly by a
single-product Shopping campaign got a predicted lift correlated 0.35 with its true one, and
its planted -0.25 cannibalisation read +0.05 (se 0.055, z 5.4); now 0.99 and -0.30 (se 0.15
before the transform draws). A pair is reported as halo or cannibalisation only when its
``1 - claim_alpha`` interval excludes zero. Identification needs ``p``'s promotion to vary
apart from the category's (single-product campaigns, per-product bids); where it does not,
the interval is wide and the pair reports none. A product launched inside the window is
fitted over its days on sale only: before its launch its revenue is zero by construction, not
a baseline, and fitting those days made its trend and seasonal terms bend into a step (on
seeds 0-19 the planted cannibalisations into launched products sat up to 1.4 standard errors
further off the truth).

The pair equations are weighted least squares with compound-Poisson weights. What is left of
a product's daily revenue once its baseline and ads are modelled is the count noise of its
line items (on the simulator's worlds the residual sd is within 5% of the pure Poisson sd),
and that noise's variance is the day's mean times its net unit price, ``mu[t] (1 -
discount[t])``: a Black Friday or discount-event day with 3x the sales is 3x as noisy, and
equal weights let those days drown the quiet days' evidence on the cross-effect. The weights
come from a first unweighted fit (floored at a fifth of its mean level, so days before a
launch cannot take all the weight); Newey–West runs on the weighted residuals. The
category equations stay unweighted: their outcome sums many products and their intervals
are calibrated as they are. The sign of a cross-effect is limited by information, not only
by the estimator: ``bench/products_accuracy.py`` prints the ceiling an oracle that knows the
promoted product's true lift would reach, and the promoted products that sell little and
move only with their category's campaign sit below any estimator's reach.

The pair intervals carry the category transform's uncertainty. The siblings' predicted
lifts are generated regressors (the category's estimated decay and saturation shape them),
and an interval that takes them as known is too narrow: on simulator worlds the z-scores of
pairs with nothing planted had sd 1.25-1.3 and 6.6% fell below -1.96 (2.5% meant), and
with the true transform supplied the sd fell to 1.14. The transform is drawn
``transform_draws`` times from its NLS sandwich covariance (Krinsky & Robb 1986), the lifts
rebuilt and every pair equation refitted with the same weights; the spread of each pair's
effect over the draws is added to its variance, a simulated two-step (Murphy & Topel 1985)
correction. Point estimates, and so signs, are unchanged. The channel x product cells are
rebuilt in the same draws (their own regressors' sums and the siblings' lifts move with the
transform, not only the coefficients): without it their z-scores had sd 1.30 and 90%
intervals covered 79.6% of cells on seeds 0-19; with it, 89.1%.

**Net of a promotion.** Per promoted product, its lift plus its change on every sibling
(``PromotionNet``): what Recommend's "stop promoting" is judged on. The terms come from
different equations whose errors are correlated, so its interval is built jointly
(:mod:`causal_svc.products.joint`): Newey–West on the equations' summed influence, plus the
spread of the whole sum over the same transform draws. On 120-day simulator worlds its 90%
interval covers the true net in 88-91% of promoted products; on 365-day worlds in 82-84%
(the sibling sums' z-scores have sd 1.32 there whatever the HAC lags: a misfit neither part
carries).

**Marginal return.** A budget move needs the return of the *next* unit of a cell's spend
(:func:`causal_svc.products.category.marginal_return`). It hangs on the half-saturation far
more than the total does, so its interval is drawn jointly over coefficients and transform
(:func:`causal_svc.products.category.average_saturation` says how); ``roas`` is the slope at
zero spend.

**Margin.** Incremental margin is incremental revenue times the margin rate of the channel's
own lift (:func:`causal_svc.products.margins.lift_margin_rate`: each product-day's rate weighted
by where the fit puts the lift; the category's observed rate, ``1 - sum cost x units / sum
revenue``, where it puts none), interval scaled alike: the extra sales fall on promoted products
and discount days, whose margin is not the category's average (covered 83.8% → 86.5% of cells
on seeds 20–39, 89.4% → 90.5% on 0–19). Revenue is net sales before refunds, so that margin is
too. **Net of refunds** (issue 20: a category that refunds
12% of its sales keeps 12% less than its margin says) it is the margin times ``1 - r``, ``r``
the category's refunds over its net sales in the window (``refunds``, each dated on its
order's day), interval scaled alike. That is right when a refund returns the goods to stock
(the unit's cost comes back with its price, so the refunded share of the margin is lost and
no more) and when the sales the spend caused are refunded at the category's rate: refunds
proportional to sales and independent of the channel and the promotion. It misses what a
channel or a discount does to returns (impulse buys from social ads and deep discounts come
back more often in real shops: then the extra sales' rate is above the category's and this
overstates what is kept); goods written off on return (then the whole refunded revenue is
lost, ``r`` times revenue, not ``r`` times margin); and the refunds of the window's last
orders that have not happened yet (the rate is a little low: by about the share of the
window within the refund delay, ~3% of the rate for a year and refunds within 20 days). The
rate's own sampling error (``refund_rate_stderr``, a ratio estimator over days) is left out
of the interval: it is a small share of it (``bench/products_accuracy.py`` prints how small).

References
----------
Jin, Wang, Sun, Chan & Koehler (2017), "Bayesian methods for media mix modeling with
carryover and shape effects", Google. Newey & West (1987), Econometrica 55(3).
Murphy & Topel (1985), "Estimation and inference in two-step econometric models", JBES 3(4).
Krinsky & Robb (1986), "On approximating the statistical properties of elasticities", REStat
68(4). Van Heerde, Leeflang & Wittink (2004), "Decomposing the sales promotion bump with store
data", Marketing Science 23(3) (cross-item effects of promotions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from causal_svc.errors import InsufficientData, InvalidSpec
from causal_svc.products.category import (
    LOG_M,
    CategoryFit,
    CategoryProblem,
    average_saturation,
    fit_category,
    pool_decays,
)
from causal_svc.products.design import DECAYS, baseline_controls
from causal_svc.products.joint import (
    Design,
    hac_fit,
    nw_variance,
    predicted_lifts,
    transform_spread,
)
from causal_svc.products.joint import cell_gradient as _cell_gradient
from causal_svc.products.joint import poisson_root as _poisson_root
from causal_svc.products.margins import lift_margin_rate, product_day_margins
from causal_svc.products.margins import refund_rate as _refund_rate

__all__ = [
    "CellEffect",
    "PairEffect",
    "ProductCellEffect",
    "ProductEffects",
    "PromotionNet",
    "estimate_products",
]

REQUIRED = ("date", "product_id", "category", "revenue", "gross", "discounts", "units", "cost")
# Optional: refunds per product x day, dated on the order's day (absent: taken as none).
REFUNDS = "refunds"
MIN_DAYS = 90
HAC_LAGS = 14
SMOOTH_DAYS: int | None = None
TRANSFORM_DRAWS = 40


@dataclass(frozen=True, slots=True)
class CellEffect:
    """One channel's incremental revenue and margin in one category over the window."""

    channel: str
    category: str
    spend: float
    incremental_revenue: float
    stderr: float
    conf_low: float
    conf_high: float
    incremental_margin: float
    margin_low: float
    margin_high: float
    share_of_revenue: float
    roas: float  # return per unit of spend at low spend (the curve's slope at zero)
    decay: float
    half_saturation: float  # inf = linear
    # Return of the next unit of spend at the period's spend, with its 1 - alpha interval
    # (see "Marginal return" in the module docstring); NaN without spend.
    marginal_roas: float = float("nan")
    marginal_low: float = float("nan")
    marginal_high: float = float("nan")
    # The category's refunds over its net sales in the window, the standard error of that
    # ratio over days, and the incremental margin net of refunds: the margin times
    # ``1 - refund_rate``, interval scaled alike (see "Margin" in the module docstring).
    refund_rate: float = 0.0
    refund_rate_stderr: float = 0.0
    net_margin: float = 0.0
    net_margin_low: float = 0.0
    net_margin_high: float = 0.0


@dataclass(frozen=True, slots=True)
class ProductCellEffect:
    """One channel's incremental revenue of one product: its own lift, plus the halo less the
    cannibalisation the channel's spend on the product's siblings moved to it."""

    channel: str
    category: str
    product_id: str
    spend: float
    incremental_revenue: float
    stderr: float
    conf_low: float
    conf_high: float


@dataclass(frozen=True, slots=True)
class PairEffect:
    """The revenue change of ``affected`` caused by promoting ``promoted`` (same category)."""

    category: str
    promoted: str
    affected: str
    revenue: float
    stderr: float
    conf_low: float
    conf_high: float
    pvalue: float
    promoted_lift: float
    share_of_promoted_lift: float  # NaN when the promoted lift is not positive
    verdict: str  # halo | cannibalisation | none


@dataclass(frozen=True, slots=True)
class PromotionNet:
    """What promoting ``promoted`` did to its whole category: its own lift, its revenue
    change on every sibling summed (every pair with it as promoted, claimed or not) and the
    two together, the net, with standard errors from their joint uncertainty
    (:mod:`causal_svc.products.joint`); the three carry the lift's covariance with the sum."""

    category: str
    promoted: str
    lift: float
    lift_stderr: float
    siblings: float
    siblings_stderr: float
    stderr: float  # of the net

    @property
    def net(self) -> float:
        return self.lift + self.siblings


@dataclass(frozen=True, slots=True)
class ProductEffects:
    cells: tuple[CellEffect, ...]
    pairs: tuple[PairEffect, ...]
    alpha: float
    claim_alpha: float
    nobs: int
    products: tuple[ProductCellEffect, ...] = ()
    nets: tuple[PromotionNet, ...] = ()
    method: str = (
        "category panel regression, adstock x saturation profiled, HAC intervals;"
        " pairs by compound-Poisson weighted least squares"
    )
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def cells_frame(self) -> pd.DataFrame:
        return pd.DataFrame([_row(c) for c in self.cells])

    def pairs_frame(self) -> pd.DataFrame:
        return pd.DataFrame([_row(p) for p in self.pairs])

    def products_frame(self) -> pd.DataFrame:
        return pd.DataFrame([_row(p) for p in self.products])


def _no_spend(channel: str, category: str) -> CellEffect:
    """A channel that spent nothing in the category: nothing to estimate."""
    zero = 0.0
    return CellEffect(
        channel, category, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, np.inf
    )


def _row(obj: object) -> dict[str, object]:
    return {k: getattr(obj, k) for k in obj.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _Arrays:
    dates: np.ndarray  # (T,) datetime64[D]
    products: list[str]
    category: list[str]
    revenue: np.ndarray  # (P, T)
    discount: np.ndarray  # (P, T) share off list price
    units: np.ndarray
    cost: np.ndarray  # (P,)
    spend: np.ndarray  # (C, P, T)
    first_sale: np.ndarray  # (P,)
    refunds: np.ndarray  # (P, T) by the order's day; zeros when the panel has none


def _arrays(panel: pd.DataFrame, channels: tuple[str, ...]) -> _Arrays:
    for col in (*REQUIRED, *(f"spend_{c}" for c in channels)):
        if col not in panel.columns:
            raise InvalidSpec(f"the product panel has no column {col!r}", field=col)
    frame = panel.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    numeric = ["revenue", "gross", "discounts", "units", "cost", *(f"spend_{c}" for c in channels)]
    if REFUNDS in frame.columns:
        numeric.append(REFUNDS)
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any() or not np.isfinite(values.to_numpy(np.float64)).all():
            raise InvalidSpec(f"column {col!r} has missing or non-numeric values", field=col)
        frame[col] = values
    span = pd.date_range(frame["date"].min(), frame["date"].max(), freq="D")
    if len(span) < MIN_DAYS:
        raise InsufficientData(
            f"a product analysis needs at least {MIN_DAYS} days; the panel spans {len(span)}"
        )
    cats = frame.groupby("product_id")["category"].agg(lambda s: s.iloc[0])
    products = sorted(cats.index.astype(str))
    frame["product_id"] = frame["product_id"].astype(str)

    def wide(col: str) -> np.ndarray:
        table = frame.pivot_table(index="product_id", columns="date", values=col, aggfunc="sum")
        return table.reindex(index=products, columns=span).fillna(0.0).to_numpy(np.float64)

    gross = wide("gross")
    with np.errstate(divide="ignore", invalid="ignore"):
        discount = np.where(gross > 0, wide("discounts") / gross, 0.0)
    units = wide("units")
    cost = frame.groupby("product_id")["cost"].mean().reindex(products).to_numpy(np.float64)
    sold = units > 0
    first = np.where(sold.any(axis=1), sold.argmax(axis=1), units.shape[1])
    return _Arrays(
        span.to_numpy().astype("datetime64[D]"),
        products,
        [str(cats[p]) for p in products],
        wide("revenue"),
        discount,
        units,
        cost,
        np.stack([wide(f"spend_{c}") for c in channels]),
        first,
        wide(REFUNDS) if REFUNDS in frame.columns else np.zeros_like(units),
    )


def estimate_products(
    panel: pd.DataFrame,
    *,
    channels: tuple[str, ...],
    alpha: float = 0.10,
    claim_alpha: float = 0.05,
    country: str = "US",
    hac_lags: int = HAC_LAGS,
    smooth_days: int | None = SMOOTH_DAYS,
    store_control: bool = True,
    pool_decay: bool = True,
    average: bool = True,
    weighted: bool = True,
    transform_draws: int = TRANSFORM_DRAWS,
) -> ProductEffects:
    """Channel x category incremental revenue and margin, and product-pair cross-effects.

    Parameters
    ----------
    panel : DataFrame
        One row per product x day: ``date, product_id, category, revenue`` (net of
        discounts), ``gross, discounts, units, cost`` (unit cost) and ``spend_<channel>``
        per channel (org currency; the platforms' product breakdowns summed); optionally
        ``refunds`` (by the order's day) for the margin net of refunds.
    channels : tuple of str
    alpha : float
        The reported intervals are ``1 - alpha``.
    claim_alpha : float
        A pair is called halo or cannibalisation when its ``1 - claim_alpha`` interval
        excludes zero.
    country : str
        Holiday calendar.
    weighted : bool
        Fit the pair equations by compound-Poisson weighted least squares (else OLS).
    transform_draws : int
        Draws of the category transform whose spread is added to the variance of each pair
        and each channel x product cell (0: they treat the transform as known).

    Returns
    -------
    ProductEffects
    """
    if not channels:
        raise InvalidSpec("name at least one channel", field="channels")
    if not 0 < alpha < 1 or not 0 < claim_alpha < 1:
        raise InvalidSpec("alpha and claim_alpha must be in (0, 1)", field="alpha")
    a = _arrays(panel, channels)
    z_rep = stats.norm.ppf(1 - alpha / 2)
    z_claim = stats.norm.ppf(1 - claim_alpha / 2)
    cells: list[CellEffect] = []
    pairs: list[PairEffect] = []
    product_cells: list[ProductCellEffect] = []
    nets: list[PromotionNet] = []
    warnings: list[str] = []
    categories = sorted(set(a.category))
    members, controls, problems, actives = [], [], [], []
    for category in categories:
        m = np.array([i for i, c in enumerate(a.category) if c == category])
        weights = a.revenue[m].mean(axis=1)
        x0, _ = baseline_controls(
            a.dates, a.discount[m], weights, a.first_sale[m], country, smooth_days=smooth_days
        )
        if store_control:
            x0 = np.column_stack([x0, _others(a, m)])
        active = [c for c in range(len(channels)) if a.spend[c, m].sum() > 0]
        members.append(m)
        controls.append(x0)
        actives.append(active)
        problems.append(
            CategoryProblem(a.revenue[m].sum(axis=0), x0, [a.spend[c, m] for c in active])
        )
    with_spend = [k for k, act in enumerate(actives) if act]
    if pool_decay:
        starts, _ = pool_decays(
            [problems[k] for k in with_spend], [actives[k] for k in with_spend], len(channels)
        )
    else:
        starts = []
        for k in with_spend:
            th = np.array([v for _ in actives[k] for v in (0.3, LOG_M[1])])
            for _ in range(2):
                for c in range(len(actives[k])):
                    th = problems[k].grid(th, c, DECAYS)[1]
            starts.append(th)
    start_of = dict(zip(with_spend, starts, strict=True))
    for k, category in enumerate(categories):
        m, x0, active = members[k], controls[k], actives[k]
        y = problems[k].y
        if not active:
            for c in range(len(channels)):
                cells.append(_no_spend(channels[c], category))
            continue
        fit = fit_category(problems[k], start_of[k], hac_lags=hac_lags, refine_decay=not pool_decay)
        inc_avg, se_avg, marginal = average_saturation(
            problems[k], fit, hac_lags=hac_lags, alpha=alpha, grid=average
        )
        if not average:
            inc_avg, se_avg = fit.incremental, fit.stderr
        sold = float(y.sum())
        cost = float((a.cost[m][:, None] * a.units[m]).sum())
        margin_rate = 1.0 - cost / sold if sold > 0 else 0.0
        refund_rate, refund_se = _refund_rate(a.refunds[m].sum(axis=0), y)
        rates = product_day_margins(a.units[m], a.revenue[m], a.discount[m], a.cost[m], margin_rate)
        for c in range(len(channels)):
            if c not in active:
                cells.append(_no_spend(channels[c], category))
                continue
            i = active.index(c)
            inc, se = float(inc_avg[i]), float(se_avg[i])
            lo, hi = inc - z_rep * se, inc + z_rep * se
            spent = float(a.spend[c, m].sum())
            # the extra sales' own margin: promoted products and discount days differ from
            # the category's average (margin coverage 83.8% -> 87.6% net, seeds 20-39)
            rate = lift_margin_rate(rates, fit.coef[i], fit.z[i], margin_rate)
            keep = rate * (1.0 - refund_rate)
            cells.append(
                CellEffect(
                    channels[c],
                    category,
                    spent,
                    inc,
                    se,
                    lo,
                    hi,
                    inc * rate,
                    lo * rate,
                    hi * rate,
                    inc / sold if sold > 0 else 0.0,
                    float(marginal.initial[i]),
                    fit.decay[i],
                    fit.half_saturation[i],
                    float(marginal.estimate[i]),
                    float(marginal.low[i]),
                    float(marginal.high[i]),
                    refund_rate,
                    refund_se,
                    inc * keep,
                    lo * keep,
                    hi * keep,
                )
            )
        if active:
            pairs += _pairs(
                a,
                m,
                category,
                fit,
                x0,
                country,
                smooth_days,
                hac_lags,
                z_rep,
                z_claim,
                store_control,
                active,
                channels,
                product_cells,
                weighted,
                transform_draws,
                nets=nets,
            )
    return ProductEffects(
        tuple(cells),
        tuple(pairs),
        alpha,
        claim_alpha,
        len(a.dates),
        products=tuple(product_cells),
        nets=tuple(nets),
        method=(
            "category panel regression, adstock x saturation profiled, HAC intervals;"
            f" pairs by {'compound-Poisson weighted' if weighted else 'ordinary'} least squares"
        ),
        warnings=tuple(warnings),
    )


def _others(a: _Arrays, m: np.ndarray) -> np.ndarray:
    """The rest of the store's revenue per day, scaled to this category's mean: a control for
    the demand swings every category shares and nobody records (see the module docstring)."""
    rest = np.delete(a.revenue, m, axis=0).sum(axis=0)
    own = a.revenue[m].sum(axis=0).mean()
    return rest * own / max(float(rest.mean()), 1e-12) if rest.any() else np.zeros_like(rest)


def _pairs(
    a: _Arrays,
    m: np.ndarray,
    category: str,
    fit: CategoryFit,
    x_cat: np.ndarray,
    country: str,
    smooth_days: int | None,
    hac_lags: int,
    z_rep: float,
    z_claim: float,
    store_control: bool,
    channel_of: list[int],
    channels: tuple[str, ...],
    products: list[ProductCellEffect],
    weighted: bool = True,
    draws: int = TRANSFORM_DRAWS,
    *,
    nets: list[PromotionNet] | None = None,
) -> list[PairEffect]:
    """Cross-effects between the category's products (see the module docstring); appends
    each product's channel cells to ``products`` and each promoted product's net to ``nets``."""
    y = a.revenue[m].sum(axis=0)
    beta, zeta = _predicted_lifts(fit)
    n_c = len(fit.z)
    lifts = np.zeros(len(m))
    cell_parts: list[tuple[int, int, int, int, float, float]] = []
    fits: dict[int, tuple[np.ndarray, np.ndarray, list[int], np.ndarray]] = {}
    designs: dict[int, Design] = {}
    # Per product with an equation, its days' influence on its coefficients (T, k), and the
    # column and regressor sum of its own lift: what the nets' joint variance is built from.
    influence: dict[int, np.ndarray] = {}
    own_lift: dict[int, np.ndarray] = {}
    weights = a.revenue[m].mean(axis=1)
    store = _others(a, m) if store_control else None  # the same for every product
    for r, q in enumerate(m.tolist()):
        if a.revenue[q].sum() == 0:
            continue
        xq, _ = baseline_controls(
            a.dates,
            a.discount[[q]],
            weights[[r]],
            a.first_sale[[q]],
            country,
            smooth_days=smooth_days,
        )
        if store is not None:
            xq = np.column_stack([xq, store])
        own_idx = [i for i in range(n_c) if fit.z[i][r].std() > 0]
        own = [fit.z[i][r] for i in own_idx]
        # A product cannot lose or gain sales before it is on sale.
        on_sale = np.arange(len(y)) >= a.first_sale[q]
        cross = [zeta[s] * on_sale for s in range(len(m))]
        sibs = [s for s in range(len(m)) if s != r and np.std(cross[s]) > 0]
        xs = np.column_stack([xq, *own, *[cross[s] for s in sibs]])
        # Only the days it is on sale: before a launch its revenue is zero by construction,
        # not a baseline, and those days made the product's seasonal terms fit a step.
        rows = on_sale
        root = np.zeros(len(y))
        root[rows] = (
            _poisson_root(a.revenue[q][rows], xs[rows], a.discount[q][rows], hac_lags)
            if weighted
            else 1.0
        )
        h = hac_fit(a.revenue[q][rows] * root[rows], xs[rows] * root[rows, None], hac_lags)
        p_q, se_q, cov_q = h.params, h.bse, h.cov
        influence[r] = np.zeros((len(y), len(p_q)))
        influence[r][rows] = h.influence
        designs[r] = (xq, own_idx, on_sale, sibs, root, np.isfinite(p_q))
        n0 = xq.shape[1]
        # Channel i's incremental revenue of q: its own lift plus what its spend on the
        # siblings moved to q (through each sibling's predicted lift, channel i's part).
        for i, c in enumerate(channel_of):
            g = _cell_gradient(i, r, len(p_q), n0, own_idx, sibs, fit.z, beta, on_sale)
            inc = float(np.nan_to_num(p_q) @ g)
            cell_parts.append((r, i, c, q, inc, float(max(g @ cov_q @ g, 0.0))))
        own_lift[r] = np.zeros(len(p_q))
        own_lift[r][n0 : n0 + len(own)] = [o.sum() for o in own]
        own_lift[r][~np.isfinite(p_q)] = 0.0
        lifts[r] = float(np.nan_to_num(p_q) @ own_lift[r])
        fits[r] = (p_q[n0 + len(own) :], se_q[n0 + len(own) :], sibs, on_sale)
    spread = transform_spread(
        a.spend[:, m], a.revenue[m], y, fit, x_cat, channel_of, designs, draws
    )
    for r, i, c, q, inc, var in cell_parts:
        se = float(np.sqrt(var + spread.cells.get((r, i), 0.0)))
        products.append(
            ProductCellEffect(
                channels[c],
                category,
                a.products[q],
                float(a.spend[c, q].sum()),
                inc,
                se,
                inc - z_rep * se,
                inc + z_rep * se,
            )
        )
    out = []
    # Per promoted product, its changes' sum and its lift's and the sum's influence per day
    # (each term's influence through its equation, summed over the equations).
    net = {s: (0.0, influence[s] @ own_lift[s], np.zeros(len(y))) for s in fits}
    paired: set[int] = set()
    for r, (phi, phi_se, sibs, on_sale) in fits.items():
        for k, s in enumerate(sibs):
            if not np.isfinite(phi[k]):
                continue  # not identified apart from the other regressors
            scale = float(np.sum(zeta[s] * on_sale))
            eff = float(phi[k] * scale)
            se = float(np.sqrt((phi_se[k] * scale) ** 2 + spread.pairs.get((r, k), 0.0)))
            paired.add(s)
            if s in net:
                col = influence[r].shape[1] - len(phi) + k
                total, of_lift, of_sum = net[s]
                net[s] = (total + eff, of_lift, of_sum + influence[r][:, col] * scale)
            claim_lo, claim_hi = eff - z_claim * se, eff + z_claim * se
            verdict = "cannibalisation" if claim_hi < 0 else "halo" if claim_lo > 0 else "none"
            lift = float(lifts[s])
            out.append(
                PairEffect(
                    category,
                    a.products[m[s]],
                    a.products[m[r]],
                    eff,
                    se,
                    eff - z_rep * se,
                    eff + z_rep * se,
                    float(2 * stats.norm.sf(abs(eff) / se)) if se > 0 else 1.0,
                    lift,
                    eff / lift if lift > 0 else float("nan"),
                    verdict,
                )
            )
    for s, (total, of_lift, of_sum) in net.items():
        if nets is None or s not in paired:
            continue  # no pair reports it as promoted
        drawn = spread.nets.get(s, (0.0, 0.0, 0.0))
        variances = [
            nw_variance(series, hac_lags) + d
            for series, d in zip((of_lift, of_sum, of_lift + of_sum), drawn, strict=True)
        ]
        se_l, se_s, se_n = (float(np.sqrt(v)) for v in variances)
        nets.append(
            PromotionNet(category, a.products[m[s]], float(lifts[s]), se_l, total, se_s, se_n)
        )
    return out


def _predicted_lifts(fit: CategoryFit) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(beta, zeta)``: the category fit's return per channel, at least zero
    (``CategoryFit.returns``), and each product's predicted lift (the pair regressors,
    :func:`causal_svc.products.joint.predicted_lifts`)."""
    return fit.returns, predicted_lifts(fit.returns, fit.z)
