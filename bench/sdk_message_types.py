"""SDK message types: betterproto2 dataclasses vs pb2 on the SDK's low-volume calls.

Prints, in one run: (1) build+serialise+parse of a full CausalExperiment in each type system,
(2) ListExperiments of 200 experiments through a real server with each stub, (3) ratios.
Run: PYTHONPATH=.:gen python bench/sdk_message_types.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import grpc
import liftos_dc.liftos.v1 as dc
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from bench._figures import figure
from ingestion_svc.app import build
from mesh.runtime.inprocess import running_services

N_EXPERIMENTS = 200


def _dc_experiment(i: int) -> dc.CausalExperiment:
    return dc.CausalExperiment(
        org_id="bench", experiment_id=f"exp-{i:04d}", name=f"geo holdout {i}",
        start_date=dc.Date(year=2024, month=11, day=1), end_date=dc.Date(year=2024, month=11, day=28),
        randomization_unit=dc.RandomizationUnit.GEO, treatment_type=dc.TreatmentType.HOLDOUT,
        treatment_units=[f"US-{s}" for s in ("CA", "TX", "NY", "FL", "WA")],
        control_units=[f"US-{s}" for s in ("OR", "NV", "AZ", "GA", "NC")],
        treatment_config=dc.TreatmentConfig(spend_multiplier=0.0, intensity=1.0),
        control_config=dc.TreatmentConfig(spend_multiplier=1.0),
        statistical_power=dc.StatisticalPower(target_power=0.8, alpha=0.05, minimum_detectable_lift=0.05),
        causal_graph=dc.CausalGraph(
            nodes=[dc.CausalNode(id=n, observed=True) for n in ("assignment", "spend", "revenue")],
            edges=[dc.CausalEdge(source="assignment", target="spend"), dc.CausalEdge(source="spend", target="revenue")],
        ),
    )  # fmt: skip


def _rate(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    template = _dc_experiment(0)
    payload = bytes(template)
    pb_template = md_pb.CausalExperiment.FromString(payload)

    def dc_cycle() -> None:
        dc.CausalExperiment.parse(bytes(_dc_experiment(1)))

    def pb_cycle() -> None:
        m = md_pb.CausalExperiment()
        m.CopyFrom(pb_template)
        md_pb.CausalExperiment.FromString(m.SerializeToString())

    dc_rate, pb_rate = _rate(dc_cycle, 2000), _rate(pb_cycle, 20000)
    print(f"build+serialise+parse CausalExperiment: pb2 {pb_rate:,.0f}/s, betterproto2 {dc_rate:,.0f}/s "
          f"(pb2 {pb_rate / dc_rate:.1f}x faster)")  # fmt: skip
    figure("CausalExperiment build+serialise+parse, betterproto2 (SDK types)", 1e6 / dc_rate, "µs",
           reference="pb2", reference_value=1e6 / pb_rate)  # fmt: skip

    with (
        tempfile.TemporaryDirectory() as tmp,
        running_services({"ingestion": build}, Path(tmp)) as svc,
    ):
        channel = grpc.insecure_channel(svc["ingestion"].address)
        pb_stub, dc_stub = (
            ingestion_grpc.IngestionServiceStub(channel),
            dc.IngestionServiceStub(channel),
        )
        for i in range(N_EXPERIMENTS):
            dc_stub.create_experiment(dc.CreateExperimentRequest(experiment=_dc_experiment(i)))
        times: dict[str, list[float]] = {"pb2": [], "betterproto2": []}
        for _ in range(30):
            t = time.perf_counter()
            pb_stub.ListExperiments(
                ingestion_pb.ListExperimentsRequest(org_id="bench", page_size=N_EXPERIMENTS)
            )
            times["pb2"].append(time.perf_counter() - t)
            t = time.perf_counter()
            dc_stub.list_experiments(
                dc.ListExperimentsRequest(org_id="bench", page_size=N_EXPERIMENTS)
            )
            times["betterproto2"].append(time.perf_counter() - t)
            t = time.perf_counter()
        pb_ms = statistics.median(times["pb2"]) * 1e3
        dc_ms = statistics.median(times["betterproto2"]) * 1e3
        single = []
        for _ in range(200):
            t = time.perf_counter()
            dc_stub.get_experiment(
                dc.GetExperimentRequest(org_id="bench", experiment_id="exp-0001")
            )
            single.append(time.perf_counter() - t)
        single_pb = []
        for _ in range(200):
            t = time.perf_counter()
            pb_stub.GetExperiment(
                ingestion_pb.GetExperimentRequest(org_id="bench", experiment_id="exp-0001")
            )
            single_pb.append(time.perf_counter() - t)
        print(f"ListExperiments x{N_EXPERIMENTS} over gRPC (median of 30): pb2 {pb_ms:.1f} ms, "
              f"betterproto2 {dc_ms:.1f} ms (ratio {dc_ms / pb_ms:.2f}x)")  # fmt: skip
        g_dc, g_pb = statistics.median(single) * 1e3, statistics.median(single_pb) * 1e3
        print(f"GetExperiment over gRPC (median of 200): pb2 {g_pb:.2f} ms, betterproto2 {g_dc:.2f} ms "
              f"(ratio {g_dc / g_pb:.2f}x)")  # fmt: skip
        figure(f"ListExperiments ×{N_EXPERIMENTS} over gRPC, betterproto2 stub", dc_ms, "ms",
               reference="pb2 stub", reference_value=pb_ms)  # fmt: skip
        figure("GetExperiment over gRPC, betterproto2 stub", g_dc, "ms", reference="pb2 stub",
               reference_value=g_pb)  # fmt: skip


if __name__ == "__main__":
    main()
