"""Method AUTO: choose the identification strategy from the graph and the shape of the data.

The design comes first, the graph second: a randomised experiment needs no graph; a panel with a
treated group is identified by parallel trends (DiD) or by a weighted donor pool (synthetic
control); a threshold by continuity (RDD); an instrument by exclusion. Only when none of these
applies does the answer rest on the graph's backdoor adjustment set, and when the graph says no
observed set blocks the backdoor paths the answer is :class:`NotIdentifiable`, never a
regression presented as causal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from causal_svc.errors import InvalidSpec, NotIdentifiable
from causal_svc.estimators.result import EffectSpec, Method
from causal_svc.estimators.validate import require_columns
from causal_svc.graph import GraphAnalysis
from causal_svc.methods import METHODS, method_info

__all__ = [
    "MANY_COVARIATES",
    "MIN_SC_DONORS",
    "MIN_SC_PRE_PERIODS",
    "Strategy",
    "choose_strategy",
]

# Synthetic control needs a donor pool to weight and a pre-period long enough to judge the fit
# (Abadie 2021, JEL §5); below these we fall back to DiD and say why.
MIN_SC_DONORS = 5
MIN_SC_PRE_PERIODS = 10
# Beyond this many adjustment columns, flexible nuisance models (DML) beat a logistic propensity.
MANY_COVARIATES = 10
# A panel with fewer units than this, or fewer treated units than FEW_TREATED_UNITS, leaves
# cluster-robust DiD inference unreliable (Cameron, Gelbach & Miller 2008; MacKinnon & Webb
# 2017): synthetic DiD, whose weights and unit-level variance do not lean on many clusters,
# is preferred when there are MIN_SDID_PRE_PERIODS pre-periods to weight.
FEW_UNITS = 30
FEW_TREATED_UNITS = 6
MIN_SDID_PRE_PERIODS = 4


@dataclass(frozen=True, slots=True)
class Strategy:
    """The chosen identification strategy and why.

    ``adjustment_set`` and ``instruments`` are data columns; :meth:`apply` writes them into a
    spec for the estimator.
    """

    method: Method
    reason: str
    assumptions: tuple[str, ...]
    adjustment_set: tuple[str, ...]
    alternatives: tuple[Method, ...]
    instruments: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def apply(self, spec: EffectSpec) -> EffectSpec:
        """``spec`` with the strategy's adjustment set and instruments in place."""
        return replace(
            spec,
            covariates=self.adjustment_set,
            instruments=self.instruments or spec.instruments,
        )


