"""SurfacingService servicer: thin — convert the request, fetch the analysis and the history
from the peers (with the caller's remaining time), run the domain off the event loop
(``asyncio.to_thread``), convert the answer.

The domain's work in a thread stops when the call is abandoned (:func:`_compute`): the
thread cannot be stopped from outside, so it carries a cancellation token that the servicer
sets when the client cancels or its deadline passes, and the domain's hot loops check it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import ParamSpec, TypeVar

import grpc
import pandas as pd
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

from mesh.runtime.cancellation import Cancelled, CancelToken, run_with
from mesh.runtime.exceptions import LiftosError
from mesh.runtime.money import FxSeries
from mesh.runtime.status import code_for, grpc_code
from surfacing_svc import convert
from surfacing_svc.convert import products as convert_products
from surfacing_svc.convert.drift import stored_reading
from surfacing_svc.convert.fields import FieldChecks
from surfacing_svc.data_drift import DataDrift, StoredReading, data_drift, unchecked
from surfacing_svc.errors import InvalidRequest, NotAnAttribution, RegistryUnavailable
from surfacing_svc.intervals import Interval
from surfacing_svc.peers import AnalysisReader, HistoryReader, OrgCalendar, RegistryWriter
from surfacing_svc.planning import (
    EffectEvidence,
    PlanningModel,
    Recommendations,
    RecommendQuestion,
    answer_design,
    answer_forecast,
    answer_optimize,
    answer_recommend,
    design_metric,
    outcome_value,
)
from surfacing_svc.products import losing_cells, product_actions
from surfacing_svc.recommend import ActionKind, refuse_spend_in_doubt, with_counterfactual
from surfacing_svc.reversals import (
    against_previous,
    not_compared,
    previous_analysis,
    previous_calls,
)
from surfacing_svc.usual_spend import RegisteredTest, RegisteredTests

P = ParamSpec("P")
T = TypeVar("T")


async def _compute(
    context: grpc.aio.ServicerContext, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """``fn(*args, **kwargs)`` in a worker thread that stops at its next checkpoint
    (:mod:`mesh.runtime.cancellation`) once the call is cancelled or its deadline passes.

    grpc.aio cancels the handler's task when the client leaves; the thread would run on, so
    the cancellation (and the call's end, whatever it is) is passed to the token, and the
    token also holds the call's deadline, for work that outlives it before grpc says so."""
    token = CancelToken.within(context.time_remaining())
    context.add_done_callback(lambda _: token.cancel())  # type: ignore[arg-type]  # any call shape
    try:
        return await asyncio.to_thread(run_with, token, fn, *args, **kwargs)
    except asyncio.CancelledError:
        token.cancel()
        raise
    except Cancelled as stopped:  # the thread saw the deadline before grpc ended the call
        code = grpc.StatusCode.DEADLINE_EXCEEDED if stopped.deadline else grpc.StatusCode.CANCELLED
        await context.abort(code, f"{stopped}; the work was stopped")
        raise  # unreachable: abort raises


class SurfacingService(surfacing_grpc.SurfacingServiceServicer):
    def __init__(
        self, analyses: AnalysisReader, history: HistoryReader, registry: RegistryWriter
    ) -> None:
        self._analyses = analyses
        self._history = history
        self._registry = registry

    async def _stored(
        self, org: str, analysis_id: str, context: grpc.aio.ServicerContext, field: str
    ) -> tuple[PlanningModel, StoredReading | None]:
        """The analysis as a plan reads it, and what it read from the history (to tell
        whether that has changed since: :mod:`surfacing_svc.data_drift`)."""
        analysis = await self._analyses.get(
            org, analysis_id, field=field, timeout=context.time_remaining()
        )
        return await _compute(context, convert.planning_model, analysis), stored_reading(analysis)

    async def DesignExperiment(
        self, request: pb.DesignExperimentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DesignExperimentResponse:
        q = convert.design_question(request)
        model, reading = (
            await self._stored(q.org_id, q.analysis_id, context, "analysis_id")
            if q.analysis_id
            else (None, None)
        )
        q = design_metric(q, model)  # the analysis's outcome: the experiment records it too
        # A registered test's window is not the channel's business as usual (R5-F4).
        rates, tests, seasons = await self._rates_and_tests(q.org_id, context)
        frame = await self._history.sums_frame(
            q.org_id, start=q.history_start, end=q.history_end, fx=rates,
            timeout=context.time_remaining(),
        )  # fmt: skip
        design, history = await _compute(context, answer_design, frame, q, model, tests, seasons)
        drift = await self._drift(context, frame, reading, q.history_start, q.history_end)
        last = history.dates[-1].item()
        q = replace(q, experiment_id=q.experiment_id or convert.design_id())
        experiments = [convert.cell_experiment(q, design, c, last) for c in design.cells]
        control = convert.shared_control(q, design, last)
        if q.save:
            # The shared control first: the first-created experiment labels a unit's rows.
            if control is not None:
                control = await self._registry.create(
                    control, field="experiment_id", timeout=context.time_remaining()
                )
            for i, e in enumerate(experiments):
                experiments[i] = await self._registry.create(
                    e, field="experiment_id", timeout=context.time_remaining()
                )
        reply = convert.design_to_proto(design, experiments, saved=q.save, control=control)
        reply.warnings.extend(drift.warnings("design") if drift else ())
        return reply

    async def PredictPerformance(
        self, request: pb.PredictPerformanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictPerformanceResponse:
        q = convert.forecast_question(request)
        model, reading = (
            await self._stored(q.org_id, q.analysis_id, context, "analysis_id")
            if q.analysis_id
            else (None, None)
        )
        # No country named: the holidays the analysis controlled, said (else the US)
        q, held = convert.forecast_country(q, model)
        # The registered calendar: a history ending inside a sale is not carried forward as
        # the level, and the org's own seasons stand in for the built-in ones; its exchange
        # rates convert the history's money. Without it the forecast still stands, and says so.
        # Every channel without spend is planned (scaled, or kept at its input: R20-F4).
        notes = (*held, *(model.notes([c.channel for c in model.unpriced]) if model else ()))
        try:
            calendar = await self._registry.calendar(q.org_id, timeout=context.time_remaining())
        except RegistryUnavailable as error:
            calendar = OrgCalendar()
            notes = (*notes, f"the org's calendar could not be read ({error}); a history ending "
                     "inside a promotion carries it forward, and only the built-in retail "
                     "seasons are modelled, not the org's own")  # fmt: skip
        # A stored analysis's forecast starts after its window: the read reaches over the
        # horizon too, so that the days memory already holds are said.
        end = model.end + dt.timedelta(days=q.horizon) if model else None
        frame = await self._history.sums_frame(
            q.org_id, start=None, end=end, fx=calendar.fx, timeout=context.time_remaining()
        )
        forecast = await _compute(
            context, answer_forecast, frame, q, model, calendar.promotions, calendar.seasons,
            calendar.tests,
        )  # fmt: skip
        # Restated or late rows in the analysis's window: said, since the forecast reads them.
        drift = await self._drift(context, frame, reading, None, model.end if model else None)
        notes = (*notes, *(drift.warnings("forecast") if drift else ()))
        return convert.forecast_to_proto(forecast, model.outcome if model else q.metric, notes)

    async def OptimizeBudget(
        self, request: pb.OptimizeBudgetRequest, context: grpc.aio.ServicerContext
    ) -> pb.OptimizeBudgetResponse:
        q = convert.optimize_question(request)
        model, reading = await self._stored(q.org_id, q.analysis_id, context, "analysis_id")
        convert.check_budget_currency(request, model.currency)
        plan, days = await _compute(context, answer_optimize, model, q)
        # The plan is the analysis's as made: restated rows, a revised rate since are said
        # first, as PredictPerformance says them (R33-F1).
        changed, _ = await self._window_changes(
            q.org_id, (model.start, model.end), reading, "plan", context
        )
        return convert.plan_to_proto(plan, horizon_days=days, metric=model.outcome,
                                     currency=model.currency,
                                     warnings=(*changed, *model.notes(
                                         [b.channel for b in q.bounds
                                          if b.cost_per_input is not None])))  # fmt: skip

    async def Recommend(
        self, request: pb.RecommendRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecommendResponse:
        q = convert.recommend_question(request)
        named_any = bool(q.analysis_ids)
        q, products = await self._product_analyses(q, context)
        if not q.analysis_ids and named_any:  # product analyses alone: their actions alone
            return _with_products(pb.RecommendResponse(), products, q.max_results)
        if not q.analysis_ids:
            try:
                latest = await self._analyses.latest_attribution(
                    q.org_id, timeout=context.time_remaining()
                )
            except NotAnAttribution:
                if not products:
                    raise
                return _with_products(pb.RecommendResponse(), products, q.max_results)
            q = replace(q, analysis_ids=(latest,))
        try:
            model, reading = await self._stored(
                q.org_id, q.analysis_ids[0], context, "analysis_ids[0]"
            )
            refuse_spend_in_doubt(model.analysis_id, model.spend_in_doubt)
        except NotAnAttribution as error:
            if not products:
                raise
            # A failed model moves no channel, but the product analyses stand on their own.
            reply = pb.RecommendResponse(warnings=[f"no channel actions: {error}"])
            return _with_products(reply, products, q.max_results)
        try:  # a conversions analysis without a value per conversion: refused before any work
            outcome_value(model, q)
        except InvalidRequest as error:
            if not products:
                raise
            reply = pb.RecommendResponse(warnings=[f"no channel actions: {error.message}"])
            return _with_products(reply, products, q.max_results)
        # The other analyses named, or else the org's failed effect estimates: a channel
        # whose estimate failed its checks is tested, not moved.
        if len(q.analysis_ids) > 1:
            others = [
                await self._analyses.get(q.org_id, a, field=f"analysis_ids[{i}]",
                                         timeout=context.time_remaining())
                for i, a in enumerate(q.analysis_ids[1:], start=1)
            ]  # fmt: skip
        else:
            others = await self._analyses.failed_effects(q.org_id, timeout=context.time_remaining())
        evidence = convert.effect_evidence(others, model)
        unused = [
            a.analysis_id
            for a in others
            if a.WhichOneof("result") == "attribution" and a.analysis_id != model.analysis_id
        ]
        if unused:  # one model is planned on; say so rather than drop them silently
            model = replace(model, warnings=(*model.warnings, "only the first attribution "
                            f"analysis is recommended from; not used: {', '.join(unused)}"))  # fmt: skip
        used = tuple(dict.fromkeys((*q.analysis_ids, *(e.analysis_id for e in evidence))))
        q = replace(q, analysis_ids=used)
        history, tests, drift, seasons = None, RegisteredTests(), None, None
        failed = {e.channel for e in evidence if not e.supported}
        at_risk = model.at_risk()  # channels whose draws may ask for a scale that needs a test
        if q.design_tests and any(
            not c.identified or c.channel in failed or c.channel in at_risk for c in model.curves
        ):
            # Proposed tests are designed as DesignExperiment designs them: a registered
            # test's window is not business as usual (R5-F4), the org's seasons are peaks it
            # is checked against (R51-F3), and the history they read now may differ from the
            # analysis's (R5-F3).
            rates, tests, seasons = await self._rates_and_tests(q.org_id, context)
            history = await self._history.sums_frame(
                q.org_id, start=None, end=model.end, fx=rates, timeout=context.time_remaining(),
            )  # fmt: skip
            drift = await self._drift(context, history, reading, None, model.end)
        else:  # a channel whose registered test awaits its read-out is held (R42-F1)
            tests = await self._registry.tests(q.org_id, timeout=context.time_remaining())
        answer = await _compute(
            context, answer_recommend, model, q, history, evidence, tests, seasons=seasons
        )
        answer = await self._against_previous(answer, model, q, evidence, tests, context)
        answer = await self._checked_reallocation(answer, model, q, context)
        # The actions are the analysis's as made, whatever changed under its window since:
        # said first, always (R33-F1: only a proposed design said it); a proposed design reads
        # the data as it is now, and says that too.
        if drift is None:
            changed, _ = await self._window_changes(
                q.org_id, (model.start, model.end), reading, "recommendation", context
            )
        else:
            changed = drift.warnings("recommendation", as_made=True)
        if drift is not None and any(a.design is not None for a in answer.actions):
            changed = (*changed, *drift.warnings("proposed test design"))
        answer = replace(answer, warnings=(*changed, *answer.warnings))
        experiments = {
            a.channel: convert.proposed_experiment(q.org_id, a.design, model.outcome, model.end)
            for a in answer.actions
            if a.design is not None
        }
        reply = convert.recommendations_to_proto(answer, q, experiments)
        return _with_products(reply, products, q.max_results)

    async def _against_previous(
        self, answer: Recommendations, model: PlanningModel, q: RecommendQuestion,
        evidence: Sequence[EffectEvidence], tests: Sequence[RegisteredTest],
        context: grpc.aio.ServicerContext,
    ) -> Recommendations:  # fmt: skip
        """``answer`` compared with the org's previous analysis of the same outcome whose window
        overlaps this one's (:mod:`surfacing_svc.reversals`, R42-F2): one more list and one
        more GetAnalysis within the caller's deadline. A previous analysis that is missing,
        cannot be read or failed its health checks never fails Recommend: "not compared"."""
        try:
            listed = convert.listed_analyses(await self._analyses.attributions(
                q.org_id, timeout=context.time_remaining()))  # fmt: skip
            previous_id, why = previous_analysis(
                listed, model.analysis_id, model.outcome, model.start, model.end
            )
            if not previous_id:
                return not_compared(answer, why)
            analysis = await self._analyses.get(
                q.org_id, previous_id, timeout=context.time_remaining()
            )
            previous = await _compute(context, convert.planning_model, analysis)
            refuse_spend_in_doubt(previous.analysis_id, previous.spend_in_doubt)
            calls = await _compute(context, previous_calls, previous, q, evidence, tests)
        except LiftosError as error:
            return not_compared(answer, f"the previous analysis could not be read: {error}")
        except grpc.aio.AioRpcError as error:
            return not_compared(answer, f"the previous analysis could not be read "
                                f"({error.code().name}: {error.details()})")  # fmt: skip
        return await _compute(context, against_previous, answer, model, calls,
                              outcome_value(model, q), q.horizon_days)  # fmt: skip

    async def _checked_reallocation(
        self, answer: Recommendations, model: PlanningModel, q: RecommendQuestion,
        context: grpc.aio.ServicerContext,
    ) -> Recommendations:  # fmt: skip
        """The reallocation with Counterfactual's figure for its spends beside its own, so
        that checking it with `liftos counterfactual` holds no surprise (R10-F5). Over the
        analysis window only (a future horizon's business as usual is another question); if
        the causal service cannot answer, the reallocation stands without it, and says so."""
        index = next((i for i, a in enumerate(answer.actions)
                      if a.kind is ActionKind.REALLOCATE and a.spends), None)  # fmt: skip
        if index is None or q.horizon_days:
            return answer
        action = answer.actions[index]
        try:
            reply = await self._analyses.counterfactual(
                q.org_id, model.analysis_id, action.spends, level=q.level,
                timeout=context.time_remaining(),
            )  # fmt: skip
        except grpc.aio.AioRpcError as error:
            return replace(answer, warnings=(*answer.warnings, (
                f"the reallocation's Counterfactual could not be read ({error.code().name}: "
                f"{error.details()}); its figures are the planning curves' only")))  # fmt: skip
        d = reply.delta
        checked = with_counterfactual(action, Interval(d.estimate, d.lower, d.upper, q.level),
                                      outcome_value(model, q))  # fmt: skip
        actions = (*answer.actions[:index], checked, *answer.actions[index + 1 :])
        return replace(answer, actions=actions)

    async def _drift(
        self, context: grpc.aio.ServicerContext, frame: pd.DataFrame,
        reading: StoredReading | None, start: dt.date | None, end: dt.date | None,
    ) -> DataDrift | None:  # fmt: skip
        """How the history read now (``frame``, for [start, end]) differs from what the
        analysis read (None: no analysis, or one without a daily series)."""
        if reading is None:
            return None
        return await _compute(context, data_drift, frame, reading, start=start, end=end)

    async def CheckAnalysisData(
        self, request: pb.CheckAnalysisDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckAnalysisDataResponse:
        """Recommend's and OptimizeBudget's first lines alone, for the answers read from the
        analysis as it was made without the history (Counterfactual, Explain: R33-F1)."""
        check = FieldChecks()
        check.org(request.org_id)
        if not request.analysis_id:
            check.add("analysis_id", "analysis_id is required (liftos analyses lists them)")
        check.done()
        analysis = await self._analyses.get(
            request.org_id, request.analysis_id, timeout=context.time_remaining()
        )
        reading = stored_reading(analysis)
        if reading is None:  # an effect estimate, a product analysis: it kept nothing to compare
            return pb.CheckAnalysisDataResponse()
        window = (reading.dates[0].item(), reading.dates[-1].item())
        changed, days = await self._window_changes(
            request.org_id, window, reading, "answer", context
        )
        return pb.CheckAnalysisDataResponse(warnings=changed, compared_days=days)

    async def _window_changes(
        self, org_id: str, window: tuple[dt.date, dt.date], reading: StoredReading | None,
        answer: str, context: grpc.aio.ServicerContext,
    ) -> tuple[tuple[str, ...], int]:  # fmt: skip
        """What changed under the analysis's ``window`` since it was made, in words, for an
        ``answer`` computed from the analysis as it was made (none: nothing changed, or the
        analysis kept no daily series), and how many days were compared. The window's
        history is read as PredictPerformance reads it (the registered rates convert it: a
        revised rate is a change); a history that cannot be read, for whatever reason, is
        said with its code, not raised, since the answer stands without it."""
        if reading is None:
            return (), 0
        start, end = window
        try:
            rates, _, _ = await self._rates_and_tests(org_id, context)
            frame = await self._history.sums_frame(
                org_id, start=start, end=end, fx=rates, timeout=context.time_remaining()
            )
        except LiftosError as error:
            return (unchecked(answer, f"{grpc_code(code_for(type(error))).name}: {error}"),), 0
        except grpc.aio.AioRpcError as error:
            # memory shedding load (RESOURCE_EXHAUSTED while an ingest runs), or any refusal
            # sums_frame passes on: the plan stands without the check (s18 V2-F8: INTERNAL)
            return (unchecked(answer, f"{error.code().name}: {error.details()}"),), 0
        drift = await self._drift(context, frame, reading, start, end)
        return (drift.warnings(answer, as_made=True), drift.compared_days) if drift else ((), 0)

    async def _rates_and_tests(
        self, org_id: str, context: grpc.aio.ServicerContext
    ) -> tuple[list[FxSeries], RegisteredTests, dict[str, dict[dt.date, float]]]:  # fmt: skip
        """The org's registered exchange rates, tests and seasons from one read of its
        calendar, which carries them all (they had been two, listing the experiments twice).
        Without the factors no rates (a history in one currency needs none, one in two is then
        refused naming the rate) and no seasons (a design checks the built-in calendar only),
        and the tests are read alone (their own reading says if that fails too)."""
        try:
            calendar = await self._registry.calendar(org_id, timeout=context.time_remaining())
        except RegistryUnavailable:
            return [], await self._registry.tests(org_id, timeout=context.time_remaining()), {}
        return calendar.fx, calendar.tests, calendar.seasons

    async def _product_analyses(
        self, q: RecommendQuestion, context: grpc.aio.ServicerContext
    ) -> tuple[RecommendQuestion, list[causal_pb.Analysis]]:
        """The product analyses among ``analysis_ids`` (taken out of them), or, when none is
        named, the org's latest one (when it has one): Recommend adds their product actions."""
        if not q.analysis_ids:
            latest = await self._analyses.latest_products(
                q.org_id, timeout=context.time_remaining()
            )
            return q, [latest] if latest is not None else []
        named = await asyncio.gather(*(
            self._analyses.get(q.org_id, a, field=f"analysis_ids[{i}]",
                               timeout=context.time_remaining())
            for i, a in enumerate(q.analysis_ids)
        ))  # fmt: skip
        products = [a for a in named if a.WhichOneof("result") == "products"]
        ids = {a.analysis_id for a in products}
        return replace(q, analysis_ids=tuple(a for a in q.analysis_ids if a not in ids)), products


def _with_products(
    reply: pb.RecommendResponse, products: list[causal_pb.Analysis], max_results: int
) -> pb.RecommendResponse:
    """``reply`` with the product analyses' actions after its own (``surfacing_svc.products``),
    as many as ``max_results`` leaves room for."""
    for analysis in products:
        room = max_results - len(reply.recommendations)
        evidence = convert_products.product_evidence(analysis)
        actions = product_actions(evidence)
        reply.warnings.extend(losing_cells(evidence))
        if len(actions) > room:
            reply.warnings.append(
                f"{len(actions) - max(room, 0)} product actions of {analysis.analysis_id} "
                "left out by max_results"
            )
        reply.recommendations.extend(
            convert_products.product_recommendations(
                actions[: max(room, 0)], analysis.analysis_id,
                len(reply.recommendations) + 1, evidence.currency,
            )
        )  # fmt: skip
    return reply
