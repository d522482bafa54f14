"""What the LLM service knows about an analysis: its effects, checks and strategy, each
figure addressable by a fact name (its provenance).

Pure domain types; ``llm_svc.convert`` builds them from the causal service's ``Analysis``.
An effect estimate gives one :class:`Effect`; an attribution result gives one per channel
(incremental outcome and incremental ROAS), so every consumer below — insights, context,
writer, claim judge — handles both through the same type.

Fact names follow the contract's field names, so a citation reads back to the analysis:
``point_estimate``, ``ci_lower``, ``ci_upper``, ``p_value``, ``n``, ``statistics.mean_control``,
``check:placebo_treatment``, ``strategy.assumptions[0]``, for attribution
``channels[meta].incremental_roas.mid``, and for a product analysis
``cells[google_shopping/Footwear].incremental_margin_net_of_refunds.lower`` (derived: the
wire's margin, before refunds, times one less ``categories[Footwear].refund_rate``, as the
product view shows it),
``product_cells[google_shopping/<product id>].incremental_revenue.estimate``,
``pairs[<promoted id>><affected id>].revenue_change.upper`` and ``products[<id>].title``. Figures derived from facts name their derivation
(``derived:relative_effect = point_estimate / statistics.mean_control``).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

__all__ = [
    "DATA_CHECK",
    "Analysis",
    "Audience",
    "Check",
    "CheckOutcome",
    "Effect",
    "Fact",
    "Identification",
    "Metric",
    "ProductRole",
]


# the fact names of what the data check said (the CheckAnalysisData reply's fields)
DATA_CHECK = "data_check"


class Audience(enum.StrEnum):
    """Who a text is for."""

    EXECUTIVE = "executive"
    ANALYST = "analyst"
    DATA_SCIENTIST = "data_scientist"


class CheckOutcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"


class Identification(enum.StrEnum):
    """What licenses reading an estimate as causal (the wire's IdentificationKind)."""

    RANDOMIZED = "randomized"
    PARALLEL_TRENDS = "parallel_trends"
    INSTRUMENT = "instrument"
    DISCONTINUITY = "discontinuity"
    BACKDOOR = "backdoor"
    SYNTHETIC_COUNTERFACTUAL = "synthetic_counterfactual"
    NONE = "none"  # a correlation: nothing rules out confounding
    UNKNOWN = "unknown"


class Metric(enum.StrEnum):
    """The units an effect is in."""

    OUTCOME = "outcome"  # outcome units (revenue, orders…) per unit of treatment
    ROAS = "roas"  # outcome per unit of spend (attribution's incremental ROAS)


@dataclass(frozen=True, slots=True)
class Fact:
    """One figure or statement of an analysis and where it comes from."""

    analysis_id: str
    name: str  # e.g. "ci_lower", "check:placebo_treatment"
    value: float | str


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnostic or refutation of an estimate."""

    name: str  # contract name, e.g. "Placebo treatment"
    kind: str  # e.g. "placebo_treatment", "pre_trend"
    outcome: CheckOutcome
    interpretation: str = ""
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None

    @property
    def fact(self) -> str:
        return f"check:{self.kind}"

    @property
    def label(self) -> str:
        """Readable name: "placebo treatment", "pre-trend test"; an id after the kind is kept
        verbatim ("lift-test calibration of exp_org_001_001", not "exp org 001 001")."""
        return f"{self.kind_label} of {self.which}" if self.which else self.kind_label

    @property
    def kind_label(self) -> str:
        """The label without the id after the kind ("lift-test calibration"): what a sentence
        the guardrail does not read may say, the id being the client's text (V1-F2)."""
        kind = self.kind.partition(":")[0]
        return _CHECK_LABELS.get(kind, kind.replace("_", " "))

    @property
    def which(self) -> str:
        """The id after the kind, as the client typed it (a lift test's), or ""."""
        return self.kind.partition(":")[2]


_CHECK_LABELS = {
    "placebo_treatment": "placebo test",
    "random_common_cause": "random-common-cause test",
    "data_subset": "data-subset test",
    "pre_trend": "pre-trend test",
    "balance": "covariate balance check",
    "overlap": "overlap check",
    "sensitivity": "sensitivity analysis",
    "weak_instrument": "instrument strength test",
    "overidentification": "over-identification test",
    "density": "density test at the cutoff",
    "pre_period_fit": "pre-period fit check",
    "permutation": "permutation test",
    "convergence": "convergence check",
    "calibration": "lift-test calibration",  # an attribution's "calibration:<test id>"
    "national_outliers": "national outcome check",
    "spend_spikes": "daily spend check",
}


@dataclass(frozen=True, slots=True)
class ProductRole:
    """What one effect of a product analysis is about, for the product writer's wording.

    ``cell``: a channel's spend on a category; ``product``: a channel's spend on one product
    (``product`` is its title); ``pair``: promoting ``product`` moved ``affected``'s revenue,
    ``cross`` being the analysis's own call at its claim level ("halo", "cannibalisation" or
    "none"). Titles are facts of the analysis (``product_fact``, ``affected_fact``).
    """

    kind: str  # "cell" | "product" | "pair"
    channel: str = ""
    category: str = ""
    product: str = ""
    product_fact: str = ""
    affected: str = ""
    affected_fact: str = ""
    cross: str = ""
    lift: float | None = None  # a pair's promoted product's own lift
    share: float | None = None  # a pair's revenue change over that lift
    pair_fact: str = ""  # a pair's prefix (``pairs[a>b].``), for its lift and share facts

    @property
    def phrase(self) -> str:
        """The cause in prose: "google shopping's spend on Footwear", "promoting Trail Boot 1"."""
        if self.kind == "pair":
            return f"promoting {self.product}"
        where = self.category if self.kind == "cell" else self.product
        return f"{self.channel.replace('_', ' ')}'s spend on {where}"


@dataclass(frozen=True, slots=True)
class Effect:
    """One effect of ``treatment`` on ``outcome`` an analysis reports, with its interval.

    ``prefix`` is prepended to this effect's fact names (empty for an effect estimate,
    ``channels[meta].incremental_outcome.`` for an attribution channel). ``baseline`` is the
    outcome level without the treatment when the analysis gives one (so a percentage claim
    can be compared), with the fact it comes from.
    """

    analysis_id: str
    treatment: str
    outcome: str
    point: float
    lower: float
    upper: float
    alpha: float = 0.05
    p_value: float | None = None
    metric: Metric = Metric.OUTCOME
    supported: bool = True  # no check failed
    causal: bool = True  # identified (False: a correlation)
    prefix: str = ""
    point_fact: str = "point_estimate"
    lower_fact: str = "ci_lower"
    upper_fact: str = "ci_upper"
    baseline: float | None = None
    baseline_fact: str = ""
    failed_checks: tuple[str, ...] = ()  # check labels
    warning_checks: tuple[str, ...] = ()
    # phrases that name the cause as written (product titles, which may hold digits), in
    # causal order: a pair's promoted product, then the one it affects
    names: tuple[str, ...] = ()
    role: ProductRole | None = None  # set for a product analysis's effects
    # False: a cause the analysis modelled but gives no figure for (its model failed its
    # health checks); its figures are NaN, and it is judged (CheckClaims), never written
    reported: bool = True
    # an attribution channel's share of the incremental outcome (contribution_share) and the
    # total it is a share of (every channel's estimate summed), for "x% of the lift" claims
    share: float | None = None
    share_total: float | None = None
    share_fact: str = ""
    # what tells two analyses of the same cause apart when they disagree (CheckClaims):
    # the data's window, when the analysis was made, and whether lift tests calibrated it
    window: tuple[dt.date, dt.date] | None = None
    # the figure is a total over ``window`` (an attribution's or a product analysis's incremental
    # outcome), so a claim of a rate ("55,273 per day") is judged against it put per day;
    # False for an effect estimate (its figure is per observation)
    over_window: bool = False
    created: dt.datetime | None = None
    calibrated: bool = False
    # why the analysis puts this cause's identification at risk (its budget_response or
    # omitted_channels check, for a channel no lift test calibrates); "" when it does not
    at_risk: str = ""
    # an attribution channel's spend over the window, its response curve (spend level,
    # incremental outcome, band lower, band upper; on the outcome effect), and its marginal
    # ROAS (estimate, lower, upper; on the ROAS effect), with the fact prefix they are cited by
    spend: float | None = None
    curve: tuple[tuple[float, float, float, float], ...] = ()
    curve_fact: str = ""
    marginal: tuple[float, float, float] | None = None
    marginal_fact: str = ""
    currency: str = ""
    # a product cell's incremental margin net of refunds (estimate, lower, upper), on each of
    # its effects: what its spend kept, so "X loses money on Bags" is judged against it
    net_margin: tuple[float, float, float] | None = None
    net_margin_fact: str = ""

    @property
    def spans_zero(self) -> bool:
        return self.lower <= 0.0 <= self.upper

    @property
    def level(self) -> int:
        """Confidence level in percent (95 for alpha = 0.05)."""
        return round(100 * (1 - self.alpha))

    @property
    def established(self) -> bool:
        """What may be stated plainly as caused: identified, every check that ran passed,
        and the interval excludes zero. Anything less is worded as uncertain."""
        return (
            self.causal
            and self.supported
            and not self.warning_checks
            and not self.at_risk  # CheckClaims: "not established" (its identification)
            and not self.spans_zero
        )

    def relative(self) -> tuple[float, float, float] | None:
        """(point, lower, upper) as fractions of the baseline, when the analysis gives one."""
        if self.baseline is None or self.baseline <= 0:
            return None
        b = self.baseline
        return self.point / b, self.lower / b, self.upper / b


@dataclass(frozen=True, slots=True)
class Analysis:
    """A stored analysis as the LLM service reads it."""

    analysis_id: str
    kind: str  # "effect_estimate" | "attribution" | "products"
    method: str  # e.g. "difference_in_means"
    estimand: str = ""  # "ate", "att", "late", "cate" or ""
    identification: Identification = Identification.UNKNOWN
    strategy_reason: str = ""
    assumptions: tuple[str, ...] = ()
    adjustment_set: tuple[str, ...] = ()
    effects: tuple[Effect, ...] = ()
    checks: tuple[Check, ...] = ()
    warnings: tuple[str, ...] = ()
    statistics: dict[str, float] = field(default_factory=dict)
    std_error: float | None = None
    n: int = 0
    n_treated: int = 0
    n_control: int = 0
    window: tuple[dt.date, dt.date] | None = None  # the data's date range, when known
    # what a correlation would have said: the outcome on the treatment alone (point, lower,
    # upper), for contrast with the estimate; None when the causal service gives none
    naive: tuple[float, float, float] | None = None
    create_time: dt.datetime | None = None
    # causes the analysis modelled but reports no effect for (``Effect.reported`` False): a
    # claim about one is judged against the failure, not as if nothing spoke to it
    withheld: tuple[Effect, ...] = ()
    # the currency of its money amounts (revenue, margin, spend): an attribution's spend's, a
    # product analysis's currency_code; "" when the analysis names none (an effect estimate)
    currency: str = ""
    # what one observation of an effect estimate's data is ("geo-day" for a geo × day panel):
    # its estimate is per observation (mesh.runtime.estimand)
    observation: str = ""
    # what changed under its window since it was made, a line per kind of change (the surfacing
    # service's CheckAnalysisData, read when it is explained: its figures describe the data as
    # it was), and why that could not be checked ("" when it was, or was never asked)
    data_changes: tuple[str, ...] = ()
    data_unchecked: str = ""

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is CheckOutcome.FAILED)

    @property
    def warning_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is CheckOutcome.WARNING)

    @property
    def passed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is CheckOutcome.PASSED)

    def facts(self) -> tuple[Fact, ...]:
        """Every figure this analysis states, by fact name (the context document lists them)."""
        a = self.analysis_id
        out: list[Fact] = [Fact(a, "method", self.method)]
        if self.estimand:
            out.append(Fact(a, "estimand", self.estimand))
        out.append(Fact(a, "strategy.kind", self.identification.value))
        for i, text in enumerate(self.assumptions):
            out.append(Fact(a, f"strategy.assumptions[{i}]", text))
        for e in self.effects:
            out += [
                Fact(a, e.prefix + e.point_fact, e.point),
                Fact(a, e.prefix + e.lower_fact, e.lower),
                Fact(a, e.prefix + e.upper_fact, e.upper),
            ]
            if e.p_value is not None:
                out.append(Fact(a, "p_value", e.p_value))
            if e.baseline is not None and e.baseline_fact:
                out.append(Fact(a, e.baseline_fact, e.baseline))
            if e.marginal is not None and e.marginal_fact:
                for suffix, value in zip(("estimate", "lower", "upper"), e.marginal, strict=True):
                    out.append(Fact(a, e.marginal_fact + suffix, value))
            if e.role is not None:
                for fact, title in (
                    (e.role.product_fact, e.role.product),
                    (e.role.affected_fact, e.role.affected),
                ):
                    if fact and Fact(a, fact, title) not in out:
                        out.append(Fact(a, fact, title))
        if self.std_error is not None:
            out.append(Fact(a, "std_error", self.std_error))
        for name, value in (
            ("n", self.n),
            ("n_treated", self.n_treated),
            ("n_control", self.n_control),
        ):
            if value:
                out.append(Fact(a, name, value))
        for c in self.checks:
            out.append(Fact(a, c.fact, c.outcome.value))
        for i, text in enumerate(self.warnings):
            out.append(Fact(a, f"warnings[{i}]", text))
        for i, text in enumerate(self.data_changes):
            out.append(Fact(a, f"{DATA_CHECK}.warnings[{i}]", text))
        if self.data_unchecked:
            out.append(Fact(a, DATA_CHECK, self.data_unchecked))
        return tuple(out)
