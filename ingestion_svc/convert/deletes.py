"""DeleteExperiments and DeleteExternalFactors requests: what they name, checked."""

from __future__ import annotations

from collections.abc import Sequence

from mesh.runtime.exceptions import InvalidInput, shown
from mesh.runtime.protoconv import require_org

__all__ = ["MAX_DELETE_NAMES", "delete_target"]

# Ids or names one call deletes (the proto's bound): a longer list is sent in parts.
MAX_DELETE_NAMES = 1000
# Experiment ids and factor names are stored under 63 characters (CreateExperiment,
# RegisterExternalFactor): a longer one names nothing, and not_found would echo it.
_MAX_NAME = 63


def delete_target(
    org_id: str, names: Sequence[str], all_: bool, *, field: str
) -> tuple[str, list[str] | None]:
    """(org, the names asked for in order without repeats; None: all of them). ``field``:
    the request's list field ("experiment_ids", "names"), which a refusal names."""
    org = require_org(org_id)
    if all_ and names:
        raise InvalidInput(
            f"{field} and all are exclusive: name what to delete, or set all (not both)",
            field=field,
        )
    if not all_ and not names:
        raise InvalidInput(
            f"name what to delete in {field}, or set all to delete every one of org {org!r}",
            field=field,
        )
    if all_:
        return org, None
    if len(names) > MAX_DELETE_NAMES:
        raise InvalidInput(
            f"{field} holds {len(names):,} entries; at most {MAX_DELETE_NAMES} a call: "
            "send the rest in another call",
            field=field,
        )
    for i, name in enumerate(names):
        if not name:
            raise InvalidInput(f"{field}[{i}] is empty", field=f"{field}[{i}]")
        if len(name) > _MAX_NAME:
            raise InvalidInput(
                f"{field}[{i}] is {len(name):,} characters (starts {shown(name[:40])}); "
                f"nothing is stored under more than {_MAX_NAME}",
                field=f"{field}[{i}]",
            )
    return org, list(dict.fromkeys(names))