def choose_strategy(
    frame: pd.DataFrame,
    spec: EffectSpec,
    analysis: GraphAnalysis | None = None,
    *,
    randomised: bool = False,
    backdoor: Method | None = None,
    alpha: float = 0.05,
) -> Strategy:
    """Pick the estimation method the design and the graph support.

    Parameters
    ----------
    frame : DataFrame, shape (n_rows, n_columns)
        Only its columns and the treatment/unit/time pattern are read.
    spec : EffectSpec
    analysis : GraphAnalysis, optional
        From :func:`causal_svc.graph.analyze_graph`, ideally with ``available_columns`` set to the
        frame's columns. Supplies the adjustment set and candidate instruments.
    randomised : bool
        The caller says treatment was randomly assigned (an experiment in the registry).
    backdoor : Method, optional
        Preferred backdoor estimator (``MATCHING``, ``IPW``, ``AIPW``, ``DML``,
        ``NAIVE_REGRESSION``) when backdoor adjustment is the strategy.

    Returns
    -------
    Strategy

    Raises
    ------
    InvalidSpec
        A named column is missing, ``running_variable`` has no ``cutoff``, or ``backdoor`` is not a
        backdoor method or needs a binary treatment.
    NotIdentifiable
        No design applies and the graph (or its absence) leaves confounding open.

    Notes
    -----
    Order: RDD (a cutoff was given) → panel (DiD / staggered DiD / synthetic control; randomised
    panels too) → single series (BSTS) → given instruments (IV; an encouragement design is
    randomised in the instrument, not the treatment) → randomised (difference in means) → graph
    backdoor set (AIPW/DML/matching) → graph instruments → not identifiable. Thresholds: synthetic control needs ``MIN_SC_DONORS`` never-treated units
    and ``MIN_SC_PRE_PERIODS`` pre-periods (Abadie 2021); DML is preferred beyond
    ``MANY_COVARIATES`` adjustment columns or for a continuous treatment (Chernozhukov et al. 2018).
    """
    require_columns(frame, spec)
    if backdoor is not None and not (backdoor in METHODS and METHODS[backdoor].backdoor):
        raise InvalidSpec(f"{backdoor.value} is not a backdoor-adjustment method", field="method")
    binary = _is_binary(frame[spec.treatment])
    covariates = tuple(spec.covariates)
    subject = f"{spec.treatment} → {spec.outcome}"
    randomised = randomised or (analysis is not None and analysis.treatment_randomised)

    if spec.running_variable is not None:
        if spec.cutoff is None:
            raise InvalidSpec("a running variable needs a cutoff", field="roles.cutoff")
        return _strategy(
            Method.RDD,
            f"{spec.running_variable} crosses the cutoff {spec.cutoff:g}: units just either side "
            "are comparable, so the jump in the outcome at the cutoff is the effect",
            covariates,
            (Method.IV,) if spec.instruments else (),
        )

    if spec.unit is not None and spec.time is not None:
        return _panel(frame, spec, randomised, alpha, subject)

    if (
        spec.time is not None
        and _constant_within(frame, spec.time, spec.treatment)
        and not randomised
    ):
        return _single_series(frame, spec, subject)

    graph_set = None
    missing: list[str] = []
    if analysis is not None and analysis.backdoor_identifiable:
        graph_set = analysis.adjustment_columns
        missing = [c for c in graph_set if c not in frame.columns]

    if spec.instruments:
        alternatives = (
            (_backdoor_method(backdoor, binary, graph_set),)
            if graph_set is not None and not missing
            else ()
        )
        return _strategy(
            Method.IV,
            f"instruments {list(spec.instruments)} were given: the variation in {spec.treatment} "
            "they cause identifies its effect even with unmeasured confounding",
            covariates,
            alternatives,
            instruments=tuple(spec.instruments),
            warnings=_instrument_warnings(analysis, spec.instruments),
        )

    if randomised:
        method = Method.DIFFERENCE_IN_MEANS if binary else Method.NAIVE_REGRESSION
        extra = " (CUPED on the pre-period outcome)" if spec.pre_outcome else ""
        return _strategy(
            method,
            f"{spec.treatment} was randomly assigned: treated and control groups are exchangeable, "
            f"so the difference in mean outcomes{extra} is the effect",
            covariates,
            (Method.AIPW,) if covariates and binary else (),
        )

    if analysis is not None and graph_set is not None:
        if missing:
            raise NotIdentifiable(
                f"the graph needs adjustment for {missing}, which the data lacks; analyse the graph "
                "with the data's columns so these count as unobserved",
                subject=subject,
            )
        warnings = _covariate_warnings(analysis, covariates)
        return _backdoor(spec, graph_set, binary, backdoor, analysis, warnings)

    if analysis is not None:
        usable = [
            i
            for i in analysis.instruments
            if analysis.column(i.name) in frame.columns
            and all(analysis.column(w) in frame.columns for w in i.conditioning_set)
        ]
        if usable:
            chosen = usable[0]
            conditioning = tuple(analysis.column(w) for w in chosen.conditioning_set)
            return _strategy(
                Method.IV,
                f"{analysis.reason} Using {analysis.column(chosen.name)} as the instrument"
                + (f" given {list(conditioning)}" if conditioning else "")
                + ": it moves the treatment and, per the graph, reaches the outcome only through it",
                conditioning,
                (),
                instruments=(analysis.column(chosen.name),),
            )
        frontdoor = ""
        if analysis.frontdoor_set is not None:
            frontdoor = (
                " The service has no frontdoor estimator yet: measure the confounder (or a proxy"
                " column for it) or supply an instrument."
            )
        raise NotIdentifiable(analysis.reason + frontdoor, subject=subject)

    if covariates:
        return _backdoor(spec, covariates, binary, backdoor, None, ())
    raise NotIdentifiable(
        f"no experiment, panel, cutoff, instrument, graph or covariates: nothing rules out that "
        f"{spec.treatment} and {spec.outcome} merely share causes. Declare the experiment, give a "
        "causal graph, or name the confounders to adjust for.",
        subject=subject,
    )


