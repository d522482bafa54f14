"""Attribution and planning sections: the model's health first, contributions beside the
platforms' claims, returns, response curves; then the budget shift, forecast, experiment design
and recommendations when the surfacing service's answers are given."""

from __future__ import annotations

import datetime as dt
import functools
import math

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.report import _alt as alt
from mesh.report import _plan_plots as plots
from mesh.report import _series_plots as series_plots
from mesh.report._format import enum_name, esc, interval_cell, interval_text, num, prose
from mesh.report._page import Section, table
from mesh.report._recommendations import recommendations_table
from mesh.report._warnings import channel_warnings, names_channel, warned_line, warning_mark
from mesh.report.effect import Figures

__all__ = [
    "attribution_sections", "channel_warnings", "currency", "names_channel", "outcome_name",
    "surfacing_sections", "warning_mark",
]  # fmt: skip


def outcome_name(result: causal_pb.AttributionResult) -> str:
    metric = result.outcome or result.model.model_config.outcome
    if metric == common_pb.OUTCOME_METRIC_UNSPECIFIED:
        return "outcome"
    return enum_name(common_pb.OutcomeMetric.Name(metric), "OUTCOME_METRIC_")


def currency(result: causal_pb.AttributionResult) -> str:
    return next((c.spend.currency_code for c in result.channels if c.spend.currency_code), "")


def _outcome_label(result: causal_pb.AttributionResult) -> str:
    name, cur = outcome_name(result), currency(result)
    return f"Incremental {name} ({cur})" if name == "revenue" and cur else f"Incremental {name}"


def _level_label(result: causal_pb.AttributionResult) -> str:
    """The outcome's own axis label: "Revenue (USD)", "Conversions"."""
    name, cur = outcome_name(result), currency(result)
    return f"{name.capitalize()} ({cur})" if name == "revenue" and cur else name.capitalize()


def _holdout_caption(result: causal_pb.AttributionResult) -> str:
    h = result.health
    days = sum(result.daily.holdout)
    if not days:
        return ""
    text = (
        f" Shaded: the last {days} days, which the health check held out. The line there is "
        "still the model fitted on every day; the holdout fit, refitted without those days, "
        "predicted them"
    )
    if h.holdout_r_squared or h.holdout_mape:
        text += f" with R² {num(h.holdout_r_squared)} and MAPE {h.holdout_mape:.1%}"
    return esc(text + ".")


def _decomposition_note(daily: causal_pb.DailyDecomposition) -> str:
    if not daily.decomposition:
        return ""
    return f"How: {daily.decomposition}."


def _roas_caption(revenue: bool, cur: str, value_per_outcome: float) -> str:
    """What the return chart shows and what its dashed line means. A conversions analysis has
    no break-even without a value per conversion (R22-F3: "below the dashed line a unit of
    spend returns less than it costs" under every channel of a conversions report)."""
    line = plots.break_even(revenue, value_per_outcome)
    per = cur or "unit"
    if revenue:
        text = ("Average incremental return (filled) and the return of the next unit of spend "
                "(hollow); below the dashed line a unit of spend returns less than it costs")  # fmt: skip
        if line is not None and value_per_outcome > 0 and value_per_outcome != 1:
            text += f" (a unit of revenue counted as worth {value_per_outcome:g})"
        return esc(text + ".")
    text = (f"Incremental conversions per {per} of spend, on average (filled) and for the next "
            f"unit of spend (hollow)")  # fmt: skip
    if line is None:
        return esc(text + ": conversions, not money. Whether a channel pays for itself needs "
                   "the value of one conversion (liftos report --value-per-outcome), which this "
                   "report was not given, so no break-even is drawn.")  # fmt: skip
    return esc(f"{text}. With one conversion worth {value_per_outcome:g} {per}, a unit of spend "
               f"pays for itself at {line:.3g} conversions per {per} (dashed): below it, it buys "
               "conversions worth less than it costs.")  # fmt: skip


# The most channels one chart draws, by spend: past it a chart ran longer than a printed page
# and split without its axis (R22-F9, 37 channels); the tables list every channel.
MAX_CHART_CHANNELS = 20


