"""DesignExperiment: the question checked at the edge, the design as proto and as registry experiments."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Sequence

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as pb

from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.protoconv import MAX_DATE, date_to_proto
from surfacing_svc.convert.fields import (
    ASSIGNMENT,
    CELL_KINDS,
    MAX_CELLS,
    MAX_DURATION_DAYS,
    MAX_MONEY,
    METRIC_TO_PROTO,
    FieldChecks,
    date_field,
)
from surfacing_svc.design import (
    AssignmentMethod,
    CellDesign,
    CellSpec,
    DesignSpec,
    ExperimentDesign,
    PowerPoint,
    TreatmentKind,
)
from surfacing_svc.design.plan import DEFAULT_DURATIONS
from surfacing_svc.planning import (
    DesignQuestion,
)

# -- DesignExperiment ---------------------------------------------------------------------


def _cells(request: pb.DesignExperimentRequest, check: FieldChecks) -> tuple[CellSpec, ...]:
    raw = list(request.cells) or [
        pb.DesignCell(
            treatment_type=request.treatment_type, spend_multiplier=request.spend_multiplier
        )
    ]
    prefix = "cells" if request.cells else ""
    if len(raw) > MAX_CELLS:
        check.add("cells", f"at most {MAX_CELLS} cells, got {len(raw)}")
    out = []
    for i, cell in enumerate(raw):
        at = f"{prefix}[{i}]." if prefix else ""
        kind = CELL_KINDS.get(cell.treatment_type)
        if kind is None:
            check.add(f"{at}treatment_type",
                      "treatment_type must be HOLDOUT, BUDGET_DECREASE or BUDGET_INCREASE")  # fmt: skip
            continue
        m = cell.spend_multiplier
        if cell.treatment_type == md_pb.TREATMENT_TYPE_BUDGET_DECREASE:
            check.number(m, f"{at}spend_multiplier", 0.0, 1.0, open_low=True, open_high=True)
        elif kind is TreatmentKind.GO_DARK and m != 0.0:
            check.add(
                f"{at}spend_multiplier", "a holdout turns spend off: spend_multiplier must be 0"
            )
        elif kind is TreatmentKind.HEAVY_UP:
            if m == 0.0 and not request.HasField("budget"):
                check.add(f"{at}spend_multiplier",
                          "a heavy-up needs spend_multiplier > 1 or a budget")  # fmt: skip
            elif m != 0.0:
                check.number(m, f"{at}spend_multiplier", 1.0, 100.0, open_low=True)
        out.append(CellSpec(kind, m))
    return tuple(out)


def design_question(request: pb.DesignExperimentRequest) -> DesignQuestion:
    """DesignExperimentRequest → DesignQuestion; every bad field named at once."""
    check = FieldChecks()
    check.org(request.org_id)
    if not request.channel:
        check.add("channel", "channel is required")
    if request.unit not in (
        common_pb.RANDOMIZATION_UNIT_UNSPECIFIED,
        common_pb.RANDOMIZATION_UNIT_GEO,
    ):
        check.add("unit", "only geo experiments are designed (unit RANDOMIZATION_UNIT_GEO)")
    # Unset: the analysis's outcome where one is named, else revenue (design_metric).
    metric = check.metric(request.metric, "metric")
    lift = request.minimum_detectable_lift
    if lift:
        check.number(lift, "minimum_detectable_lift", 0.0, 1.0, open_low=True, open_high=True)
    alpha = 1.0 - check.level(request.alpha, "alpha", 0.95)
    power = request.power or 0.8
    check.number(power, "power", 0.5, 0.99)
    if len(request.duration_days) > 52:
        check.add("duration_days", "at most 52 durations")
    for i, d in enumerate(request.duration_days):
        if not 7 <= d <= MAX_DURATION_DAYS:
            check.add(f"duration_days[{i}]", f"duration {d} must be 7..{MAX_DURATION_DAYS} days")
    start = date_field(request.history.start_date, "history.start_date", check)
    end = date_field(request.history.end_date, "history.end_date", check)
    if start and end and end < start:
        check.add("history.end_date", f"history ends {end} before it starts {start}")
    cells = _cells(request, check)
    share = request.treatment_share or len(cells) / (len(cells) + 1)
    check.number(share, "treatment_share", 0.0, 1.0, open_low=True, open_high=True)
    budget = None
    if request.HasField("budget"):
        budget = check.number(request.budget.amount, "budget.amount", 0.0, MAX_MONEY, open_low=True)
    roas = None
    if request.HasField("expected_roas"):
        roas = check.number(request.expected_roas, "expected_roas", 0.0, 1e6)
    if request.pre_period_days and not 28 <= request.pre_period_days <= 365:
        check.add("pre_period_days", f"pre_period_days {request.pre_period_days} must be 28..365")
    if request.experiment_id and (
        len(request.experiment_id) > 50
        or not all(c.isalnum() or c in "-_" for c in request.experiment_id)
    ):
        check.add("experiment_id", "experiment_id must be 1-50 letters, digits, '-' or '_'")
    if request.seed < 0:
        check.add("seed", f"seed {request.seed} must be >= 0")
    begin = date_field(request.start_date, "start_date", check)
    if begin is not None:
        _fits_range(begin, request.duration_days, check)
    if len(request.name) > 200:
        check.add("name", "name must be at most 200 characters")
    check.done()
    spec = DesignSpec(
        channel=request.channel, cells=cells, method=ASSIGNMENT.get(
            request.assignment, AssignmentMethod.MATCHED_MARKETS),
        treatment_share=share, alpha=alpha, target_power=power, lift=lift or None,
        budget=budget, durations=tuple(request.duration_days),
        pre_period_days=request.pre_period_days, seed=request.seed, start=begin,
    )  # fmt: skip
    return DesignQuestion(
        org_id=request.org_id, spec=spec, metric=metric, history_start=start,
        history_end=end, analysis_id=request.analysis_id, expected_roas=roas,
        save=request.save, experiment_id=request.experiment_id, start_date=begin,
        name=request.name,
    )  # fmt: skip


def _power_point(p: PowerPoint) -> pb.PowerPoint:
    return pb.PowerPoint(
        duration_days=p.duration_days, power=p.power,
        minimum_detectable_lift=p.mde_lift, minimum_detectable_effect=p.mde_absolute,
        spend_change=p.spend_change, minimum_detectable_roas=p.min_detectable_roas,
        expected_lift=p.expected_lift, power_at_expected=p.power_at_expected,
        placebo_windows=p.placebo_windows, conservative_lift=p.conservative_lift,
        power_at_conservative=p.power_at_conservative,
    )  # fmt: skip


def _treatment_type(cell: CellDesign) -> int:
    if cell.spec.kind is TreatmentKind.HEAVY_UP:
        return md_pb.TREATMENT_TYPE_BUDGET_INCREASE
    return (
        md_pb.TREATMENT_TYPE_HOLDOUT
        if cell.spend_multiplier == 0
        else md_pb.TREATMENT_TYPE_BUDGET_DECREASE
    )


def design_id() -> str:
    """A fresh id for a design saved without an experiment_id."""
    return f"design-{uuid.uuid4().hex[:12]}"


def _cell_ids(base: str, design: ExperimentDesign) -> list[str]:
    """One cell: the design's id. Several: ``{base}-cell{i}``, the base id being the shared
    control's (``shared_control``)."""
    if len(design.cells) == 1:
        return [base]
    return [f"{base}-cell{c.index}" for c in design.cells]


