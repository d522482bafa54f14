"""The effect-estimate report: verdict, estimate beside the naive comparison, every check with
its verdict and sentence, the method's own plots, identification, and the numbers behind it."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from matplotlib.figure import Figure

from mesh.report import _data
from mesh.report import _effect_plots as plots
from mesh.report._format import enum_name, esc, estimand_words, num, prose, pvalue
from mesh.report._page import Section, figure, table
from mesh.report._svg import to_svg

_OUTCOME_CLASS = {
    causal_pb.CHECK_OUTCOME_PASSED: ("passed", "✓ passed"),
    causal_pb.CHECK_OUTCOME_FAILED: ("failed", "✗ failed"),
    causal_pb.CHECK_OUTCOME_WARNING: ("warning", "! warning"),
    causal_pb.CHECK_OUTCOME_SKIPPED: ("skipped", "– skipped"),
    causal_pb.CHECK_OUTCOME_UNSPECIFIED: ("skipped", "? unknown"),
}


def method_name(e: causal_pb.EffectEstimate) -> str:
    return enum_name(causal_pb.EstimationMethod.Name(e.method), "ESTIMATION_METHOD_")


def estimand_name(analysis: causal_pb.Analysis) -> str:
    """The estimand per observation, in the words of the demo, the estimate CLI and the
    explanation ("average treatment effect (ATE) per geo-day"; R10-F14)."""
    roles = analysis.request.roles
    name = causal_pb.Estimand.Name(analysis.estimate.estimand).removeprefix("ESTIMAND_")
    return estimand_words(name.replace("UNSPECIFIED", ""), roles.unit, roles.time)


def effect_title(
    analysis: causal_pb.Analysis, experiment: md_pb.CausalExperiment | None = None
) -> str:
    """What the page is about: the registered experiment its records came from, where they did
    ("treated_post", the column such records carry, told the reader nothing: R22-F6) — by its
    name, id, channel and window when the registry's ``experiment`` is given, else by id; else
    the treatment column."""
    e = analysis.estimate
    outcome = e.outcome or "the outcome"
    experiment_id = analysis.request.records.experiment_id
    if experiment is not None and experiment.experiment_id == experiment_id:
        facts = [experiment_id, experiment.channel]
        if experiment.start_date.year and experiment.end_date.year:
            a, b = experiment.start_date, experiment.end_date
            facts.append(
                f"{a.year:04d}-{a.month:02d}-{a.day:02d}..{b.year:04d}-{b.month:02d}-{b.day:02d}"
            )
        said = ", ".join(f for f in facts if f)
        return f"{experiment.name or 'Experiment'} ({said}): effect on {outcome}"
    if experiment_id:
        return f"Experiment {experiment_id}: effect on {outcome}"
    return f"Effect of {e.treatment or 'the treatment'} on {outcome}"


def _naive_rows(e: causal_pb.EffectEstimate) -> str:
    """Which rows the naive comparison ran on, where they are not the estimate's: it regresses
    the outcome on the treatment over every input row, which for a geo test includes the
    pre-period (R20-F9: "on the same rows" beside 1,680 geo-days against an estimate of 20)."""
    n = e.naive_estimate.n
    if not n or not e.n or n == e.n:
        return " on the same rows"
    return (f": the outcome regressed on the treatment alone over all {n:,} input rows, not the "
            f"estimate's {e.n:,} observations, so it may compare periods as well as arms")  # fmt: skip


def _short(e: causal_pb.EffectEstimate) -> str:
    """The estimand's abbreviation ("ATE"), as the words above end: a figure's tick label has
    no room for the whole phrase."""
    return causal_pb.Estimand.Name(e.estimand).removeprefix("ESTIMAND_").replace("UNSPECIFIED", "")


class Figures:
    """Renders figures with page-unique ids and keeps their anchors for citations."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._count = 0
        self.anchors: dict[str, str] = {}  # figure kind → element id

    def add(
        self, kind: str, build: Callable[[], Figure], title: str, caption: str, data: str = ""
    ) -> str:
        """The figure's block; ``data``: a table of the numbers it draws (see _alt)."""
        self._count += 1
        fig_id = f"{self._prefix}{self._count}"
        svg = to_svg(build(), f"{fig_id}s", title=title)
        self.anchors.setdefault(kind, fig_id)
        return figure(fig_id, kind, svg, f"<strong>{esc(title)}.</strong> {caption}", data)