def _undrawn(names: list[str], where: str = "the table below") -> str:
    """The caption's sentence on the channels a chart leaves out (the smallest by spend), and
    ``where`` their figures are."""
    if not names:
        return ""
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return prose(f" The {MAX_CHART_CHANNELS} channels with the most spend are drawn; the other "
                 f"{len(names)} ({shown}) are in {where}.")  # fmt: skip


def attribution_sections(
    analysis: causal_pb.Analysis, figs: Figures,
    budget: surfacing_pb.OptimizeBudgetResponse | None = None, *, value_per_outcome: float = 0.0,
) -> list[Section]:  # fmt: skip
    """``value_per_outcome``: what one unit of the outcome is worth in the spend's currency,
    where the reader gave it (0: not given); it places a conversions analysis's break-even."""
    result = analysis.attribution
    revenue = outcome_name(result) != "conversions"
    cur = currency(result)
    label = _outcome_label(result)
    by_spend = sorted(result.channels, key=lambda c: -c.spend.amount)
    daily = result.daily if len(result.daily.dates) else None
    health = _health(result)
    if daily is not None and len(daily.predicted_outcome) == len(daily.dates):
        health += figs.add(
            "model-fit", functools.partial(series_plots.model_fit, daily, _level_label(result)),
            "Model fit over time",
            "The observed outcome per day beside the model's in-sample prediction, and the "
            "error as a share of the observed (bottom)." + _holdout_caption(result),
        )  # fmt: skip
    sections = [Section("health", "Model health", health)]
    drawn, rest = (
        by_spend[:MAX_CHART_CHANNELS],
        _undrawn([c.channel for c in by_spend[MAX_CHART_CHANNELS:]]),
    )
    if by_spend:
        body = figs.add(
            "contributions",
            functools.partial(plots.contributions, drawn, label),
            "Causal vs naive vs platform-reported contribution",
            "What each channel caused (with its interval) beside what a naive regression of the "
            "outcome on same-day spend and the platform itself credit it with, channels by "
            "spend. Credit past the causal bar is for outcomes that would have happened anyway."
            + rest,
        )
        if any(c.HasField("incremental_roas") for c in by_spend):
            body += figs.add(
                "roas",
                functools.partial(plots.roas, drawn, cur, revenue=revenue,
                                  value_per_outcome=value_per_outcome),
                "Return on spend" if revenue else "Conversions per unit of spend",
                _roas_caption(revenue, cur, value_per_outcome) + rest,
            )  # fmt: skip
        body += (_window_line(result)
                 + _channel_table(by_spend, cur, channel_warnings(result), revenue=revenue)
                 + _MROAS_NOTE)  # fmt: skip
        sections.append(Section("channels", "Contribution by channel", body))
    if daily is not None and daily.channels and len(daily.baseline_outcome) == len(daily.dates):
        sections.append(Section("decomposition", "Baseline and media over time", figs.add(
            "decomposition",
            functools.partial(series_plots.decomposition, daily, _level_label(result)),
            "Baseline vs media over time",
            "The model's prediction split into the baseline (every channel off) and what each "
            f"channel added, stacked; the line is the observed outcome. The "
            f"{series_plots.NAMED_LAYERS} channels that added most are named, the rest stacked "
            "as one layer. " + esc(_decomposition_note(daily)),
        )))  # fmt: skip
    if result.response_curves:
        current = {c.channel: c.spend.amount for c in result.channels}
        optimal = {a.channel: a.optimal_spend for a in budget.allocations} if budget else {}
        curves = sorted(result.response_curves, key=lambda c: -current.get(c.channel, 0.0))
        curve_rest = _undrawn(
            [c.channel for c in curves[MAX_CHART_CHANNELS:]], "the numbers below the chart"
        )
        sections.append(Section("curves", "Response curves", figs.add(
            "response-curves",
            functools.partial(plots.response_curves, curves[:MAX_CHART_CHANNELS], current,
                              optimal, cur, label),
            "Response curves",
            "Expected incremental outcome at each spend level with its interval; the solid line "
            "is the spend as run" + (", the dashed one the recommended spend." if optimal else ".")
            + curve_rest,
            alt.response_curves(curves, current, optimal, cur),
        )))  # fmt: skip
    if any(len(m.carryover) for m in result.response_models):
        order = {c.channel: i for i, c in enumerate(by_spend)}
        models = sorted(result.response_models, key=lambda m: order.get(m.channel, len(order)))
        carried = [m for m in models if len(m.carryover)]
        sections.append(Section("adstock", "Carry-over", figs.add(
            "adstock", functools.partial(plots.adstock, carried[:MAX_CHART_CHANNELS]),
            "Adstock decay",
            "How a day's spend keeps working: each channel's effect spread over the following "
            "days (darker: more of the effect)."
            + _undrawn([m.channel for m in carried[MAX_CHART_CHANNELS:]], "the numbers below the chart"),
            alt.adstock(models),
        )))  # fmt: skip
    if result.calibration:
        sections.append(Section("calibration", "Lift tests", _calibration(result)))
    if result.HasField("identification") or result.confounders:
        sections.append(
            Section("identification", "Identification and data", _identification(result))
        )
    return sections


