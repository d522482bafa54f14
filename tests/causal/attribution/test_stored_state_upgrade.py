"""A model state stored by an older build (s19 R39 F1): every attribution analysis stored before
MediaPanel gained ``warnings`` and ``checks`` failed Counterfactual with INTERNAL after the
upgrade, because a slots dataclass unpickles only the fields it was stored with. Over a real
mesh (memory, ingestion, causal; the analysis store's SQLite): the stored model is rewritten as
a past build pickled it — the field lists of that commit's classes — and Counterfactual answers
as on the fresh state; a state that cannot be repaired (a field with no default, or a layout
whose fields were since reordered, s19 V2-F6) is FAILED_PRECONDITION, reason
MODEL_STATE_OUTDATED, naming the way out."""

from __future__ import annotations

import io
import pickle
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

import sim
from causal_svc.attribution import MediaPanel
from causal_svc.attribution.calibration import LiftTest
from causal_svc.attribution.fit import (
    Convergence,
    FitState,
    restore_fit,
    state_from_bytes,
    state_to_bytes,
)
from causal_svc.attribution.health import ChannelIdentification, channel_identification
from causal_svc.attribution.spec import ModelSpec, Priors
from causal_svc.attribution.stored_state import StoredStateOutdated, fill_missing_fields
from mesh.runtime.inprocess import RunningService
from tests.support import error_details

from .records import world_mesh

ORG = "upgraded"
# What the build at 155917f (2026-12-07 07:59) pickled: today's classes less the fields
# appended since (`git show 155917f:causal_svc/attribution/spec.py` etc.; every other class
# reachable from FitState had today's fields there).
AT_155917F: dict[type, tuple[str, ...]] = {
    ModelSpec: ("holdout_fit_to_window",),
    LiftTest: ("counterfactual_spend", "spend_added", "spend_removed"),
}
# The build before it (59006fa): MediaPanel also lacked the two unreported shares, which
# 155917f inserted before outcome_name, warnings and checks, so its values are in other places.
AT_59006FA: dict[type, tuple[str, ...]] = {
    **AT_155917F,
    MediaPanel: ("platform_unreported_share", "campaign_platform_unreported_share"),
}


def _as_stored_without(state: object, newer: dict[type, tuple[str, ...]]) -> bytes:
    """``state`` pickled as a build without ``newer``'s fields pickled it: a slots dataclass
    pickles the list of its fields' values, so that build's list is ours less those."""

    class OldPickler(pickle.Pickler):
        def reducer_override(self, obj: object) -> Any:
            drop = newer.get(type(obj), ())
            if not drop:
                return NotImplemented
            values = [getattr(obj, f.name) for f in fields(obj) if f.name not in drop]  # type: ignore[arg-type]
            return object.__new__, (type(obj),), values

    out = io.BytesIO()
    OldPickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return zlib.compress(out.getvalue(), 3)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mesh")


@pytest.fixture(scope="module")
def mesh(data_dir: Path) -> Iterator[dict[str, RunningService]]:
    world = sim.simulate("demo", seed=3, days=120, dirt=False, n_geos=10)
    with world_mesh(data_dir, {ORG: world}) as services:
        yield services


@pytest.fixture(scope="module")
def stub(mesh: dict[str, RunningService]) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


@pytest.fixture(scope="module")
def analysis(stub: causal_grpc.CausalServiceStub) -> pb.AttributionResult:
    request = pb.AnalyzeAttributionRequest(org_id=ORG)
    return list(stub.AnalyzeAttribution(request, timeout=600))[-1].result


def _model(data_dir: Path, analysis_id: str) -> bytes:
    with sqlite3.connect(data_dir / "causal" / "analyses.sqlite") as db:
        (blob,) = db.execute(
            "SELECT model FROM analysis_models WHERE org_id = ? AND analysis_id = ?",
            (ORG, analysis_id),
        ).fetchone()
    return bytes(blob)


