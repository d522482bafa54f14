"""CausalService servicer: thin — convert (every field checked), run the domain in the compute
pool's worker processes, convert back.

Cancellation flows from grpc.aio: when the client cancels or its deadline passes, the handler's
task is cancelled, and the CancelledError reaching :meth:`ComputePool.run` stops the worker.
Peer calls (memory Scan, registry lookups) get the caller's remaining time as their timeout.

AnalyzeAttribution reads memory's sums (AggregateRecords) and the registry's analysed
experiments here, then runs the attribution stages in workers — the calibrated and the
uncalibrated fit side by side, then validation beside scoring — streaming one progress event
per stage; the result is stored with its fitted model, which Counterfactual reads back.
AnalyzeProducts reads memory's product sums (AggregateProducts), builds the product x day
panel here and estimates in a worker (``causal_svc.product_analysis``), streaming one progress
event per step; the result is stored for GetAnalysis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import numpy as np
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from causal_svc import (
    attribution,
    confounders_macro,
    confounders_retro,
    convert,
    experiment_result,
    product_analysis,
)
from causal_svc.analyses import AnalysisStore, StoredAnalysis, new_analysis_id
from causal_svc.attribution import stages
from causal_svc.attribution.calendar import model_calendar
from causal_svc.attribution.calibration import one_per_experiment
from causal_svc.attribution.day_alignment import day_alignment_warnings
from causal_svc.attribution.product_spend import product_spend_note
from causal_svc.compute import ComputePool
from causal_svc.convert import experiment_results as convert_results
from causal_svc.convert import products as convert_products
from causal_svc.errors import InsufficientData, InvalidSpec, ReplyTooLarge
from causal_svc.experiment_result import GeoExperiment
from causal_svc.jobs import RecordsData, run_estimate, run_graph_analysis
from causal_svc.peers import (
    MemoryReader,
    RegistryReader,
    RegistryRefused,
    aggregate_products,
    design_of,
)
from causal_svc.record_tables import ExperimentDesign, experiment_window
from mesh.runtime.audit import log_deletion
from mesh.runtime.cancellation import CancelToken, run_with
from mesh.runtime.exceptions import DependencyUnavailable, InvalidInput
from mesh.runtime.money import FX_KIND, MixedCurrencies, mixed_pairs, spend_in_outcome_currency

CODE_VERSION = convert.code_version()


def _progress(stage: str, message: str) -> causal_pb.AnalyzeAttributionResponse:
    frac = attribution.STAGE_FRACTIONS[stage]
    return causal_pb.AnalyzeAttributionResponse(
        progress=causal_pb.AnalysisProgress(stage=stage, fraction=frac, message=message)
    )


def _product_progress(stage: str, message: str) -> causal_pb.AnalyzeProductsResponse:
    frac = product_analysis.STAGE_FRACTIONS[stage]
    return causal_pb.AnalyzeProductsResponse(
        progress=causal_pb.AnalysisProgress(stage=stage, fraction=frac, message=message)
    )


def _retrieved(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


def _unread_tests(unread: str, days: int) -> list[str]:
    """The warning a next-days counterfactual carries when the registry could not be read."""
    return [
        f"the org's registered experiments could not be read ({unread}): the next {days} days "
        f"are modelled on the last {days} analysed days, even where a test ran in them"
    ]


def _window_note(
    design: ExperimentDesign, asked_start: dt.date | None, asked_end: dt.date | None,
    start: dt.date | None, end: dt.date | None,
) -> str:  # fmt: skip
    """Which days an experiment's estimate read, each bound said where it came from (R26 F10:
    a start the query set was described as a defaulted pre-period as long as the test)."""
    if asked_start is not None:
        first = f"{start} (the query's start)"
    elif start is None:
        first = "the first record"
    elif design.pre_period[1]:
        first = f"{start} (the experiment's registered pre-period)"
    else:
        days = (design.end - design.start).days + 1
        first = f"{start} (a pre-period as long as the {days}-day test: none is registered)"
    if asked_end is not None:
        last = f"{end} (the query's end)"
    else:
        last = "the last record" if end is None else f"{end} (the test's last day)"
    unset = "date" if asked_start is None and asked_end is None else (
        "start" if asked_start is None else "end")  # fmt: skip
    return (
        f"records read from {first} to {last} for experiment {design.experiment_id!r}: the "
        f"query set no {unset} (set records.date_range to choose)"
    )


def _remaining(context: grpc.aio.ServicerContext) -> float | None:
    """Seconds left before the caller's deadline (None: no deadline): peer calls get no more."""
    return context.time_remaining()