# -- designs -----------------------------------------------------------------------------------


def _panel(
    frame: pd.DataFrame, spec: EffectSpec, randomised: bool, alpha: float, subject: str
) -> Strategy:
    assert spec.unit is not None and spec.time is not None
    d = frame[[spec.unit, spec.time, spec.treatment]]
    treated = d[d[spec.treatment] == 1]
    adoption = treated.groupby(spec.unit)[spec.time].min()
    n_units = d[spec.unit].nunique()
    n_treated = len(adoption)
    n_never = n_units - n_treated
    covariates = tuple(spec.covariates)
    if n_treated == 0:
        raise NotIdentifiable(f"no unit is ever treated in {spec.treatment!r}", subject=subject)
    times = pd.Series(d[spec.time].unique()).sort_values()
    n_pre = int((times < adoption.min()).sum())
    if n_pre == 0:
        raise NotIdentifiable(
            "every treated unit is treated from the first period: there is no pre-treatment "
            "period to compare trends against",
            subject=subject,
        )
    cohorts = adoption.nunique()
    lead = "assignment was randomised, so parallel trends hold by design; " if randomised else ""
    warnings = _absorbing_warning(d, spec, adoption)

    if n_treated == 1:
        # Synthetic control's placebo p-value is a rank among n_never + 1 units: below
        # 1/alpha - 1 donors it can never fall under alpha and its interval is unbounded, so
        # SDID (variance from placebo re-assignments of the controls) is preferred when it fits.
        sc_can_reject = 1 / (n_never + 1) <= alpha
        if not sc_can_reject and n_never >= MIN_SC_DONORS and n_pre >= MIN_SDID_PRE_PERIODS:
            return _strategy(
                Method.SDID,
                f"{lead}one treated unit ({adoption.index[0]}) with {n_never} untreated units: "
                f"synthetic control's placebo p-value cannot fall below {1 / (n_never + 1):.3f} "
                f"> alpha = {alpha:g} with so few donors, so synthetic DiD weights the controls "
                "and pre-periods and takes its variance from placebo re-assignments",
                covariates,
                (Method.SYNTHETIC_CONTROL, Method.DID),
                warnings=warnings,
            )
        if n_never >= MIN_SC_DONORS and n_pre >= MIN_SC_PRE_PERIODS:
            return _strategy(
                Method.SYNTHETIC_CONTROL,
                f"{lead}one treated unit ({adoption.index[0]}) with {n_never} untreated donors and "
                f"{n_pre} pre-periods: a weighted donor mix can reproduce its untreated path",
                covariates,
                (Method.DID,),
                warnings=warnings,
            )
        if n_never == 0:
            raise NotIdentifiable("the only unit is treated: no comparison unit", subject=subject)
        return _strategy(
            Method.DID,
            f"{lead}one treated unit against {n_never} untreated units over {n_pre} pre-periods",
            covariates,
            (),
            warnings=(
                *warnings,
                f"synthetic control needs ≥{MIN_SC_DONORS} donors and ≥{MIN_SC_PRE_PERIODS} "
                f"pre-periods (have {n_never} and {n_pre}); DiD inference with one treated unit "
                "rests on that unit alone",
            ),
        )
    if cohorts > 1:
        comparison = f"{n_never} never-treated unit(s)" if n_never else "not-yet-treated units"
        return _strategy(
            Method.STAGGERED_DID,
            f"{lead}{n_treated} treated units adopt at {cohorts} different times: each adoption "
            f"cohort is compared with {comparison} (two-way fixed effects would mix them)",
            covariates,
            (Method.EVENT_STUDY,),
            warnings=warnings,
        )
    if n_never == 0:
        raise NotIdentifiable(
            "every unit is treated at the same time: no untreated comparison group", subject=subject
        )
    shape = (
        f"{n_treated} units treated together against {n_never} untreated units, {n_pre} pre-periods"
    )
    if randomised and n_never >= 2 and not warnings:
        return _strategy(
            Method.DIFFERENCE_IN_MEANS,
            f"assignment was randomised ({shape}): each unit's mean over the treatment window is "
            "compared between arms, adjusted by its pre-period mean (CUPED/ANCOVA), which is "
            "unbiased by design and more precise than differencing when outcomes are only "
            "partly persistent",
            covariates,
            (Method.SDID, Method.DID),
        )
    few = n_units < FEW_UNITS or n_treated < FEW_TREATED_UNITS
    if few and n_never >= 2 and n_pre >= MIN_SDID_PRE_PERIODS:
        return _strategy(
            Method.SDID,
            f"{lead}{shape}: with {n_units} units ({n_treated} treated) cluster-robust DiD "
            "inference is unreliable; synthetic DiD weights the controls and pre-periods to "
            "match the treated units and takes its variance from the units themselves",
            covariates,
            (Method.DID, Method.EVENT_STUDY),
            warnings=warnings,
        )
    return _strategy(
        Method.DID,
        f"{lead}{shape}",
        covariates,
        ((Method.EVENT_STUDY,) if n_pre >= 2 else ()) + ((Method.SDID,) if n_never >= 2 else ()),
        warnings=warnings,
    )