def _fits_range(begin: dt.date, durations: Sequence[int], check: FieldChecks) -> None:
    """A test starting ``begin`` must end by the supported range's last day (R7-F3: one
    ending in 2201 was answered, or refused at the registry naming experiment_id). Checked
    for every duration the design may recommend: those asked for, else the default ones."""
    longest = max(durations, default=max(DEFAULT_DURATIONS))
    if not 7 <= longest <= MAX_DURATION_DAYS:
        return  # already refused as a duration
    end = begin + dt.timedelta(days=longest - 1)
    if end <= MAX_DATE:
        return
    latest = MAX_DATE - dt.timedelta(days=longest - 1)
    asked = "" if durations else " (the longest default duration)"
    check.add(
        "start_date",
        f"a {longest}-day test{asked} starting {begin} would end {end}, after {MAX_DATE}, "
        f"the last supported date: start by {latest}",
    )
    for i, d in enumerate(durations):
        if begin + dt.timedelta(days=d - 1) > MAX_DATE:
            check.add(
                f"duration_days[{i}]", f"a {d}-day test starting {begin} ends after {MAX_DATE}"
            )


def _window(
    question: DesignQuestion, cell: CellDesign, history_end: dt.date
) -> tuple[dt.date, dt.date]:
    start = question.start_date or history_end + dt.timedelta(days=1)
    end = start + dt.timedelta(days=cell.recommended.duration_days - 1)
    if end > MAX_DATE:
        # Only without a start_date (design_question bounds a given one): the test would
        # follow a history that ends at the range's end.
        raise InvalidInput(
            f"the test would start after the history (its last day {history_end}) and end "
            f"{end}, after {MAX_DATE}, the last supported date: give a start_date by "
            f"{MAX_DATE - dt.timedelta(days=cell.recommended.duration_days - 1)}",
            field="start_date",
        )
    return start, end