T = TypeVar("T")

# AnalyzeAttribution's peak of concurrent compute tasks (the full, holdout and uncalibrated fits).
ATTRIBUTION_TASKS_AT_ONCE = 3


class CausalService(causal_grpc.CausalServiceServicer):
    def __init__(
        self,
        analyses: AnalysisStore,
        memory: MemoryReader,
        registry: RegistryReader,
        compute: ComputePool,
    ) -> None:
        self._analyses = analyses
        self._memory = memory
        self._registry = registry
        self._compute = compute

    async def _records(
        self, org: str, query: convert.RecordQuery, context: grpc.aio.ServicerContext,
        *, record: bool = False,
    ) -> tuple[RecordsData, GeoExperiment | None, str]:  # fmt: skip
        """Memory records and the registry's design (read here; aggregated in a worker); with
        ``record``, also the experiment its result is recorded to (refused up front when the
        registry has none, or one without a channel)."""
        registered = (
            await self._registry.experiment(
                org,
                query.experiment_id,
                timeout=_remaining(context),
                field="records.experiment_id",
            )
            if query.experiment_id
            else None
        )
        start, end = query.start, query.end
        note = ""
        if registered is not None and (start is None or end is None):
            registered_design = design_of(registered)
            start, end = experiment_window(registered_design, start, end)
            note = _window_note(registered_design, query.start, query.end, start, end)
        records = await self._memory.scan_frame(
            org, start=start, end=end, sources=query.sources,
            campaign_ids=query.campaign_ids, channels=query.channels,
            timeout=_remaining(context),
        )  # fmt: skip
        target = None
        if record:
            if registered is None:
                raise InvalidSpec(
                    f"experiment {query.experiment_id!r} is not in the registry: "
                    "record_experiment_result needs a registered experiment to record to",
                    field="records.experiment_id",
                )
            target = convert_results.geo_experiment(registered)
        design = design_of(registered) if registered is not None else None
        return RecordsData(records, query.aggregation, query.experiment_id, design), target, note

    async def _record_result(
        self, org: str, data: RecordsData, target: GeoExperiment,
        estimate: causal_pb.EffectEstimate, analysis_id: str, context: grpc.aio.ServicerContext,
        keep: bool = False,
    ) -> tuple[md_pb.ExperimentResult | None, str]:  # fmt: skip
        """Record the estimate as ``target``'s result: (what was recorded, a warning or "") or
        (None, why not). An estimate that failed a check is recorded at its own standard error
        with a warning: withholding results selected on checks that track significance biased
        the calibration (bench/calibration_registry.py --also-withhold; experiment_result's
        docstring). One the registry cannot take (unreachable, or refused) is not recorded; the
        estimate still returns."""
        failed = [c.name for c in estimate.checks if c.outcome == causal_pb.CHECK_OUTCOME_FAILED]
        try:
            records, converted = await self._spend_in_outcome_currency(org, data, target, context)
            lift, currency = await asyncio.to_thread(
                experiment_result.lift_from_records, target, records,
                effect=estimate.point_estimate, stderr=estimate.std_error, alpha=estimate.alpha,
                p_value=estimate.p_value, outcome=estimate.outcome, analysis_id=analysis_id,
            )  # fmt: skip
        except (InsufficientData, MixedCurrencies, DependencyUnavailable) as exc:
            return None, f"experiment result not recorded: {exc}"
        if converted:
            estimate.warnings.append(f"experiment result: {converted}")
        result = convert_results.experiment_result(lift, currency)
        try:
            # a caller that keeps an earlier result (liftos estimate --record without
            # --replace) has the registry decide when it writes, not when the fit began
            stored = await self._registry.record_result(
                org, result, timeout=_remaining(context), keep=keep
            )
        except (DependencyUnavailable, RegistryRefused) as exc:
            return None, f"experiment result not recorded: {exc}"
        if partial := experiment_result.partial_window_note(target, lift):
            estimate.warnings.append(partial)
        if not estimate.supported and failed:
            return stored.result, (
                f"experiment result recorded although the estimate failed its checks "
                f"({', '.join(failed)}); analysis {analysis_id} says why"
            )
        return stored.result, ""

    async def _product_spend(
        self, org: str, start: dt.date | None, end: dt.date | None,
        context: grpc.aio.ServicerContext,
    ) -> tuple[pd.DataFrame, str]:  # fmt: skip
        """The org's product-report spend (AggregateProducts' spend table), which the
        attribution leaves out and says so; with, where it could not be read, the warning."""
        try:
            sums = await aggregate_products(self._memory, org, start, end, spend_only=True,
                                            timeout=_remaining(context),
                                            command="liftos analyze")  # fmt: skip
        except InsufficientData:
            return pd.DataFrame(), ""  # no product records: nothing left out
        except ReplyTooLarge as exc:  # (memory busy: the analysis is retried whole)
            # only this note reads it: the model does not, so the window is not to be cut
            return pd.DataFrame(), (
                "the org's product-report spend over this window is too large for one reply "
                "of memory's AggregateProducts and is not totalled here; product reports are "
                "left out of the attribution, so the model and its figures are unaffected "
                f"(memory: {exc.memory_says})"
            )
        except (DependencyUnavailable, InvalidInput) as exc:
            return pd.DataFrame(), (
                f"the org's product reports could not be read ({exc}): any spend they hold is "
                "not in this model (product reports are left out of the attribution) and is "
                "not counted here"
            )
        return sums.spend, ""

    async def _spend_in_outcome_currency(
        self, org: str, data: RecordsData, target: GeoExperiment,
        context: grpc.aio.ServicerContext,
    ) -> tuple[pd.DataFrame, str]:  # fmt: skip
        """The records with the test channel's spend in the orders' currency (the recorded
        iROAS divides the two), the org's rates read only when they differ."""
        convert_spend = functools.partial(spend_in_outcome_currency, data.records, target.channel)
        try:
            return await asyncio.to_thread(convert_spend, ())
        except MixedCurrencies:
            external = await self._registry.external_factors(org, timeout=_remaining(context))
        fx = attribution.fx_series(
            [(e.name, e.geo, e.days, e.values) for e in external if e.kind == FX_KIND]
        )
        return await asyncio.to_thread(convert_spend, fx)

    async def EstimateEffect(
        self, request: causal_pb.EstimateEffectRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.EstimateEffectResponse:
        record = convert_results.wants_record(request)  # refused before the data is read
        # An inline table of 1M rows takes ~1 s to decode: off the loop (R16-F3).
        question = await asyncio.to_thread(convert.estimate_question, request)
        data: pd.DataFrame | RecordsData | None = question.table
        target, window_note = None, ""
        if question.records is not None:
            data, target, window_note = await self._records(
                question.org_id, question.records, context, record=record
            )
        assert data is not None
        result = await self._compute.run(run_estimate, question.job, data, org=question.org_id)
        spec = result.spec  # a sharp RDD named no treatment: the one it was given
        estimate = convert.estimate_to_proto(
            result.estimate,
            outcome=spec.outcome,
            treatment=spec.treatment,
            summary=result.summary,
            naive=result.naive,
        )
        estimate.strategy.CopyFrom(convert.strategy_to_proto(result.strategy))
        if window_note:
            estimate.warnings.append(window_note)
        analysis_id = new_analysis_id()
        now = dt.datetime.now(dt.UTC)
        stored_request = causal_pb.EstimateEffectRequest()
        stored_request.CopyFrom(request)
        if request.WhichOneof("data") == "table":
            stored_request.ClearField("table")  # the data stays with the caller; keep the question
        analysis = causal_pb.Analysis(
            analysis_id=analysis_id,
            org_id=question.org_id,
            kind=causal_pb.ANALYSIS_KIND_EFFECT_ESTIMATE,
            estimate=estimate,
            request=stored_request,
        )
        analysis.create_time.FromDatetime(now)
        # Stored before the registry hears of it: a result must never name an analysis that a
        # failed store (full disk) or a crash in between left unreadable (audit R19-F-RECORD).
        await asyncio.to_thread(self._analyses.put, _stored_effect(analysis, now))
        recorded = None
        if target is not None and isinstance(data, RecordsData):
            warnings = len(estimate.warnings)
            recorded, why_not = await self._record_result(
                question.org_id,
                data,
                target,
                estimate,
                analysis_id,
                context,
                keep=request.keep_recorded_result,
            )
            if why_not:
                estimate.warnings.append(why_not)
            if len(estimate.warnings) > warnings:
                analysis.estimate.CopyFrom(estimate)
                await asyncio.to_thread(self._analyses.put, _stored_effect(analysis, now))
        return causal_pb.EstimateEffectResponse(
            estimate=estimate, analysis_id=analysis_id, recorded_result=recorded
        )

    async def BuildGraph(
        self, request: causal_pb.BuildGraphRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.BuildGraphResponse:
        graph, treatment, outcome = convert.build_graph_from_request(request)
        analysis = await self._compute.run(
            run_graph_analysis, graph, treatment, outcome, org=request.org_id
        )
        return convert.build_graph_response(graph, analysis)

    async def AnalyzeAttribution(  # type: ignore[override]
        self, request: causal_pb.AnalyzeAttributionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[causal_pb.AnalyzeAttributionResponse]:
        # Room for the three fits that run at once, held from the start: an overloaded service
        # refuses before the first event rather than after streaming half the steps.
        # The detectors run in threads here, which a cancelled task cannot stop: they check
        # the token (mesh.runtime.cancellation), which the call's end sets, however it ends
        # (grpc cancels the task at the deadline, so the token needs none of its own).
        token = CancelToken()
        try:
            # its tasks run for the org it holds the room for (the interceptor checked org_id)
            with self._compute.reserve(ATTRIBUTION_TASKS_AT_ONCE, org=request.org_id):
                async for event in self._analyze_attribution(request, context, token):
                    yield event
        finally:
            token.cancel()

    async def _day_alignment(
        self, org_id: str, panel: Any, context: grpc.aio.ServicerContext
    ) -> list[str]:
        """Channels whose days start hours from the outcome's: the records of the panel's
        last three days carry each account's UTC day start (AggregateRecords' sums do not)."""
        last = dt.date.fromisoformat(str(panel.dates[-1].astype("datetime64[D]")))
        try:
            sample = await self._memory.scan_frame(
                org_id, start=last - dt.timedelta(days=2), end=last, sources=[],
                campaign_ids=[], channels=[], timeout=_remaining(context),
            )  # fmt: skip
        except InsufficientData:
            return []
        return await asyncio.to_thread(day_alignment_warnings, sample, panel.channels)

    async def _analyze_attribution(
        self,
        request: causal_pb.AnalyzeAttributionRequest,
        context: grpc.aio.ServicerContext,
        token: CancelToken,
    ) -> AsyncIterator[causal_pb.AnalyzeAttributionResponse]:
        def thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]:
            return asyncio.to_thread(run_with, token, fn, *args, **kwargs)

        q = convert.attribution_question(request)
        clock = time.perf_counter()
        agg = await self._memory.aggregate(q.org_id, q.start, q.end, timeout=_remaining(context),
                                           # every measure, whatever the outcome: memory marks
                                           # a row's presence only where the sums it sends are
                                           # all zero, so a geo-day of 0 leads and some revenue
                                           # read without its revenue looked missing (R37 F4);
                                           # the budget-response detector reads the orders, and
                                           # each geo's spend per campaign
                                           measures=("spend", "impressions", "conversions",
                                                     "revenue"),
                                           campaign_geo=True)  # fmt: skip
        registered, external, (product_spend, products_unread) = await asyncio.gather(
            # only lift tests of this outcome: a revenue lift cannot calibrate conversions
            self._registry.lift_tests(
                q.org_id, q.start, q.end, outcome=q.outcome, timeout=_remaining(context)
            ),
            self._registry.external_factors(q.org_id, timeout=_remaining(context)),
            self._product_spend(q.org_id, q.start, q.end, context),
        )
        # One currency (converted with the org's registered rates) or a refusal, before any
        # fit: sums in two would be divided by each other. Rates are no demand driver.
        fx = attribution.fx_series(
            [(e.name, e.geo, e.days, e.values) for e in external if e.kind == FX_KIND]
        )
        external = [e for e in external if e.kind != FX_KIND]
        # A channel whose accounts (or stores) bill in two currencies cannot be split from its
        # sums: its records are read, and each converted on its day (R31-F2).
        mixed = mixed_pairs(agg.currencies, outcome=q.outcome, channels=q.channels)
        records = None
        if mixed:  # whatever the rates: a missing one is then named, not the records
            records = await self._memory.scan_frame(
                q.org_id, start=q.start, end=q.end, sources=[], campaign_ids=[],
                channels=sorted({ch for _, ch in mixed}), timeout=_remaining(context),
            )  # fmt: skip
        money = await asyncio.to_thread(
            attribution.in_one_currency, agg.geo_days, agg.campaign_days, agg.campaign_geo_days,
            agg.currencies, fx, outcome=q.outcome, channels=q.channels, records=records,
        )  # fmt: skip
        agg = dataclasses.replace(agg, geo_days=money.geo_days, campaign_days=money.campaign_days,
                                  campaign_geo_days=money.campaign_geo_days)  # fmt: skip
        panel = await asyncio.to_thread(
            attribution.panel_from_aggregates, agg.geo_days, agg.campaign_days,
            outcome_name=q.outcome, channels=q.channels, currency=money.currency,
        )  # fmt: skip
        if external:
            panel = await asyncio.to_thread(
                attribution.with_external_series, panel,
                [(e.name, e.geo, e.days, e.values) for e in external],
            )  # fmt: skip
        from_registry = [
            convert.lift_test(r.result, f"registry:{r.result.experiment_id}", r.treatment_units)
            for r in registered
        ]
        # whose holidays the model controls: the countries and subdivisions its geos name
        calendar = await asyncio.to_thread(
            model_calendar, panel.geos, panel.outcome, panel.dates, panel.outcome_name
        )
        q = dataclasses.replace(q, spec=dataclasses.replace(q.spec, country=calendar))
        usable, skipped = attribution.usable_lift_tests(panel, from_registry)
        merged, twice = one_per_experiment(q.lift_tests, usable)
        skipped = [*registered.skipped, *skipped, *twice]
        tests = tuple(merged)
        seconds = {"retrieve": time.perf_counter() - clock}
        yield _progress("retrieve", f"{agg.record_count:,} records → {panel.n_geos} geos × "
                        f"{panel.n_days} days × {panel.n_channels} channels"
                        + (f"; {len(tests)} lift tests" if tests else "")
                        + f"; holiday calendar: {calendar.label}")  # fmt: skip
        # The full fit, the holdout fit (validation's) and the fit without lift tests are
        # independent of one another and of the confounder detectors: they start now, in the
        # workers, while the detectors read the window here (their lines are only words).
        clock = time.perf_counter()
        # The detectors read the panel's days and geos (media past the last orders is not
        # a run of zero-demand days), as the fit does.
        geo_days = panel.rows_within(agg.geo_days)
        campaign_days = panel.rows_within(agg.campaign_days)
        per_campaign = (
            None if agg.campaign_geo_days is None else panel.rows_within(agg.campaign_geo_days)
        )
        budget_finding = functools.partial(
            confounders_retro.budget_response_finding, geo_days, campaign_days, per_campaign,
            agg.campaign_geo_omitted,  # memory's reason for sending none (too large), said
        )  # fmt: skip
        spec, choice, found_first = q.spec, None, None
        if q.auto_identification:
            # AUTO decides what the fits fit: the panel's spend spread first (cheap), the
            # budget response only where the spread allows GEO (its finding is kept).
            findings: list[tuple[str, float | None]] = []

            def budget_share() -> float | None:
                findings.append(budget_finding())
                return findings[0][1]

            choice = await thread(attribution.choose_identification, panel, budget_share)
            found_first = findings[0] if findings else None
            spec = dataclasses.replace(spec, identification=choice.identification)

        async def without_tests() -> attribution.Uncalibrated | None:
            if not tests:
                return None
            return await self._compute.run(attribution.estimate_uncalibrated, panel, spec, tests)

        async def budget_response() -> tuple[str, float | None]:
            return found_first if found_first is not None else await thread(budget_finding)

        fits = asyncio.ensure_future(asyncio.gather(
            self._compute.run(attribution.estimate, panel, spec, tests),
            self._compute.run(attribution.estimate_holdout, panel, spec, tests),
            without_tests(),
        ))  # fmt: skip
        try:
            prelude, (budget, chased), macro = await asyncio.gather(
                thread(
                    attribution.describe, panel, spec,
                    {e.name: e.kind for e in external if not e.geo}, choice,
                ),
                budget_response(),
                thread(
                    confounders_macro.macro_shock_lines, geo_days,
                    [(e.name, e.geo, e.kind, e.days, e.values) for e in external],
                ),
            )  # fmt: skip
            found = "; ".join((budget, *macro))
            yield _progress("causal_graph", stages.graph_message(prelude))
            yield _progress("confounders", f"{stages.confounders_message(prelude)}; {found}")
            yield _progress("identification", prelude.identification)
            state, holdout, uncalibrated = await fits
        finally:
            fits.cancel()  # a caller gone, a deadline passed, a detector failed: the workers stop
            # whatever the fits end with is read here, not logged as "never retrieved"
            fits.add_done_callback(_retrieved)
        seconds["estimation"] = time.perf_counter() - clock
        yield _progress("estimation", stages.estimation_message(state))
        clock = time.perf_counter()
        health, scores = await asyncio.gather(
            self._compute.run(attribution.validate, state, holdout),
            self._compute.run(attribution.score, state, uncalibrated),
        )
        # budgets chasing demand on many geo-days put the identification at risk, and so do
        # channels with spend a request left out of the model: REVIEW
        health = attribution.with_budget_response(health, chased, spec.identification)
        panel_days = panel.dates.astype("datetime64[D]").astype("int64")
        health = attribution.with_omitted_channels(
            health, attribution.spend_outside(agg.geo_days, q.channels, panel_days)
        )
        seconds["validation+attribution"] = time.perf_counter() - clock
        yield _progress("validation", stages.validation_message(health))
        report = await asyncio.to_thread(
            attribution.assemble, prelude, state, health, scores, uncalibrated, seconds, skipped
        )
        analysis_id = new_analysis_id()
        ctx = convert.ReportContext(analysis_id, q.org_id, agg.record_count,
                                    CODE_VERSION, money.currency,
                                    requested=(q.start, q.end), campaign_names=agg.campaign_names,
                                    identification=(q.auto_identification,
                                                    q.spec.identification, spec.identification))  # fmt: skip
        result = convert.report_to_proto(report, ctx)
        # kept with the analysis: what the window's budgets and macro index did, and any
        # conversion of its money
        result.warnings.extend((budget, *macro, *money.notes))
        # each account's day start against the outcome's (R31 F5): the panel joins local dates
        result.warnings.extend(await self._day_alignment(q.org_id, panel, context))
        # the product reports' spend the model leaves out, said with its amount (R10-F13)
        left_out = products_unread or product_spend_note(
            product_spend, int(panel_days[0]), int(panel_days[-1]),
            sum(float(np.sum(x)) for x in panel.spend), money.currency, panel.channels,
        )  # fmt: skip
        if left_out:
            result.warnings.append(left_out)
        now = dt.datetime.now(dt.UTC)
        analysis = causal_pb.Analysis(analysis_id=analysis_id, org_id=q.org_id,
                                      kind=causal_pb.ANALYSIS_KIND_ATTRIBUTION, attribution=result)  # fmt: skip
        analysis.create_time.FromDatetime(now)
        # the model keeps the health checks' channel identification: its counterfactuals
        # read it rather than compute it per request
        kept = dataclasses.replace(state, identification=health.identification)
        model = await asyncio.to_thread(attribution.state_to_bytes, kept)
        await asyncio.to_thread(
            self._analyses.put_with_model,
            StoredAnalysis(q.org_id, analysis_id, "attribution", now, analysis.SerializeToString()),
            model,
        )
        yield _progress("attribution", stages.attribution_message(report))
        yield causal_pb.AnalyzeAttributionResponse(result=result)

    async def AnalyzeProducts(  # type: ignore[override]
        self, request: causal_pb.AnalyzeProductsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[causal_pb.AnalyzeProductsResponse]:
        q = convert_products.products_question(request)
        clock = time.perf_counter()
        sums = await aggregate_products(
            self._memory, q.org_id, q.start, q.end, timeout=_remaining(context)
        )
        seconds = {"retrieve": time.perf_counter() - clock}
        yield _product_progress("retrieve", f"{sums.record_count:,} product records → "
                                f"{len(sums.sales):,} product-days of sales")  # fmt: skip
        clock = time.perf_counter()
        panel = await asyncio.to_thread(
            product_analysis.build_panel, sums.sales, sums.spend, sums.catalogue,
            start=q.start, end=q.end, channels=q.channels,
        )  # fmt: skip
        panel = await self._first_party_gap(panel, q.org_id, context)
        seconds["panel"] = time.perf_counter() - clock
        n_products = panel.frame["product_id"].nunique()
        yield _product_progress("panel", f"{n_products} products × {panel.frame['date'].nunique()} "
                                f"days × {len(panel.channels)} channels ({panel.currency})")  # fmt: skip
        clock = time.perf_counter()
        job = functools.partial(product_analysis.analyse, alpha=q.alpha,
                                claim_alpha=q.claim_alpha, country=q.country)  # fmt: skip
        report = await self._compute.run(job, panel, org=q.org_id)
        seconds["estimation"] = time.perf_counter() - clock
        claimed = sum(p.verdict != "none" for p in report.effects.pairs)
        yield _product_progress("estimation", f"{len(report.effects.cells)} channel × category "
                                f"cells, {claimed} of {len(report.effects.pairs)} pairs claimed")  # fmt: skip
        analysis_id = new_analysis_id()
        result = convert_products.product_report_to_proto(
            report, analysis_id=analysis_id, record_count=sums.record_count,
            code_version=CODE_VERSION, stage_seconds=seconds,
        )  # fmt: skip
        now = dt.datetime.now(dt.UTC)
        analysis = causal_pb.Analysis(analysis_id=analysis_id, org_id=q.org_id,
                                      kind=causal_pb.ANALYSIS_KIND_PRODUCTS, products=result)  # fmt: skip
        analysis.create_time.FromDatetime(now)
        await asyncio.to_thread(
            self._analyses.put,
            StoredAnalysis(q.org_id, analysis_id, "products", now, analysis.SerializeToString()),
        )
        yield _product_progress("products", f"stored as {analysis_id}")
        yield causal_pb.AnalyzeProductsResponse(result=result)

    async def _first_party_gap(
        self, panel: product_analysis.ProductPanel, org: str, context: grpc.aio.ServicerContext
    ) -> product_analysis.ProductPanel:
        """``panel`` with a warning where its net sales and the org's first-party revenue over
        its days disagree (product_analysis.first_party_gap); unchanged for an org with no
        records beside its products."""
        try:
            totals = await self._memory.aggregate(
                org, panel.start, panel.end, measures=("revenue",), timeout=_remaining(context)
            )
        except InsufficientData:  # no records but the products': nothing to compare with
            return panel
        gap = product_analysis.first_party_gap(panel, totals.currencies)
        return dataclasses.replace(panel, warnings=(*panel.warnings, gap)) if gap else panel

    async def Counterfactual(
        self, request: causal_pb.CounterfactualRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.CounterfactualResponse:
        q = convert.counterfactual_question(request)
        stored = await asyncio.to_thread(self._analyses.get, q.org_id, q.analysis_id)
        blob = await asyncio.to_thread(self._analyses.model, q.org_id, q.analysis_id)
        analysis = convert.require_usable_model(stored.payload, blob, q.analysis_id)
        assert blob is not None
        state = await asyncio.to_thread(attribution.state_from_bytes, blob)
        # The next days' template keeps out of registered test windows (R10-F1): read them
        # only when the question is about the next days.
        registered = (
            await self._registry.tests(q.org_id, timeout=_remaining(context))
            if q.future_days
            else None
        )
        # The table's tests of no effect: the plan reuses their decisions (issue 15).
        job = functools.partial(attribution.plan, start=q.start, end=q.end,
                                future_days=q.future_days, level=q.level,
                                tests=convert.no_effect_tests(analysis),
                                registered=tuple(registered or ()))  # fmt: skip
        result = await self._compute.run(job, state, q.changes, org=q.org_id)
        if registered is not None and registered.unread:
            result = dataclasses.replace(
                result,
                warnings=(*result.warnings, *_unread_tests(registered.unread, q.future_days)),
            )
        return convert.counterfactual_response(result)

    async def ListAnalyses(
        self, request: causal_pb.ListAnalysesRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.ListAnalysesResponse:
        question = convert.list_analyses_question(request)
        page, token = await asyncio.to_thread(
            self._analyses.page,
            question.org_id,
            kind=question.kind,
            size=question.page_size,
            token=question.page_token,
        )
        return causal_pb.ListAnalysesResponse(
            analyses=[convert.analysis_summary(stored.payload) for stored in page],
            next_page_token=token,
        )

    async def GetAnalysis(
        self, request: causal_pb.GetAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.GetAnalysisResponse:
        org, analysis_id = convert.analysis_id_from_proto(request)
        stored = await asyncio.to_thread(self._analyses.get, org, analysis_id)
        return causal_pb.GetAnalysisResponse(analysis=causal_pb.Analysis.FromString(stored.payload))

    async def DeleteAnalyses(
        self, request: causal_pb.DeleteAnalysesRequest, context: grpc.aio.ServicerContext
    ) -> causal_pb.DeleteAnalysesResponse:
        q = convert.delete_analyses_question(request)
        deleted = await asyncio.to_thread(
            self._analyses.delete, q.org_id, q.analysis_ids, dry_run=q.dry_run
        )
        log_deletion("DeleteAnalyses", q.org_id, q.analysis_ids, dry_run=q.dry_run,  # V2-F7
                     deleted=deleted.deleted_ids, not_found=deleted.not_found,
                     what="analyses", extra="with their fitted models")  # fmt: skip
        return convert.deleted_to_proto(deleted)


def _stored_effect(analysis: causal_pb.Analysis, now: dt.datetime) -> StoredAnalysis:
    return StoredAnalysis(
        analysis.org_id, analysis.analysis_id, "effect_estimate", now, analysis.SerializeToString()
    )
