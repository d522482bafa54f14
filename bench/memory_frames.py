"""mesh.frames throughput: CausalMarketingData ↔ DataFrame at 100k records, both ways.

    python bench/memory_frames.py [--records 100000]

Reference measured in the same run: protobuf's own serialise + parse of the same records
(upb), i.e. the cost of just moving the records through the wire format once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from liftos.v1 import marketing_data_pb2 as md_pb  # noqa: E402

from memory_svc.synthetic import synthetic_records  # noqa: E402
from mesh.frames import frame_to_records, records_to_frame  # noqa: E402


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} records/s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    n = args.records
    records = synthetic_records("bench", n, campaigns=50, geos=100)

    t = time.perf_counter()
    blobs = [r.SerializeToString() for r in records]
    parsed = [md_pb.CausalMarketingData.FromString(b) for b in blobs]
    proto_s = time.perf_counter() - t
    assert len(parsed) == n

    t = time.perf_counter()
    frame = records_to_frame(records)
    to_frame_s = time.perf_counter() - t

    t = time.perf_counter()
    write_frame = records_to_frame(records, groups=("core", "calendar", "confounders"))
    to_frame_write_s = time.perf_counter() - t

    t = time.perf_counter()
    back = frame_to_records(frame)
    to_records_s = time.perf_counter() - t
    assert back == records, "round trip is not exact"

    print(f"{n:,} records, {frame.shape[1]} columns ({write_frame.shape[1]} in the write groups)")
    print(f"reference: protobuf serialise+parse {rate(n, proto_s)}")
    print(
        f"records_to_frame (all groups): {rate(n, to_frame_s)} "
        f"(takes {to_frame_s / proto_s:.1f}x as long as the protobuf round trip)"
    )
    print(
        f"records_to_frame (core+calendar+confounders, the memory write path): "
        f"{rate(n, to_frame_write_s)} ({to_frame_write_s / proto_s:.1f}x)"
    )
    print(
        f"frame_to_records: {rate(n, to_records_s)} ({to_records_s / proto_s:.1f}x); "
        "round trip exact"
    )


if __name__ == "__main__":
    main()
