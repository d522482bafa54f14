"""EstimateEffect on odd inline tables, for every method: none may end INTERNAL or UNKNOWN.

A valid 8-geo × 12-day table (half the geos treated from day 6, a true effect of 5) with the
roles each method reads, then one or two changes drawn from: a cell or a whole role column
at a magnitude's edge (1e308, 5e-324, ×1e200, ×1e-200, 1e31), NaN or ±inf; a constant
column; an empty name or a name twice in a role list (covariates, instruments, effect
modifiers); a column duplicated under its own name or a new one. Seeded (derandomized), so
the cases are the same on every run. Helper C's campaign found INTERNALs here (an empty
covariate name: KeyError; one 1e308 outcome: SVD did not converge; ×1e200: ZeroDivisionError).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc.app import build as causal_build
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import frame_to_table

EXAMPLES = 20
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
PANEL = {"outcome": "y", "treatment": "treated", "unit": "geo", "time": "day"}
COVARIATES = {"outcome": "y", "treatment": "treated", "covariates": ["x", "z"]}
ROLES: dict[int, dict[str, Any]] = {
    pb.ESTIMATION_METHOD_AUTO: PANEL,
    pb.ESTIMATION_METHOD_DIFFERENCE_IN_MEANS: {"outcome": "y", "treatment": "treated"},
    pb.ESTIMATION_METHOD_DID: {**PANEL, "covariates": ["x"]},
    pb.ESTIMATION_METHOD_EVENT_STUDY: PANEL,
    pb.ESTIMATION_METHOD_STAGGERED_DID: PANEL,
    pb.ESTIMATION_METHOD_IV: {
        "outcome": "y",
        "treatment": "treated",
        "instruments": ["z"],
        "covariates": ["x"],
    },
    pb.ESTIMATION_METHOD_RDD: {"outcome": "y", "running_variable": "r", "cutoff": 0.0},
    pb.ESTIMATION_METHOD_MATCHING: COVARIATES,
    pb.ESTIMATION_METHOD_IPW: COVARIATES,
    pb.ESTIMATION_METHOD_AIPW: COVARIATES,
    pb.ESTIMATION_METHOD_SYNTHETIC_CONTROL: PANEL,
    pb.ESTIMATION_METHOD_DML: {**COVARIATES, "effect_modifiers": ["x"]},
    pb.ESTIMATION_METHOD_BSTS: {"outcome": "y", "treatment": "treated", "time": "day"},
    pb.ESTIMATION_METHOD_NAIVE_REGRESSION: COVARIATES,
    pb.ESTIMATION_METHOD_SDID: PANEL,
}
CELLS = (1.7976931348623157e308, -1e308, 1e31, 5e-324, 1e-300, 0.0, np.nan, np.inf, -np.inf)
SCALES = (1e200, 1e-200, 1e31, 1e-31, 1e15, -1.0)
CONSTANTS = (0.0, 1.0, 1e308, 1e-300)
LISTS = ("covariates", "instruments", "effect_modifiers")


def frame(shape: str = "panel", seed: int = 0) -> pd.DataFrame:
    """``panel``: 8 geos x 12 days, g0-g3 treated from day 6; ``one``: the same with g0 alone
    treated (synthetic control); ``series``: one geo x 60 days, treated from day 40 (bsts)."""
    rng = np.random.default_rng(seed)
    geos, days, start = {"panel": (8, 12, 6), "one": (8, 12, 6), "series": (1, 60, 40)}[shape]
    treated_geos = {"panel": 4, "one": 1, "series": 1}[shape]
    rows = []
    for g in range(geos):
        for t in range(days):
            treated = int(g < treated_geos and t >= start)
            rows.append({"geo": f"g{g}", "day": t, "treated": treated, "x": rng.normal(),
                         "z": rng.normal() + (g < 4), "r": rng.normal(),
                         "y": 10 + g + 0.3 * t + 5 * treated + rng.normal()})  # fmt: skip
    return pd.DataFrame(rows)


SHAPES = {pb.ESTIMATION_METHOD_SYNTHETIC_CONTROL: "one", pb.ESTIMATION_METHOD_BSTS: "series"}


# One change: (what it is, how it changes the frame and the roles).
Change = tuple[str, Callable[[pd.DataFrame, dict[str, Any]], None]]


def _numeric(roles: dict[str, Any]) -> list[str]:
    names = [roles.get(k) for k in ("outcome", "running_variable")]
    names += [n for k in LISTS for n in roles.get(k, [])]
    return sorted({n for n in names if n})


def changes(roles: dict[str, Any]) -> st.SearchStrategy[Change]:
    numeric = st.sampled_from(_numeric(roles))
    row = st.integers(0, 95)

    def cell(c: str, i: int, v: float) -> Change:
        def apply(f: pd.DataFrame, r: dict[str, Any]) -> None:
            f[c] = f[c].astype(float)
            f.loc[i % len(f), c] = v

        return f"{c}[{i}] = {v}", apply

    def scale(c: str, k: float) -> Change:
        return f"{c} × {k}", lambda f, r: f.__setitem__(c, f[c] * k)

    def constant(c: str, v: float) -> Change:
        return f"{c} = {v} everywhere", lambda f, r: f.__setitem__(c, v)

    def listed(key: str, name: str) -> Change:
        return f"{key} += {name!r}", lambda f, r: r.__setitem__(key, [*r.get(key, []), name])

    def copy(c: str, name: str) -> Change:
        def apply(f: pd.DataFrame, r: dict[str, Any]) -> None:
            f[name] = f[c]
            r["covariates"] = [*r.get("covariates", []), name]

        return f"{name} = copy of {c}, a covariate", apply

    return st.one_of(
        st.builds(cell, numeric, row, st.sampled_from(CELLS)),
        st.builds(scale, numeric, st.sampled_from(SCALES)),
        st.builds(constant, numeric, st.sampled_from(CONSTANTS)),
        st.builds(listed, st.sampled_from(LISTS), st.sampled_from(("", " ", "x", "y", "geo"))),
        st.builds(copy, numeric, st.sampled_from(("x_copy", "treated_copy"))),
        st.just(("a column twice in the table", lambda f, r: None)).map(lambda c: ("dup", c[1])),
    )


def request(method: int, picked: list[Change]) -> pb.EstimateEffectRequest:
    f = frame(SHAPES.get(method, "panel"))
    roles = {k: list(v) if isinstance(v, list) else v for k, v in ROLES[method].items()}
    duplicate = False
    for what, apply in picked:
        duplicate |= what == "dup"
        apply(f, roles)
    table = frame_to_table(f)
    if duplicate:  # the wire allows two columns of one name; frame_to_table does not
        table.columns.add().CopyFrom(table.columns[[c.name for c in table.columns].index("y")])
    return pb.EstimateEffectRequest(
        org_id="fuzz_tables", method=method, table=table,  # type: ignore[arg-type]
        roles=pb.EffectRoles(**roles),
        options=pb.EstimationOptions(skip_refutation=True, seed=1),
    )  # fmt: skip


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[causal_grpc.CausalServiceStub]:
    data = tmp_path_factory.mktemp("tables")
    with (
        running_services({"causal": causal_build}, data) as s,
        grpc.insecure_channel(s["causal"].address) as channel,
    ):
        yield causal_grpc.CausalServiceStub(channel)


@pytest.mark.parametrize("method", list(ROLES), ids=lambda m: pb.EstimationMethod.Name(m))
def test_odd_tables_never_end_internal(stub, method: int) -> None:
    assert stub.EstimateEffect(request(method, []), timeout=120).analysis_id  # the base: OK
    codes: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(st.lists(changes(ROLES[method]), min_size=1, max_size=2))
    def one_call(picked: list[Change]) -> None:
        message = request(method, picked)
        try:
            stub.EstimateEffect(message, timeout=120)
            code = grpc.StatusCode.OK
        except grpc.RpcError as err:
            code = err.code()
        codes[code.name] += 1
        shown = text_format.MessageToString(message.roles, as_one_line=True)
        assert code not in FORBIDDEN, f"{code.name} for {[w for w, _ in picked]}; roles {shown}"

    one_call()
    print(pb.EstimationMethod.Name(method), dict(codes))
    assert sum(codes.values()) >= EXAMPLES


def test_did_constant_outcome_with_a_covariate(stub) -> None:
    """Found by this module: DID with a constant outcome and a covariate divided by the
    pre-trend regression's zero standard error (ZeroDivisionError -> INTERNAL)."""

    def constant(f: pd.DataFrame, r: dict[str, Any]) -> None:
        f["y"] = 1.0

    try:
        stub.EstimateEffect(
            request(pb.ESTIMATION_METHOD_DID, [("y = 1.0 everywhere", constant)]), timeout=120
        )
    except grpc.RpcError as err:
        assert err.code() not in FORBIDDEN, err.details()