_VERDICTS = {
    causal_pb.HEALTH_VERDICT_PASS: ("supported", "passed", "✓ pass", "Healthy: every check passed"),
    causal_pb.HEALTH_VERDICT_REVIEW: ("null", "warning", "! review", "Review: usable, with caveats to read first"),
    causal_pb.HEALTH_VERDICT_FAIL: ("unsupported", "failed", "✗ fail", "Failed: the model is not usable, so no ROI is shown"),
}  # fmt: skip


def _health(result: causal_pb.AttributionResult) -> str:
    h = result.health
    out = ""
    if h.verdict in _VERDICTS:
        cls, _, _, headline = _VERDICTS[h.verdict]
        out += f'<div class="verdict {cls}" id="verdict"><strong>{esc(headline)}</strong>'
        if h.unidentified_channels:
            out += (
                "<p>Not identified by the data (their intervals are the prior's): "
                f"{prose(', '.join(h.unidentified_channels))}.</p>"
            )
        out += warned_line(channel_warnings(result)) + "</div>"
        if h.checks:
            out += table(
                [("Verdict", False), ("Check", False), ("What it found", False), ("Value", True),
                 ("Threshold", True)],
                [
                    [f'<span class="badge {_VERDICTS.get(c.verdict, _VERDICTS[causal_pb.HEALTH_VERDICT_REVIEW])[1]}">'
                     f"{esc(_VERDICTS.get(c.verdict, _VERDICTS[causal_pb.HEALTH_VERDICT_REVIEW])[2])}</span>",
                     f'<span id="health-{esc(c.name)}">{esc(c.name)}</span>', esc(c.message),
                     num(c.value) if c.HasField("value") else "–",
                     num(c.threshold) if c.HasField("threshold") else "–"]
                    for c in h.checks
                ],
                cls="checks",
            )  # fmt: skip
    m = result.model.validation_metrics
    rows = [
        (name, value)
        for name, value in (
            ("Holdout R²", h.holdout_r_squared or m.holdout_r_squared),
            ("Holdout MAPE", h.holdout_mape or m.holdout_mape),
            ("Holdout NRMSE", h.holdout_nrmse or m.nrmse),
            ("In-sample R² (beyond geo and day effects)", h.in_sample_r_squared or m.r_squared),
        )
        if value
    ]  # fmt: skip
    # Calibration figures exist only with lift tests: NaN (or 0 from an older analysis) without
    # them means "no lift tests", not a 0 % coverage or a perfect MAPE.
    calibrated = [
        (name, value)
        for name, value in (
            ("Calibration MAPE", m.calibration_mape),
            ("Lift tests inside the intervals", m.calibration_coverage),
        )
        if result.calibration and math.isfinite(value)
    ]
    if result.warnings:
        # Numbered, so a row that a warning qualifies can point at it ("⚠ see warning 2").
        out += (
            '<h3 id="warnings">Warnings</h3><ul class="plain">'
            + "".join(f'<li id="warning-{i}"><strong>Warning {i}.</strong> {prose(w)}</li>'
                      for i, w in enumerate(result.warnings, start=1))
            + "</ul>"
        )  # fmt: skip
    elif h.verdict not in _VERDICTS:
        out += '<div class="verdict supported"><strong>No warnings from the model</strong></div>'
    if rows:
        holdout = f" ({h.holdout_days} days held out)" if h.holdout_days else ""
        # A MAPE is a percentage wherever the page shows it (R6-F15: "1.8%" in the fit's
        # caption and the health check, "0.0175" here).
        cells = [[esc(k), f"{v:.1%}" if "MAPE" in k else num(v)] for k, v in [*rows, *calibrated]]
        if not result.calibration:
            cells.append([esc("Calibration"), esc("no lift tests")])
        out += f"<h3>Fit{esc(holdout)}</h3>" + table(
            [("Fit figure", False), ("Value", True)], cells
        )
    if result.HasField("baseline_outcome"):
        out += (
            f"<p>Baseline (non-media) {esc(outcome_name(result))}: "
            f"{esc(interval_text(result.baseline_outcome))}.</p>"
        )
    return out


