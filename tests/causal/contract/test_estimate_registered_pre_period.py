"""R26-F4: an estimate of a registered experiment with no date range reads the pre-period the
registry keeps (``pre_period_start``, as the design powered it), not one as long as the test."""

from __future__ import annotations

from liftos.v1 import common_pb2 as common_pb

from mesh.runtime.synthetic_records import synthetic_records

# the same 8 geos x 4 campaigns x 90 days (2024-09-01 .. 2024-11-29) in real memory
from tests.causal.contract.test_estimate_from_memory import CAMPAIGNS, GEOS, mesh  # noqa: F401
from tests.causal.contract.test_experiment_units import _estimate, _register


def test_the_registered_pre_period_is_read(mesh) -> None:  # noqa: F811
    geos = sorted(
        {r.geo for r in synthetic_records("shop", GEOS * CAMPAIGNS, campaigns=CAMPAIGNS, geos=GEOS)}
    )
    for eid, pre in (("stated", common_pb.Date(year=2024, month=9, day=15)), ("unstated", None)):
        _register(mesh, eid, geos[:2], geos[2:6], pre)

    e = _estimate(mesh, "stated")  # 2024-09-15 .. 2024-11-29: 76 days, 6 geos
    assert e.n == 6 * 76
    assert "records read from 2024-09-15 (the experiment's registered pre-period)" in " ".join(
        e.warnings
    )
    e = _estimate(mesh, "unstated")  # as long as the 29-day test: 2024-10-03 .. 2024-11-29
    assert e.n == 6 * 58
    assert "2024-10-03 (a pre-period as long as the 29-day test: none is registered)" in " ".join(
        e.warnings
    )
