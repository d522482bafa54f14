"""A day whose refunds exceed its sales (net revenue below zero) is refused at ingest saying why
it cannot be taken and which column to map instead — not only "is negative" — and the analysis'
fill of such a day no longer only says "re-export those days", which cannot help when the
export holds the day and ingest refused it (R30 F2). Real memory + ingestion via liftos ingest.

Why refused and not accepted: the attribution reads the outcome on a log scale (a net loss has
no value there: floored, it is a near-zero outlier; filled, an invented sale) and memory keeps
revenue at 0 or more (mesh.runtime.record_rules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from causal_svc.attribution.partial_gaps import fill_partial_gaps
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh import cli
from mesh.runtime.inprocess import RunningService, running_services

ORDERS = "date=date,geo=state,conversions=orders,revenue=revenue"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    builds = {"memory": memory_build, "ingestion": ingestion_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:  # type: ignore[arg-type]
        yield services


def test_a_negative_net_revenue_day_is_refused_naming_the_gross_column(
    mesh: dict[str, RunningService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("ingestion", "memory"):
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", mesh[name].address)
    path = tmp_path / "orders.csv"
    path.write_text(
        "date,state,orders,revenue\n2024-01-01,NY,3,240\n2024-01-01,CA,0,-5000\n"
        "2024-01-01,TX,-2,100\n"
    )
    assert cli.main(["ingest", "--org", "net", "--source", "generic", "--account-id", "net",
                     "--timezone", "UTC", "--currency", "USD", "--country", "US",
                     "--mapping", ORDERS, str(path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "negative_value" in out, out
    assert "revenue -5000 is negative" in out and "gross" in out, out
    assert "re-export" not in out


def test_a_filled_day_names_rows_ingest_rejected() -> None:
    dates = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]")  # 1 of 60 days absent
    y = np.full((3, dates.size), 100.0)
    present = np.ones_like(y, dtype=bool)
    present[1, 10] = False  # the day ingest refused: no row stored
    (warning,) = fill_partial_gaps(y, present, ("CA", "NY", "TX"), dates).warnings
    assert "liftos ingest` rejected their rows" in warning, warning
