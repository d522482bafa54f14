"""`liftos demo`: the whole mesh, end to end, on the bundled simulated world.

Grows with each issue; today it brings up the five services, registers the demo world's
geo experiment, reads the calendar around Black Friday and prints what the mesh holds.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from mesh.client import LiftOS, dc
from mesh.mesh_process import Mesh
from mesh.runtime.config import PeerConfig


def run_demo(data_dir: Path | None, base_port: int | None, out: callable = print) -> int:  # type: ignore[valid-type]
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="liftos-demo-"))
    ports = (
        None
        if base_port is None
        else {
            s: base_port + i
            for i, s in enumerate(("ingestion", "memory", "causal", "llm", "surfacing"))
        }
    )
    mesh = Mesh(data_dir, ports=ports)
    peers = PeerConfig(**{s: mesh.address(s) for s in mesh.ports})
    out(f"== starting the mesh (data dir {data_dir})")
    mesh.start()
    try:
        with LiftOS(peers, org_id="demo") as client:
            status = mesh.wait_serving(client.health)
            for service, state in status.items():
                out(f"  {service:<10} {getattr(peers, service):<18} {state}")
            if any(v != "SERVING" for v in status.values()):
                return 1
            out("== experiment registry")
            exp = client.create_experiment(
                dc.CausalExperiment(
                    experiment_id=f"bf-holdout-{dt.datetime.now():%H%M%S}",
                    name="Black Friday Meta prospecting geo holdout",
                    start_date=dc.Date(year=2024, month=11, day=18),
                    end_date=dc.Date(year=2024, month=12, day=8),
                    randomization_unit=dc.RandomizationUnit.GEO,
                    treatment_type=dc.TreatmentType.HOLDOUT,
                    treatment_share=0.3,
                    channel="meta_prospecting",
                )
            )
            out(
                f"  registered {exp.experiment_id} ({exp.status.name}) at {exp.create_time:%Y-%m-%d %H:%M:%S}Z"
            )
            out(f"  experiments in org demo: {len(list(client.list_experiments()))}")
            out("== calendar around Black Friday (US)")
            cal = client.calendar("US", dt.date(2024, 11, 25), dt.date(2024, 12, 3))
            out(
                cal[
                    ["date", "day_of_week", "is_holiday", "holiday_name", "days_to_next_holiday"]
                ].to_string(index=False)
            )
    finally:
        mesh.stop()
        out("== mesh stopped")
    return 0