def cell_experiment(
    question: DesignQuestion, design: ExperimentDesign, cell: CellDesign, history_end: dt.date
) -> md_pb.CausalExperiment:
    """One cell as a registry experiment (status DRAFT), starting after the history."""
    # The caller names the design once (design_id) so every cell shares its base id.
    base = question.experiment_id or design_id()
    ids = _cell_ids(base, design)
    eid = ids[[c.index for c in design.cells].index(cell.index)]
    start, end = _window(question, cell, history_end)
    point = cell.recommended
    target = design.target_lift if design.target_lift is not None else abs(point.expected_lift)
    kind = "go-dark" if cell.spec.kind is TreatmentKind.GO_DARK else "heavy-up"
    return md_pb.CausalExperiment(
        experiment_id=eid, org_id=question.org_id,
        name=question.name or f"{design.channel} geo {kind}" + (
            f" (cell {cell.index})" if len(design.cells) > 1 else ""),
        start_date=date_to_proto(start), end_date=date_to_proto(end),
        # The pre-period the design powered the test on, which an estimate reads (R26-F4).
        pre_period_start=date_to_proto(start - dt.timedelta(days=design.pre_period_days)),
        treatment_type=_treatment_type(cell),  # type: ignore[arg-type]
        treatment_config=md_pb.TreatmentConfig(
            spend_multiplier=cell.spend_multiplier, intensity=1.0,
            description=f"{design.channel} spend × {cell.spend_multiplier:g} in treatment geos"),
        control_config=md_pb.TreatmentConfig(
            spend_multiplier=1.0, intensity=0.0, description="business as usual" + (
                # One row carries one experiment id: the control's rows carry the design's
                # (its shared control, registered before the cells), not one cell's.
                f"; the control geos are shared by the design's {len(design.cells)} cells "
                f"({', '.join(ids)}) and their records carry the design's experiment {base!r}, "
                "its shared control" if len(design.cells) > 1 else "")),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
        statistical_power=md_pb.StatisticalPower(
            target_power=design.target_power, alpha=design.alpha,
            minimum_detectable_effect=point.mde_absolute / max(point.duration_days, 1)
            / max(len(cell.treatment_geos), 1),
            minimum_detectable_lift=point.mde_lift,
            expected_effect=target if math.isfinite(target) else 0.0,
            achieved_power=point.power if math.isfinite(point.power) else point.power_at_expected
            if math.isfinite(point.power_at_expected) else 0.0,
            sample_size_units=len(cell.treatment_geos) + len(design.control_geos),
            duration_days=point.duration_days),
        treatment_units=list(cell.treatment_geos), control_units=list(design.control_geos),
        channel=design.channel,
        primary_metric=METRIC_TO_PROTO.get(question.metric or "revenue", common_pb.OUTCOME_METRIC_REVENUE),  # type: ignore[arg-type]
        status=md_pb.EXPERIMENT_STATUS_DRAFT,
        hypothesis=f"{kind} of {design.channel} changes first-party {question.metric or 'revenue'} in the "
        f"treatment geos; powered at {design.target_power:.0%} for a {point.mde_lift:.1%} change "
        f"over {point.duration_days} days (TBR, one-sided alpha {design.alpha:g})",
    )  # fmt: skip