def _calibration(result: causal_pb.AttributionResult) -> str:
    rows = [
        [esc(c.experiment_id), esc(c.channel), f"{num(c.measured_lift)} ± {num(c.measured_std_error)}",
         num(c.predicted_lift),
         num(c.predicted_lift_uncalibrated) if c.HasField("predicted_lift_uncalibrated") else "–"]
        for c in result.calibration
    ]  # fmt: skip
    return "<p>Each lift test the model was calibrated with, beside what the model predicts for the same cells.</p>" + table(
        [("Experiment", False), ("Channel", False), ("Measured lift", True),
         ("Model (calibrated)", True), ("Model without tests", True)],
        rows,
    )  # fmt: skip


def _identification(result: causal_pb.AttributionResult) -> str:
    out = ""
    s = result.identification
    if result.HasField("identification"):
        out += f"<p><strong>Strategy:</strong> {prose(s.reason)}</p>"
        # the strategy's own sentence leads the assumptions too: said once
        assumptions = [a for a in s.assumptions if a != s.reason]
        if assumptions:
            out += (
                '<ul class="plain">'
                + "".join(f"<li>{prose(a)}</li>" for a in assumptions)
                + "</ul>"
            )
    facts = [
        ("Confounders adjusted for", ", ".join(result.confounders)),
        ("Confounders the data lacks", ", ".join(result.unobserved_confounders)),
        ("Mediators (not adjusted for)", ", ".join(result.mediators)),
        ("Controls", ", ".join(result.controls)),
        ("Geos × days", f"{result.geo_count} × {result.day_count}" if result.geo_count else ""),
        ("Records", f"{result.record_count:,}" if result.record_count else ""),
        ("Model / code version", " / ".join(v for v in (result.model_version, result.code_version) if v)),
    ]  # fmt: skip
    rows = [[esc(k), esc(v)] for k, v in facts if v]
    if rows:
        out += table([("", False), ("", False)], rows)
    return out


# The table's returns and the plans' can differ, even across break-even (R2-F4), and a page
# quotes up to four per channel (R6-F16): what each is, said under the table.
_MROAS_NOTE = (
    '<p class="note">iROAS: the average return, the incremental outcome per unit of all the '
    "spend over the window; mROAS: the return of the next unit of spend at the model's point "
    "fit, at the spend as run. Both are the point fit's. Budget shifts, recommendations and "
    "the experiment design are computed on the planning curve, the mean over the model's "
    "parameter draws: its returns, quoted as 'planning curve iROAS' (average) and 'planning "
    "curve mean mROAS' (next unit), are the same two quantities on that curve and can differ "
    "from the table's (even across break-even); each recommendation quotes both mROAS. Share "
    "of incremental: the channel's part of every channel's incremental outcome summed (not of "
    "the total outcome).</p>"
)


def _window_line(result: causal_pb.AttributionResult) -> str:
    """The period every amount of the table is over (R6-F14: the page never said it there)."""
    start, end = result.date_range.start_date, result.date_range.end_date
    if not (start.year and end.year):
        return ""
    first, last = dt.date(start.year, start.month, start.day), dt.date(end.year, end.month, end.day)
    days = (last - first).days + 1
    return (f'<p class="window">Spend, incremental outcome and platform credit are totals over '
            f"the analysis window {first:%Y-%m-%d}..{last:%Y-%m-%d} ({days} days).</p>")  # fmt: skip


