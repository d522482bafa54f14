"""The audit line of an erasure RPC other than memory's DeleteRecords (s19 V2-F7).

An erasure spans four RPCs (memory's DeleteRecords, causal's DeleteAnalyses, ingestion's
DeleteExperiments and DeleteExternalFactors); each leaves one INFO line on the logger
``liftos.audit``, as DeleteRecords does (14166b3): the org, what was asked (the ids, or all),
what was deleted (or, in a dry run, would be) and not found, the caller's key subject
(:data:`mesh.runtime.interceptor.CALLER`) and the request id, whose ``liftos.rpc`` line has the
peer. Ids and counts only: analysis ids, experiment ids and factor names, never what they held.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mesh.runtime.channels import REQUEST_ID
from mesh.runtime.interceptor import CALLER

__all__ = ["AUDIT", "log_deletion"]

# A logger of its own, so that a deployment can keep deletion records apart (docs/deploy.md).
AUDIT = logging.getLogger("liftos.audit")
# Ids written out in one line; a longer list is counted (a delete takes up to 1,000 a call).
_SHOWN = 50


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN])
    more = len(ids) - _SHOWN
    return f"[{shown}{f', … {more:,} more' if more > 0 else ''}]"


def log_deletion(
    method: str,
    org_id: str,
    asked: Sequence[str] | None,
    *,
    dry_run: bool,
    deleted: Sequence[str],
    not_found: Sequence[str],
    what: str,
    extra: str = "",
) -> None:
    """One audit line for a delete of ``what`` (e.g. "analyses"): ``asked`` None is all of the
    org's; ``extra`` is said after the counts (e.g. the factor series removed)."""
    picked = f"every one of the org's {what} (all)" if asked is None else f"ids {_ids(asked)}"
    verb = "dry run, would delete" if dry_run else "deleted"
    AUDIT.info(
        "%s org=%r filter: %s; %s %d %s %s%s; not found %d %s; caller=%s rid=%s",
        method, org_id, picked, verb, len(deleted), what, _ids(deleted),
        f" ({extra})" if extra else "", len(not_found), _ids(not_found),
        CALLER.get(), REQUEST_ID.get() or "",
    )  # fmt: skip