def verdict(e: causal_pb.EffectEstimate) -> tuple[str, str]:
    """(css class, headline) of the estimate: supported, not supported, or no detectable effect."""
    if not e.supported:
        # Not supported means a failed check or an interval that bounds nothing (the service
        # refuses "supported" beside [-inf, inf]); name whichever applies.
        failed = [c.name for c in e.checks if c.outcome == causal_pb.CHECK_OUTCOME_FAILED]
        why = ["failed " + ", ".join(failed)] if failed else []
        if math.isinf(e.ci_lower) or math.isinf(e.ci_upper):
            why.append("the interval is unbounded")
        elif math.isnan(e.ci_lower) or math.isnan(e.ci_upper):
            why.append("the interval is undefined")
        return "unsupported", "Not supported" + (": " + "; ".join(why) if why else "")
    if e.ci_lower <= 0 <= e.ci_upper:
        return "null", "No detectable effect: the interval includes zero"
    return "supported", "Supported by its checks"


def effect_sections(
    analysis: causal_pb.Analysis, figs: Figures,
    experiment: md_pb.CausalExperiment | None = None,
) -> list[Section]:  # fmt: skip
    e = analysis.estimate
    outcome = e.outcome or "outcome"
    method = method_name(e)
    level = round((1 - (e.alpha or 0.05)) * 100)
    cls, headline = verdict(e)
    summary = (
        f'<div class="verdict {cls}" id="verdict"><strong>{esc(headline)}</strong>'
        f"<p>{prose(e.summary)}</p></div>"
    )
    cells = [
        ("Estimate", num(e.point_estimate), "fact-point_estimate"),
        (f"{level}% interval", f"{num(e.ci_lower)} to {num(e.ci_upper)}", "fact-interval"),
        ("p-value", pvalue(e.p_value), "fact-p_value"),
        (
            "Observations",
            f"{e.n:,}" + (f" ({e.n_treated:,} treated)" if e.n_treated else ""),
            "fact-n",
        ),
    ]
    numbers = (
        '<div class="headline">'
        + "".join(
            f'<div id="{a}"><span class="label">{esc(k)}</span><span class="value">{esc(v)}</span></div>'
            for k, v, a in cells
        )
        + "</div>"
    )
    naive_text = ""
    if e.HasField("naive_estimate"):
        n = e.naive_estimate
        naive_text = (
            f"The naive comparison ({prose(n.name)}) says {num(n.estimate)} "
            f"({level}% interval {num(n.ci_lower)} to {num(n.ci_upper)}): what a correlation "
            f"would have claimed, {_ratio(e.point_estimate, n.estimate)}."
        )
    head_fig = figs.add(
        "estimate",
        lambda: plots.estimate_vs_naive(e, outcome, ", ".join(filter(None, (method, _short(e))))),
        effect_title(analysis, experiment),
        f"The causal estimate (filled) with its {level}% interval"
        + (
            f" beside the naive comparison (hollow){esc(_naive_rows(e))}. " + naive_text
            if naive_text
            else "; no naive comparison was computed for this analysis."
        ),
    )
    sections = [
        Section("summary", "", summary + numbers + head_fig),
        Section("checks", "Checks", _checks(e)),
    ]
    method_figs = _method_figures(analysis, figs)
    if method_figs:
        sections.append(Section("diagnostics", f"Diagnostics: {method}", method_figs))
    sections.append(Section("identification", "Identification", _identification(e)))
    if e.warnings:
        items = "".join(f"<li>{prose(w)}</li>" for w in e.warnings)
        sections.append(Section("warnings", "Warnings", f'<ul class="plain">{items}</ul>'))
    sections.append(Section("numbers", "The numbers", _numbers(e, estimand_name(analysis))))
    return sections


def _ratio(causal: float, naive: float) -> str:
    if causal == 0 or not math.isfinite(causal) or not math.isfinite(naive):
        return "not comparable"
    r = naive / causal
    if abs(r - 1) < 0.05:
        return "close to the causal estimate"
    return f"{abs(r):.1f}× the causal estimate" + (" with the opposite sign" if r < 0 else "")