def _platform_cell(c: causal_pb.ChannelAttribution, value: float) -> str:
    """A platform figure: "not reported" where the platform reported no conversions (its 0
    is no claim), marked partial where it reported only part of the spend's."""
    share = c.platform_unreported_share
    if share >= 1 - 1e-9:
        return "not reported"
    if share > 0:
        return f"{num(value)} (partial: {1 - share:.0%} of spend reported)"
    return num(value)


def _channel_table(
    channels: list[causal_pb.ChannelAttribution], cur: str,
    warned: dict[str, list[int]] | None = None, *, revenue: bool = True,
) -> str:  # fmt: skip
    warned = warned or {}
    rows = [
        [
            f'<span id="channel-{esc(c.channel)}">{esc(c.channel)}</span>'
            + warning_mark(warned.get(c.channel, [])), num(c.spend.amount),
            interval_cell(c.incremental_outcome), _platform_cell(c, c.platform_reported_outcome),
            interval_cell(c.incremental_roas) if c.HasField("incremental_roas") else "–",
            num(c.naive_regression_roas) if c.HasField("naive_regression_roas") else "–",
            _platform_cell(c, c.platform_reported_roas) if c.platform_reported_roas
            or c.platform_unreported_share else "–",
            interval_cell(c.marginal_roas) if c.HasField("marginal_roas") else "–",
            f"{c.contribution_share:.1%}",
        ]
        for c in channels
    ]  # fmt: skip
    spend = f"Spend ({cur})" if cur else "Spend"  # the result names no currency yet
    # A conversions analysis's "returns" are counts per unit of spend, as the CLI's table says;
    # the short names stay beside them, as the notes and recommendations quote them.
    iroas, naive, platform, mroas = (
        ("iROAS", "Naive ROAS", "Platform ROAS", "mROAS") if revenue
        else ("Conv/spend (iROAS)", "Naive conv/spend", "Platform conv/spend",
              "Marginal conv/spend (mROAS)")
    )  # fmt: skip
    return table(
        [("Channel", False), (spend, True), ("Incremental", True), ("Platform", True),
         (iroas, True), (naive, True), (platform, True), (mroas, True),
         ("Share of incremental", True)],
        rows,
        cls="channels",
    )  # fmt: skip