def _store_model(data_dir: Path, analysis_id: str, blob: bytes) -> None:
    with sqlite3.connect(data_dir / "causal" / "analyses.sqlite") as db:
        db.execute(
            "UPDATE analysis_models SET model = ? WHERE org_id = ? AND analysis_id = ?",
            (blob, ORG, analysis_id),
        )


def _without(
    stub: causal_grpc.CausalServiceStub, analysis: pb.AttributionResult
) -> pb.CounterfactualResponse:
    return stub.Counterfactual(pb.CounterfactualRequest(
        org_id=ORG, analysis_id=analysis.analysis_id,
        changes=[pb.SpendChange(channel=analysis.channels[0].channel, multiplier=0.0)],
    ), timeout=300)  # fmt: skip


def test_a_state_stored_before_newer_fields_answers_counterfactuals(
    data_dir: Path, stub: causal_grpc.CausalServiceStub, analysis: pb.AttributionResult
) -> None:
    fresh = _model(data_dir, analysis.analysis_id)
    before = _without(stub, analysis)
    old = _as_stored_without(state_from_bytes(fresh), AT_155917F)
    _store_model(data_dir, analysis.analysis_id, old)
    try:
        after = _without(stub, analysis)
    finally:
        _store_model(data_dir, analysis.analysis_id, fresh)
    # the same model answers: the newer fields hold nothing the figures read
    assert after.delta.estimate == before.delta.estimate
    assert (after.delta.lower, after.delta.upper) == (before.delta.lower, before.delta.upper)
    assert [c.channel for c in after.channels] == [c.channel for c in before.channels]


def test_a_state_that_cannot_be_repaired_is_refused_with_the_way_out(
    data_dir: Path, stub: causal_grpc.CausalServiceStub, analysis: pb.AttributionResult
) -> None:
    fresh = _model(data_dir, analysis.analysis_id)
    # A FitState stored without its convergence (a field with no default to give it), bytes
    # naming a class this version no longer has, and a panel as 59006fa pickled it: read by
    # position, its outcome name would land in platform_unreported_share.
    missing = _as_stored_without(
        state_from_bytes(fresh), {FitState: ("convergence", "demand", "identification")}
    )
    renamed = zlib.compress(pickle.dumps(state_from_bytes(fresh)).replace(b"FitState", b"FitStat0"))
    shifted = _as_stored_without(state_from_bytes(fresh), AT_59006FA)
    for blob, named in (
        (missing, "FitState has no 'convergence'"),
        (renamed, "FitStat0"),
        (shifted, "MediaPanel.platform_unreported_share holds a str where this version keeps"),
    ):
        _store_model(data_dir, analysis.analysis_id, blob)
        try:
            with pytest.raises(grpc.RpcError) as e:
                _without(stub, analysis)
        finally:
            _store_model(data_dir, analysis.analysis_id, fresh)
        assert e.value.code() is grpc.StatusCode.FAILED_PRECONDITION, e.value.details()
        assert error_details(e.value)[0] == "MODEL_STATE_OUTDATED"
        details = e.value.details() or ""
        assert details.startswith("re-run analyze: this analysis was stored by an older LiftOS")
        assert named in details and "analyse the same window again" in details


def test_every_dataclass_in_the_state_is_repaired(
    data_dir: Path, analysis: pb.AttributionResult
) -> None:
    # Not only the panel: the spec's priors and a nested dataclass (Convergence) too, and the
    # repaired state pickles again (what sending it to a compute worker does).
    state = state_from_bytes(_model(data_dir, analysis.analysis_id))
    newer: dict[type, tuple[str, ...]] = {
        **AT_155917F,
        Priors: ("effect_df",),
        Convergence: ("at_bounds",),
    }
    with pytest.raises(StoredStateOutdated):  # Convergence.at_bounds has no default
        state_from_bytes(_as_stored_without(state, newer))
    newer = {**AT_155917F, Priors: ("carryover_log_shape", "carryover_log_scale", "effect_df")}
    repaired = state_from_bytes(_as_stored_without(state, newer))
    assert repaired.spec.priors == state.spec.priors
    assert repaired.spec.holdout_fit_to_window is False  # its default: as before the field
    assert state_to_bytes(repaired)
    fill_missing_fields(state)  # a complete state is left as it is
    assert state.spec == state_from_bytes(_model(data_dir, analysis.analysis_id)).spec