def _single_series(frame: pd.DataFrame, spec: EffectSpec, subject: str) -> Strategy:
    assert spec.time is not None
    per_time = frame.groupby(spec.time)[spec.treatment].first().sort_index()
    if per_time.nunique() < 2:
        raise NotIdentifiable(f"{spec.treatment!r} never changes over time", subject=subject)
    if not spec.covariates:
        raise NotIdentifiable(
            "one time series with an intervention but no control series: the counterfactual "
            "would be pure extrapolation. Add control series (e.g. unaffected markets) as covariates.",
            subject=subject,
        )
    n_pre = int((per_time.cumsum() == 0).sum())
    return _strategy(
        Method.BSTS,
        f"one treated time series with {len(spec.covariates)} control series and {n_pre} "
        "pre-periods: the controls forecast the untreated path after the intervention",
        tuple(spec.covariates),
        (),
    )


def _backdoor(
    spec: EffectSpec,
    adjustment: tuple[str, ...],
    binary: bool,
    preferred: Method | None,
    analysis: GraphAnalysis | None,
    warnings: tuple[str, ...],
) -> Strategy:
    method = _backdoor_method(preferred, binary, adjustment)
    if METHODS[method].binary_only and not binary:
        raise InvalidSpec(
            f"{method.value} needs a 0/1 treatment; {spec.treatment!r} is not", field="method"
        )
    if analysis is not None:
        source = f"per the causal graph, {{{', '.join(adjustment)}}} blocks every backdoor path"
        if not analysis.minimal_adjustment_set:
            source = "per the causal graph, no backdoor path connects treatment and outcome"
            if adjustment:
                source += f"; {{{', '.join(adjustment)}}} are adjusted for precision"
    else:
        source = (
            f"assuming the given covariates {list(adjustment)} block every backdoor path "
            "(no causal graph was given to check this)"
        )
    why = {
        Method.DIFFERENCE_IN_MEANS: "nothing to adjust for, so the groups compare directly",
        Method.NAIVE_REGRESSION: "a regression of the outcome on the treatment suffices",
        Method.DML: "double ML handles a continuous treatment and many covariates",
        Method.AIPW: "AIPW is doubly robust to one misspecified nuisance model",
        Method.IPW: "as requested",
        Method.MATCHING: "as requested",
    }[method]
    if method is Method.DML and binary:
        why = f"double ML handles {len(adjustment)} covariates flexibly"
    alternatives = [m for m in (Method.AIPW, Method.DML, Method.MATCHING) if m is not method]
    if not binary:
        alternatives = [m for m in alternatives if not METHODS[m].binary_only]
    if analysis is not None and analysis.instruments:
        alternatives.append(Method.IV)
    return _strategy(
        method,
        f"backdoor adjustment: {source}; {why}",
        adjustment,
        tuple(alternatives),
        warnings=warnings,
    )


