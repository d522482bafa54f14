"""``render_report``: one stored analysis and its companions as the HTML page (see the
package's docstring)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.report import UnsupportedAnalysis
from mesh.report._format import prose
from mesh.report._page import Section, page
from mesh.report._svg import house_style
from mesh.report.effect import (
    Figures,
    effect_sections,
    effect_title,
    estimand_name,
    method_name,
)
from mesh.report.explanation import explanation_section, fact_anchors
from mesh.report.plan import (
    attribution_sections,
    channel_warnings,
    currency,
    outcome_name,
    surfacing_sections,
)
from mesh.report.products import product_sections

__all__ = ["attribution_meta", "render_report"]


def _created(analysis: causal_pb.Analysis) -> str:
    if not analysis.HasField("create_time"):
        return ""
    when = analysis.create_time.ToDatetime(tzinfo=dt.UTC)
    return f"analysed {when:%Y-%m-%d %H:%M} UTC"


# The surfacing service's words for data in a stored analysis's window that changed since it
# was made (surfacing_svc.data_drift.DataDrift.warnings): "<what changed>: this forecast reads
# the data as it is now; re-run analyze to refit".
_DRIFT = "this analysis's window changed since it was made"


def _data_changed(
    forecast: surfacing_pb.PredictPerformanceResponse | None,
    design: surfacing_pb.DesignExperimentResponse | None,
) -> Section | None:
    """A section saying that the data under the analysis changed since it was made (restated
    or late rows in its window), when the forecast or the design says so: those sections read
    the data as it is now, the rest of the page the analysis as it was made."""
    said = [w for r in (forecast, design) if r is not None for w in r.warnings if _DRIFT in w]
    lines = list(dict.fromkeys(w.split(": this ", 1)[0] for w in said))
    if not lines:
        return None
    items = "".join(f"<li>{prose(line[:1].upper() + line[1:])}.</li>" for line in lines)
    return Section(
        "data-changed",
        "Data changed since this analysis",
        f'<ul class="plain note">{items}</ul><p>The forecast and the experiment design read the '
        "data as it is now; the model, its channel table and its curves are the analysis as it "
        "was made. Re-run analyze to refit on the data as it is now.</p>",
    )


def attribution_meta(result: causal_pb.AttributionResult) -> str:
    """The header's line for an attribution: how many channels it reports — and, for a model
    that reports none (health FAIL), how many it modelled, not "0 channels"."""
    if result.channels:
        return f"attribution, {len(result.channels)} channels"
    modelled = len(result.model.model_config.channels)
    failed = result.health.verdict == causal_pb.HEALTH_VERDICT_FAIL
    why = ": model health FAIL" if failed else ""
    return f"attribution, {modelled} channels modelled, none reported{why}"


def render_report(
    analysis: causal_pb.Analysis,
    *,
    explanation: llm_pb.ExplanationDone | None = None,
    budget: surfacing_pb.OptimizeBudgetResponse | None = None,
    forecast: surfacing_pb.PredictPerformanceResponse | None = None,
    design: surfacing_pb.DesignExperimentResponse | None = None,
    recommendations: surfacing_pb.RecommendResponse | None = None,
    notes: Sequence[str] = (),
    design_channel: str = "",
    rendered: dt.datetime | None = None,
    design_why: str = "",
    value_per_outcome: float = 0.0,
    experiment: md_pb.CausalExperiment | None = None,
) -> str:
    """The HTML page of one stored analysis, with whichever companions are given; ``notes``
    say what could not be added (e.g. a planning answer the surfacing service did not give);
    ``design_channel`` the channel ``design`` tests, ``design_why`` why that one (words),
    ``rendered`` when the page was made (the header states it beside the analysis's own time:
    the planning answers are computed then), ``value_per_outcome`` what one unit of the
    outcome is worth in the spend's currency where the reader gave it (0: not given; it places
    a conversions analysis's break-even), ``experiment`` the registered experiment an
    estimate's records came from (its name, channel and window title the page)."""
    which = analysis.WhichOneof("result")
    figs = Figures("fig-")
    warned: dict[str, list[int]] = {}
    tested = None  # the analysis's row of the channel the design tests
    with house_style():
        if which == "estimate":
            e = analysis.estimate
            title = effect_title(analysis, experiment)
            sections: list[Section] = effect_sections(analysis, figs, experiment)
            meta = [f"{method_name(e)}: {estimand_name(analysis)}"]
            if analysis.request.records.experiment_id and e.treatment:
                meta.append(f"treatment column {e.treatment}")
            cur, label = "", f"Incremental {e.outcome or 'outcome'}"
        elif which == "attribution":
            result = analysis.attribution
            title = f"What each channel caused: {outcome_name(result)}"
            sections = attribution_sections(
                analysis, figs, budget, value_per_outcome=value_per_outcome
            )
            meta = [attribution_meta(result)]
            cur = currency(result)
            label = f"Incremental {outcome_name(result)}" + (f" ({cur})" if cur else "")
            warned = channel_warnings(result)
            tested = next((c for c in result.channels if c.channel == design_channel), None)
        elif which == "products":
            result_p = analysis.products
            title = "What each channel sells: products and categories"
            sections = product_sections(analysis, figs, recommendations)
            meta = [f"products, {len(result_p.channels)} channels, {len(result_p.categories)} "
                    "categories"]  # fmt: skip
            cur = result_p.currency_code
            label = f"Incremental margin ({cur})" if cur else "Incremental margin"
        else:
            raise UnsupportedAnalysis(f"analysis {analysis.analysis_id!r} holds no result")
        sections += surfacing_sections(
            figs, currency_code=cur, outcome_label=label, budget=budget, forecast=forecast,
            design=design, recommendations=recommendations, design_channel=design_channel,
            design_why=design_why, warned=warned, tested=tested,
        )  # fmt: skip
    if notes:
        items = "".join(f"<li>{prose(n)}</li>" for n in notes)
        sections.append(
            Section("notes", "Not in this report", f'<ul class="plain note">{items}</ul>')
        )
    changed = _data_changed(forecast, design)
    if changed is not None:
        sections.insert(0, changed)
    if explanation is not None and explanation.text:
        anchors = fact_anchors(analysis, figs.anchors)
        outcome = outcome_name(analysis.attribution) if which == "attribution" else ""
        sections.insert(0, explanation_section(explanation, anchors, which or "", outcome))
    meta += [f"analysis {analysis.analysis_id}", f"org {analysis.org_id}", _created(analysis)]
    if rendered is not None:
        meta.append(f"rendered {rendered.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC")
    return page(
        title,
        [m for m in meta if m],
        sections,
        "LiftOS report · one self-contained file: figures are inline SVG, nothing is fetched.",
    )