def shared_control(
    question: DesignQuestion, design: ExperimentDesign, history_end: dt.date
) -> md_pb.CausalExperiment | None:
    """A multi-cell design's control geos as their own registry experiment under the design's
    id, over every cell's window; None for one cell. Registered before the cells, it governs
    the control's rows (ingestion gives a row to the first-created experiment that names its
    unit), so they carry the design's id — a control shared by all cells — rather than the
    first cell's. Each cell still lists the control geos, so its own analysis reads both arms
    from the registry."""
    if len(design.cells) < 2:
        return None
    base = question.experiment_id or design_id()
    ids = _cell_ids(base, design)
    windows = [_window(question, c, history_end) for c in design.cells]
    start, end = min(w[0] for w in windows), max(w[1] for w in windows)
    return md_pb.CausalExperiment(
        experiment_id=base, org_id=question.org_id,
        name=question.name or f"{design.channel} geo test: shared control of "
        f"{len(design.cells)} cells",
        start_date=date_to_proto(start), end_date=date_to_proto(end),
        pre_period_start=date_to_proto(start - dt.timedelta(days=design.pre_period_days)),
        treatment_config=md_pb.TreatmentConfig(
            spend_multiplier=1.0, intensity=0.0,
            description=f"none: the control shared by cells {', '.join(ids)}"),
        control_config=md_pb.TreatmentConfig(
            spend_multiplier=1.0, intensity=0.0,
            description=f"business as usual; the control of every cell ({', '.join(ids)})"),
        randomization_unit=common_pb.RANDOMIZATION_UNIT_GEO,
        control_units=list(design.control_geos), channel=design.channel,
        primary_metric=METRIC_TO_PROTO.get(question.metric or "revenue", common_pb.OUTCOME_METRIC_REVENUE),  # type: ignore[arg-type]
        status=md_pb.EXPERIMENT_STATUS_DRAFT,
        hypothesis=f"no treatment: the {len(design.control_geos)} control geos of the "
        f"{design.channel} design's cells {', '.join(ids)}, each cell compared with them",
    )  # fmt: skip


def proposed_experiment(
    org_id: str, design: ExperimentDesign, metric: str, after: dt.date
) -> md_pb.CausalExperiment:
    """A recommended test's design as a (not registered) experiment starting after ``after``."""
    question = DesignQuestion(
        org_id, DesignSpec(design.channel), metric, None, None,
        experiment_id=f"test-{design.channel}"[:50].replace("_", "-"),
    )  # fmt: skip
    return cell_experiment(question, design, design.cells[0], after)


def analysis_text(alpha: float) -> str:
    """The analysis the power is for, in words, with the level it tests at (R6-F10: "at alpha"
    with no value left the reader to guess it)."""
    return (
        "time-based regression: the treatment geos' daily outcome total regressed on the "
        "control geos' over the pre-period, the gap over the test period is the effect; "
        f"one-sided test at alpha {alpha:g} (a {alpha:.0%} chance that a channel with no effect "
        "shows one) against the spread of the same analysis in placebo windows of the org's "
        "history, over re-randomisations of the design"
    )


def design_to_proto(
    design: ExperimentDesign,
    experiments: list[md_pb.CausalExperiment],
    *,
    saved: bool,
    control: md_pb.CausalExperiment | None = None,
) -> pb.DesignExperimentResponse:
    cells = []
    for cell, exp in zip(design.cells, experiments, strict=True):
        cells.append(pb.CellDesign(
            cell=cell.index, treatment_type=_treatment_type(cell),  # type: ignore[arg-type]
            spend_multiplier=cell.spend_multiplier, treatment_units=list(cell.treatment_geos),
            power_curve=[_power_point(p) for p in cell.power_curve],
            recommended_duration_days=cell.recommended_duration_days, feasible=cell.feasible,
            reason=cell.reason, pre_period_correlation=cell.pre_period_correlation,
            outcome_share=cell.outcome_share, experiment=exp, conservative=cell.conservative,
        ))  # fmt: skip
    return pb.DesignExperimentResponse(
        experiment=experiments[0], power_curve=cells[0].power_curve, cells=cells,
        control_units=list(design.control_geos), feasible=design.feasible,
        pre_period_days=design.pre_period_days, history_days=design.history_days, saved=saved,
        warnings=list(design.warnings), analysis=analysis_text(design.alpha), shared_control=control,
    )  # fmt: skip
