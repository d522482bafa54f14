"""mesh.runtime.frames throughput: CausalMarketingData ↔ DataFrame at 100k records, both ways.

    python bench/memory_frames.py [--records 100000] [--repeats 3]

Reference measured in the same run: protobuf's own serialise + parse of the same records
(upb), i.e. the cost of just moving the records through the wire format once. Every
conversion is timed on records freshly parsed from bytes (as they arrive from a Write or a
Scan; parsing is not timed), best of ``--repeats``; a ratio above 1 means the conversion
is faster than that floor.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from liftos.v1 import marketing_data_pb2 as md_pb  # noqa: E402

from bench._figures import figure  # noqa: E402
from mesh.runtime.frames import frame_to_records, records_to_frame  # noqa: E402
from mesh.runtime.synthetic_records import synthetic_records  # noqa: E402

WRITE_GROUPS = ("core", "calendar", "confounders")  # what the memory service reads on Write
T = TypeVar("T")
Records = list[md_pb.CausalMarketingData]


def best(repeats: int, prepare: Callable[[], T], run: Callable[[T], object]) -> float:
    times = []
    for _ in range(repeats):
        data = prepare()
        t = time.perf_counter()
        run(data)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, repeats = args.records, args.repeats
    records = synthetic_records("bench", n, campaigns=50, geos=100)
    blobs = [r.SerializeToString() for r in records]

    def parsed() -> Records:
        return [md_pb.CausalMarketingData.FromString(b) for b in blobs]

    def round_trip(rs: Records) -> Records:
        return [md_pb.CausalMarketingData.FromString(r.SerializeToString()) for r in rs]

    def write_groups(rs: Records) -> object:
        return records_to_frame(rs, groups=WRITE_GROUPS)

    def core(rs: Records) -> object:
        return records_to_frame(rs, groups=("core",))

    proto_s = best(repeats, lambda: records, round_trip)
    frame = records_to_frame(records)
    write_frame = records_to_frame(records, groups=WRITE_GROUPS)
    runs = {
        "records_to_frame, all groups": best(repeats, parsed, records_to_frame),
        "records_to_frame, core+calendar+confounders (memory Write)": best(
            repeats, parsed, write_groups
        ),
        "records_to_frame, core": best(repeats, parsed, core),
        "frame_to_records, all columns": best(repeats, lambda: frame, frame_to_records),
    }
    back = frame_to_records(frame)
    assert back == records, "round trip is not exact"

    print(
        f"{n:,} records, {frame.shape[1]} columns ({write_frame.shape[1]} in the write groups); "
        f"best of {repeats}"
    )
    print(f"reference: protobuf serialise+parse {n / proto_s:,.0f} records/s")
    for label, seconds in runs.items():
        print(f"{label}: {n / seconds:,.0f} records/s = {proto_s / seconds:.2f}x the protobuf rate")
        figure(f"{label}, {n:,} records", n / seconds, "records/s",
               reference="protobuf serialise+parse", reference_value=n / proto_s)  # fmt: skip
    print("round trip records → frame → records exact")


if __name__ == "__main__":
    main()