def _checks(e: causal_pb.EffectEstimate) -> str:
    if not e.checks:
        return '<p class="note">No checks were run for this analysis.</p>'
    rows = []
    for i, c in enumerate(e.checks):
        klass, label = _OUTCOME_CLASS.get(c.outcome, ("skipped", "?"))
        kind = enum_name(causal_pb.CheckKind.Name(c.kind), "CHECK_KIND_")
        rows.append([
            f'<span class="badge {klass}">{esc(label)}</span>',
            f'<span id="check-{i}">{esc(c.name)}</span><br><span class="note">{esc(kind)}</span>',
            esc(c.interpretation),
            num(c.statistic) if c.HasField("statistic") else "–",
            pvalue(c.p_value) if c.HasField("p_value") else "–",
            num(c.new_effect) if c.HasField("new_effect") else "–",
        ])  # fmt: skip
    return table(
        [("Verdict", False), ("Check", False), ("What it means", False), ("Statistic", True),
         ("p", True), ("Re-estimate", True)],
        rows, cls="checks",
    )  # fmt: skip


def _identification(e: causal_pb.EffectEstimate) -> str:
    s = e.strategy
    kind = enum_name(causal_pb.IdentificationKind.Name(s.kind), "IDENTIFICATION_KIND_")
    out = f"<p><strong>Strategy:</strong> {prose(kind)}. {prose(s.reason)}</p>"
    if s.adjustment_set:
        out += f"<p><strong>Adjusted for:</strong> {prose(', '.join(s.adjustment_set))}</p>"
    if s.assumptions:
        out += (
            '<h3>Assumptions</h3><ul class="plain">'
            + "".join(f"<li>{prose(a)}</li>" for a in s.assumptions)
            + "</ul>"
        )
    return out


def _numbers(e: causal_pb.EffectEstimate, estimand: str) -> str:
    out = table(
        [("Quantity", False), ("Value", True)],
        [
            ["Method", esc(method_name(e))], ["Estimand", esc(estimand)],
            ["Point estimate", num(e.point_estimate)], ["Standard error", num(e.std_error)],
            ["Interval", f"{num(e.ci_lower)} to {num(e.ci_upper)}"], ["p-value", pvalue(e.p_value)],
            ["n / treated / control", f"{e.n:,} / {e.n_treated:,} / {e.n_control:,}"],
        ],
    )  # fmt: skip
    if e.coefficients:
        shown = list(e.coefficients)[:60]
        out += "<h3>Coefficients</h3>" + table(
            [("Term", False), ("Estimate", True), ("SE", True), ("Interval", True), ("p", True)],
            [[esc(c.name), num(c.estimate), num(c.std_error), f"{num(c.ci_lower)} to {num(c.ci_upper)}", pvalue(c.p_value)] for c in shown],
        )  # fmt: skip
        if len(e.coefficients) > len(shown):
            out += (
                f'<p class="note">{len(e.coefficients) - len(shown)} more rows in the analysis.</p>'
            )
    if e.statistics:
        out += "<h3>Diagnostics</h3>" + table(
            [("Statistic", False), ("Value", True)],
            [[esc(k), num(v)] for k, v in sorted(e.statistics.items())],
        )
    return out


