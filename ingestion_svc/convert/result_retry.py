"""RecordExperimentResult re-sent: whether the result asked for is the one already stored.

A client (and the mesh's own channel, which retries the RPC as idempotent) re-sends a
``keep_existing`` request whose reply it lost; the first one was recorded, so the retry finds
a result and used to be refused FAILED_PRECONDITION "this result was not recorded" (s18 R32).
The same result, filled as recording fills it, is that write already done.
"""

from __future__ import annotations

from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.convert.experiments import experiment_with_result
from mesh.runtime.exceptions import InvalidInput

__all__ = ["already_recorded"]


def already_recorded(
    request: ingestion_pb.RecordExperimentResultRequest, stored: md_pb.CausalExperiment
) -> bool:
    """True when ``stored`` holds exactly the result ``request`` would record (ids, channel
    and window filled from the experiment as recording fills them); False for another result,
    for none, or for a request that would be refused anyway."""
    if not stored.HasField("result"):
        return False
    bare = md_pb.CausalExperiment()
    bare.CopyFrom(stored)
    bare.ClearField("result")
    try:
        asked = experiment_with_result(request, bare)
    except InvalidInput:
        return False
    return asked.result == stored.result