def _asked(
    stub: causal_grpc.CausalServiceStub, analysis: pb.AttributionResult, moves: dict[str, float]
) -> pb.CounterfactualResponse:
    return stub.Counterfactual(pb.CounterfactualRequest(
        org_id=ORG, analysis_id=analysis.analysis_id,
        changes=[pb.SpendChange(channel=c, multiplier=m) for c, m in moves.items()],
    ), timeout=300)  # fmt: skip


def test_the_model_keeps_the_analysis_identification_and_answers_as_without_it(
    data_dir: Path, stub: causal_grpc.CausalServiceStub, analysis: pb.AttributionResult
) -> None:
    """s21: every Counterfactual computed the channel identification again (a Jacobian and a
    pinv since health_prior). The stored model now carries the analysis's own (its health
    checks'), and a counterfactual reads it: the answers are those of the same model stored
    without it (as before this field: computed per request)."""
    fresh = _model(data_dir, analysis.analysis_id)
    state = state_from_bytes(fresh)
    found = state.identification
    assert isinstance(found, ChannelIdentification)
    assert found.unidentified == channel_identification(restore_fit(state)).unidentified
    assert set(found.unidentified) == set(analysis.health.unidentified_channels)
    names = [c.channel for c in analysis.channels]
    plans = [
        *({n: m} for n in names for m in (0.5, 3.0)),
        dict.fromkeys(names, 1.5),  # every channel at once (groups moved together)
        {names[0]: 2.0, names[-1]: 0.0},
    ]
    stored = [_asked(stub, analysis, p) for p in plans]
    _store_model(
        data_dir, analysis.analysis_id, state_to_bytes(replace(state, identification=None))
    )
    try:
        computed = [_asked(stub, analysis, p) for p in plans]
    finally:
        _store_model(data_dir, analysis.analysis_id, fresh)
    for plan, a, b in zip(plans, stored, computed, strict=True):
        assert a == b, plan
    # the worlds' unidentified channels are among those asked about (their rows and warnings
    # are what the identification decides)
    assert set(found.unidentified) <= set(names)


def _renamed(blob: bytes, *names: bytes) -> bytes:
    """``blob`` as a build where each of ``names`` (a class) has moved: unresolvable here."""
    raw = zlib.decompress(blob)
    for name in names:
        assert name in raw, name
        raw = raw.replace(name, name[:-1] + b"0")
    return zlib.compress(raw)


def test_a_moved_identification_class_drops_the_cache_not_the_model(
    data_dir: Path, stub: causal_grpc.CausalServiceStub, analysis: pb.AttributionResult
) -> None:
    """V1-F5: the stored identification is a health class stored by its path; a build that
    moved it (health.py is split check by check) refused every model stored since with
    MODEL_STATE_OUTDATED, though the field is a cache counterfactual() computes again. Now
    the model reads without it and answers as it did."""
    fresh = _model(data_dir, analysis.analysis_id)
    before = _without(stub, analysis)
    moved = _renamed(fresh, b"ChannelIdentification")
    assert state_from_bytes(moved).identification is None
    _store_model(data_dir, analysis.analysis_id, moved)
    try:
        after = _without(stub, analysis)
    finally:
        _store_model(data_dir, analysis.analysis_id, fresh)
    assert after == before
    # a class the model itself needs, moved: refused as before
    with pytest.raises(StoredStateOutdated, match="Convergenc0"):
        state_from_bytes(_renamed(fresh, b"ChannelIdentification", b"Convergence"))