def _method_figures(analysis: causal_pb.Analysis, figs: Figures) -> str:
    e = analysis.estimate
    outcome = e.outcome or "outcome"
    parts: list[str] = []
    get = lambda name: _data.series(e, name)  # noqa: E731
    start = _data.statistic(e, "n_pre_periods")

    es = get("event_study") or get("event_time")
    if es is not None and len(es.values):
        parts.append(figs.add(
            "event-study", lambda: plots.event_study(es, outcome),
            "Event study",
            "Effect by period relative to the first treated period, with intervals. Leads (shaded) "
            "should sit at zero if treated and comparison units moved in parallel before treatment.",
        ))  # fmt: skip

    mean_treated, mean_control = get("mean:treated"), get("mean:control")
    if mean_treated is not None and mean_control is not None:
        parts.append(figs.add(
            "group-trends",
            lambda: plots.group_trends(
                mean_treated, mean_control, int(start) if start is not None else None, outcome
            ),
            "Treated and comparison groups over time",
            "Mean outcome per period. Before treatment starts the lines should move in parallel "
            "(a level gap is fine, a diverging trend is not); afterwards the change in the gap "
            "is what the estimate measures.",
        ))  # fmt: skip

    treated, synthetic = get("treated"), get("synthetic")
    if treated is not None and synthetic is not None:
        sc = e.method == causal_pb.ESTIMATION_METHOD_SYNTHETIC_CONTROL
        placebos = _data.series_with_prefix(e, "placebo_gap:")
        gap = get("gap") if sc else get("effect")
        parts.append(figs.add(
            "synthetic-control" if sc else "sdid-trajectories",
            lambda: plots.trajectories(
                treated, synthetic, gap, placebos, int(start) if start is not None else None,
                outcome, "synthetic control" if sc else "synthetic comparison",
            ),
            "Treated vs synthetic control" if sc else "Treated vs synthetic comparison",
            "Top: the treated unit and its weighted combination of donors. Bottom: the gap, with "
            "every donor's own gap when it is treated as a placebo (grey) and the permutation "
            "interval (band); an effect stands out when the treated gap leaves the placebo band."
            if sc else
            "Top: treated units' mean and the weighted comparison (unit and time weights, shifted "
            "to the pre-period level). Bottom: their difference.",
        ))  # fmt: skip

    observed, cf = get("observed"), get("counterfactual")
    pointwise, cumulative = get("pointwise_effect"), get("cumulative_effect")
    if observed and cf and pointwise and cumulative:
        one_step = get("one_step_prediction")
        parts.append(figs.add(
            "bsts-impact",
            lambda: plots.impact(observed, cf, pointwise, cumulative, one_step, outcome),
            "Observed vs counterfactual",
            "Top: the observed series and the model's prediction of it without the intervention "
            "(band: prediction interval). Middle: pointwise effect. Bottom: cumulative effect.",
        ))  # fmt: skip

    bins = [s for s in (get("bins:below"), get("bins:above")) if s is not None]
    if bins:
        fits = [s for s in (get("fit:below"), get("fit:above")) if s is not None]
        cutoff = _data.statistic(e, "cutoff") or 0.0
        h = _data.statistic(e, "bandwidth_h_left")
        running = analysis.request.roles.running_variable or "running variable"
        parts.append(figs.add(
            "rdd", lambda: plots.rdd(bins, fits, cutoff, h, running, outcome),
            "Regression discontinuity",
            "Mean outcome in evenly spaced bins of the running variable (bars: intervals of the "
            "bin means) and the local polynomial fits inside the bandwidth; the jump at the "
            "cutoff is the estimate.",
        ))  # fmt: skip

    treated_ps, control_ps = get("propensity:treated"), get("propensity:control")
    if treated_ps is not None and control_ps is not None:
        parts.append(figs.add(
            "overlap", lambda: plots.overlap(treated_ps, control_ps),
            "Propensity-score overlap",
            "Where one arm has units and the other none, there is no one to compare with: the "
            "estimate there rests on extrapolation.",
        ))  # fmt: skip

    if e.balance:
        parts.append(figs.add(
            "love-plot", lambda: plots.love_plot(e.balance),
            "Covariate balance before and after adjustment",
            "Absolute standardised mean difference of each covariate between treated and "
            "control; below 0.1 (dashed) counts as balanced (Austin 2009).",
        ))  # fmt: skip

    if not parts and e.coefficients:
        rows = [c for c in e.coefficients if c.name != "const"]
        parts.append(figs.add(
            "coefficients", lambda: plots.forest(rows, f"Estimate ({outcome} units)"),
            "Coefficients",
            f"Each term's estimate with its interval (first {plots.MAX_FOREST_ROWS} rows).",
        ))  # fmt: skip

    for ws in e.weights:
        if ws.name in ("donor", "unit") or ws.name.startswith("unit:"):
            parts.append(figs.add(
                "weights", functools.partial(plots.weights, ws, "Weight in the synthetic comparison"),
                f"Largest {ws.name} weights",
                "The comparison units the counterfactual is built from, and how much each counts.",
            ))  # fmt: skip
    return "".join(parts)