def _backdoor_method(preferred: Method | None, binary: bool, adjustment: tuple[str, ...]) -> Method:
    if preferred is not None:
        return preferred
    if not adjustment:
        return Method.DIFFERENCE_IN_MEANS if binary else Method.NAIVE_REGRESSION
    if not binary or len(adjustment) > MANY_COVARIATES:
        return Method.DML
    return Method.AIPW


def _strategy(
    method: Method,
    reason: str,
    adjustment: tuple[str, ...],
    alternatives: tuple[Method, ...],
    *,
    instruments: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
) -> Strategy:
    return Strategy(
        method=method,
        reason=reason[0].upper() + reason[1:] + ("" if reason.endswith(".") else "."),
        assumptions=method_info(method).assumptions,
        adjustment_set=adjustment,
        alternatives=alternatives,
        instruments=instruments,
        warnings=warnings,
    )


# -- helpers -----------------------------------------------------------------------------------


def _is_binary(series: pd.Series) -> bool:
    values = pd.unique(series.dropna())
    return len(values) <= 2 and all(v in (0, 1) for v in values)


def _constant_within(frame: pd.DataFrame, by: str, column: str) -> bool:
    return bool((frame.groupby(by)[column].nunique(dropna=False) <= 1).all())


def _absorbing_warning(d: pd.DataFrame, spec: EffectSpec, adoption: pd.Series) -> tuple[str, ...]:
    assert spec.unit is not None and spec.time is not None
    start = d[spec.unit].map(adoption)
    after = d[start.notna() & (d[spec.time] >= start)]
    if (after[spec.treatment] != 1).any():
        units = sorted(after.loc[after[spec.treatment] != 1, spec.unit].unique().tolist())[:5]
        return (
            f"treatment switches off again for units {units}: DiD estimators here assume it stays "
            "on once started",
        )
    return ()


def _covariate_warnings(analysis: GraphAnalysis, covariates: tuple[str, ...]) -> tuple[str, ...]:
    mediators = {analysis.column(m): m for m in analysis.mediators}
    dropped = [c for c in covariates if c in mediators]
    if not dropped:
        return ()
    return (
        f"covariates {dropped} lie on the causal path from treatment to outcome; adjusting for "
        "them would remove part of the effect, so the graph's adjustment set is used instead",
    )


def _instrument_warnings(
    analysis: GraphAnalysis | None, instruments: tuple[str, ...]
) -> tuple[str, ...]:
    if analysis is None:
        return ()
    valid = {analysis.column(i.name) for i in analysis.instruments}
    doubtful = [z for z in instruments if z not in valid]
    if not doubtful:
        return ()
    return (
        f"the causal graph does not support {doubtful} as instruments: it shows a path to the "
        "outcome that does not pass through the treatment, or no effect on the treatment",
    )