def surfacing_sections(
    figs: Figures, *, currency_code: str, outcome_label: str,
    budget: surfacing_pb.OptimizeBudgetResponse | None = None,
    forecast: surfacing_pb.PredictPerformanceResponse | None = None,
    design: surfacing_pb.DesignExperimentResponse | None = None,
    recommendations: surfacing_pb.RecommendResponse | None = None,
    design_channel: str = "", design_why: str = "",
    warned: dict[str, list[int]] | None = None,
    tested: causal_pb.ChannelAttribution | None = None,
) -> list[Section]:  # fmt: skip
    """``warned``: :func:`channel_warnings` of the analysis, for the recommendations' markers;
    ``tested``: the analysis's row of the channel the design tests (its returns quoted there)."""
    sections = []
    if recommendations is not None and recommendations.recommendations:
        # Recommend answers over the analysis window when asked without days, as the report
        # asks; OptimizeBudget's answer says how many days that is.
        days = budget.horizon_days if budget is not None else 0
        sections.append(Section("recommendations", "Recommendations",
                                recommendations_table(recommendations, currency_code, days,
                                                 "conversions" in outcome_label.lower(),
                                                 warned or {})))  # fmt: skip
    if budget is not None and budget.allocations:
        cur = budget.total_budget.currency_code or currency_code
        head = _budget_head(budget, cur, recommendations)
        warn = "".join(f"<li>{prose(w)}</li>" for w in budget.warnings)
        moves = sorted(budget.allocations, key=lambda a: -a.current_spend)
        sections.append(Section("budget", "Budget shift", head + figs.add(
            "budget-shift",
            functools.partial(plots.budget_shift, moves[:MAX_CHART_CHANNELS], cur),
            "Current → recommended spend",
            "Each channel's move from its current spend (○) to the recommended one (arrow) "
            "within its allowed range (grey); a bar at the arrow's end is a bound that binds (the "
            "optimiser wanted to go further), a square a channel held at its current spend."
            + _undrawn([m.channel for m in moves[MAX_CHART_CHANNELS:]], "the numbers below the chart"),
            alt.budget_shift(list(budget.allocations), cur),
        ) + (f'<ul class="plain">{warn}</ul>' if warn else "")))  # fmt: skip
    if forecast is not None and forecast.points:
        level_label = outcome_label.replace("Incremental ", "")
        # Upper-case the first letter only: a currency code keeps its case ("Revenue (USD)").
        level_label = level_label[:1].upper() + level_label[1:]
        sections.append(Section("forecast", "Forecast", figs.add(
            "forecast", functools.partial(plots.forecast, list(forecast.points), level_label),
            "Forecast",
            ("Daily forecast as a fan of nested intervals (darker: the narrower, likelier band)"
             if forecast.points[0].fan else "Daily forecast with its interval")
            + f"; {_forecast_total(forecast, currency_code)}.",
            alt.forecast(list(forecast.points)),
        )))  # fmt: skip
    if design is not None and design.power_curve:
        cell = design.cells[0] if design.cells else None
        facts = (
            f"<p>{_design_subject(design_channel, cell, design_why)}"
            f"{prose(_sentence(design.analysis))} Recommended "
            f"duration: {cell.recommended_duration_days if cell else '–'} days"
            f"{_power_at(cell)}; "
            f"{'feasible' if design.feasible else 'not feasible: ' + prose(cell.reason if cell else '')}. "
            # What the interval's lower bound means for that duration, next to it.
            + (f'<span class="conservative">Note: {prose(cell.conservative)}.</span> '
               if cell is not None and cell.conservative else "")
            + _table_returns(tested)
            + f"{len(design.control_units)} control geos"
            + (f", {len(cell.treatment_units)} treated ({prose(', '.join(cell.treatment_units))})"
               if cell else "")
            + ".</p>"
        )  # fmt: skip
        # The warnings repeat the first cell's note (for callers predating its field): once.
        shown = {cell.conservative, f"cell {cell.cell}: {cell.conservative}"} if cell else set()
        warnings = [w for w in design.warnings if w not in shown]
        if warnings:
            facts += '<ul class="plain">' + "".join(
                f"<li>{prose(w)}</li>" for w in warnings
            ) + "</ul>"  # fmt: skip
        sections.append(Section("design", "Experiment design", facts + figs.add(
            "power-curve", functools.partial(plots.power_curve, list(design.power_curve), 0.8),
            "Power by test duration",
            "Power to detect the target lift (top) and the smallest lift the test detects (bottom), "
            "simulated on placebo windows of the org's own history.",
            alt.power_curve(list(design.power_curve)),
        )))  # fmt: skip
    return sections


def _forecast_total(forecast: surfacing_pb.PredictPerformanceResponse, cur: str) -> str:
    """The forecast's total with what it is a total of: its days, first and last date and unit
    (R6-F15: "total 55,585,954 (…)" said none of them)."""
    first, last = forecast.points[0].date, forecast.points[-1].date
    days = len(forecast.points)
    if forecast.outcome == common_pb.OUTCOME_METRIC_CONVERSIONS:
        unit = "conversions"
    else:
        unit = cur or "the outcome's unit"
    return esc(
        f"total over the {days} days {first.year:04d}-{first.month:02d}-{first.day:02d}.."
        f"{last.year:04d}-{last.month:02d}-{last.day:02d}, in {unit}: "
        f"{interval_text(forecast.total)} (baseline {interval_text(forecast.baseline_total)}, media "
        f"{interval_text(forecast.media_total)})"
    )


# The shadow price is what a larger total buys through OptimizeBudget: its default bound and
# ceilings grow with the budget, so the channels at them take part of it (R10-F15: the
# multiplier with the bounds held, 0.548, was stated where a budget 1% larger gave 0.900).
_BOUNDS_FOLLOW = (
    ", with each channel's bounds as OptimizeBudget sets them at that budget: its default "
    "bound grows with it"
)


def _budget_head(
    budget: surfacing_pb.OptimizeBudgetResponse, cur: str,
    recommendations: surfacing_pb.RecommendResponse | None,
) -> str:  # fmt: skip
    """The budget shift in words, every amount with its unit. A plan better in none of the
    model's draws (the optimiser reads a gain within float noise as a tie) is "no reallocation
    beats the current mix", not an uplift of a few thousandths "better in 74% of draws"."""
    revenue = budget.outcome != common_pb.OUTCOME_METRIC_CONVERSIONS
    unit = esc(cur) if revenue else "conversions"
    per = f"one more {esc(cur) or 'unit'} of budget"
    text = (
        f"<p>Budget {num(budget.total_budget.amount)} {esc(cur)} over {budget.horizon_days} days "
        f"(every spend here is a total over those {budget.horizon_days} days): "
    )
    u = budget.uplift
    if budget.probability_better == 0.0 and u.upper <= 0.0:
        text += "no reallocation beats the current mix within this model's uncertainty"
    else:
        at = f", {u.level:.0%}" if 0 < u.level < 1 else ""
        text += (
            f"expected uplift {num(u.estimate)} {unit} ({num(u.lower)} to {num(u.upper)} {unit}"
            f"{at}), better than the current allocation in {budget.probability_better:.0%} of the "
            "model's draws"
        )
    if budget.risk_aversion:
        # The shadow price of the risk-adjusted objective, as the CLI says (R6-F8): not the
        # revenue one more unit buys, nor any channel's mean marginal return.
        z = f"{budget.risk_aversion:g}"
        text += (
            f"; {per} would add {num(budget.shadow_price)} {unit} to the risk-adjusted objective "
            f"the plan maximises (the gain's mean less {z} sd over the model's draws), not "
            f"{num(budget.shadow_price)} {unit} of expected {'revenue' if revenue else 'outcome'}"
            f"{_BOUNDS_FOLLOW}.</p>"
        )
    else:
        text += (f"; {per} would add {num(budget.shadow_price)} {unit} (the posterior mean"
                 f"{_BOUNDS_FOLLOW}).</p>")  # fmt: skip
    if recommendations is not None and recommendations.recommendations:
        # Both on one page: they answer different questions (R5-F6), said where they meet.
        text += (
            "<p>The recommendations above may change the total spend (a channel whose next unit "
            "returns less than it costs is cut); this shift keeps the total and only moves it "
            "between channels.</p>"
        )
    return text


def _design_subject(channel: str, cell: surfacing_pb.CellDesign | None, why: str = "") -> str:
    """What is tested, and why that channel (R6-F10: the page never said)."""
    if not channel:
        return ""
    kinds = {md_pb.TREATMENT_TYPE_HOLDOUT: "go-dark holdout",
             md_pb.TREATMENT_TYPE_BUDGET_INCREASE: "heavy-up test"}  # fmt: skip
    kind = kinds.get(cell.treatment_type, "geo test") if cell is not None else "geo test"
    reason = f" Chosen because {esc(why)}." if why else ""
    return f"A {kind} of {prose(channel)}.{reason} "


def _table_returns(c: causal_pb.ChannelAttribution | None) -> str:
    """The tested channel's returns in the contribution table, named, beside the design's
    planning-curve figures (R6-F16: four returns for one channel, none said against another)."""
    if c is None or not c.HasField("incremental_roas"):
        return ""
    said = f"iROAS {num(c.incremental_roas.estimate)} (average, over the window)"
    if c.HasField("marginal_roas"):
        said += f" and mROAS {num(c.marginal_roas.estimate)} (next unit, at the spend as run)"
    return prose(f"The contribution table's point-fit returns for {c.channel}: {said}. ")


def _sentence(text: str) -> str:
    """``text`` ending as a sentence (the design's analysis ran into "Recommended duration")."""
    return text if not text or text.rstrip().endswith((".", "!", "?")) else text.rstrip() + "."


def _power_at(cell: surfacing_pb.CellDesign | None) -> str:
    """What the recommended duration buys: power at the expected effect and the smallest
    lift it detects (the figures the power curve draws, read at that duration)."""
    if cell is None:
        return ""
    point = next(
        (p for p in cell.power_curve if p.duration_days == cell.recommended_duration_days), None
    )
    if point is None:
        return ""
    parts = []
    if math.isfinite(point.power_at_expected):
        parts.append(f"power {point.power_at_expected:.0%} at the expected effect")
    if cell.conservative and math.isfinite(point.power_at_conservative):
        parts.append(f"{point.power_at_conservative:.0%} at the interval's lower bound")
    if math.isfinite(point.minimum_detectable_lift):
        parts.append(f"minimum detectable lift {point.minimum_detectable_lift:.1%}")
    return f" ({', '.join(parts)})" if parts else ""
