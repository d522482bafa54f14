"""Treatment assignment of rows from the experiment registry, deterministic by unit.

A row is in an experiment when its local day is inside the experiment's window and its
source and campaign are in the experiment's scope (empty scope = all). The row's unit is
read at the experiment's randomisation unit — its geo, campaign, account, or day for a
switchback — and the arm comes from :meth:`Experiment.arm_for`: the explicit unit lists, or
a hash of (experiment id, unit) against the treatment share, so the same unit lands in the
same arm in every batch, process and replica. Units that cannot be read off aggregate rows
(users, ad sets) leave the row outside the experiment. When experiments overlap, the one
created first governs the row: a row carries one experiment. So overlaps are settled when an
experiment is registered (R26-F3: the later one's rows had carried the earlier one's id and
arm without a word): :func:`ingestion_svc.convert.experiments.overlap_check` refuses one of
the same channel on the days and units of another (drafts included) and says the overlaps
with other channels' tests, as `liftos experiments create` and `liftos design` do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ingestion_svc.experiments import Experiment

__all__ = ["ASSIGNMENT_COLUMNS", "assign"]

ASSIGNMENT_COLUMNS = (
    "treatment_group",
    "treatment_intensity",
    "randomization_unit",
    "experiment_id",
)
# Registry unit name → the row columns that identify a unit, in matching order.
_UNIT_COLUMNS = {
    "RANDOMIZATION_UNIT_GEO": ("geo", "geo_key"),
    "RANDOMIZATION_UNIT_CAMPAIGN": ("campaign_id",),
    "RANDOMIZATION_UNIT_ACCOUNT": ("account_id",),
    "RANDOMIZATION_UNIT_TIME_PERIOD": ("day_text",),
}


def assign(rows: pd.DataFrame, source: str, experiments: Sequence[Experiment]) -> pd.DataFrame:
    """The assignment columns for ``rows`` (needs local_date, campaign_id, account_id, geo,
    geo_key), in ``mesh.runtime.frames`` spelling ("treatment", "not_in_experiment", "geo"…).

    ``experiments`` must be in creation order (the registry's ``all_active`` order).
    """
    n = len(rows)
    group = np.full(n, "not_in_experiment", dtype=object)
    intensity = np.zeros(n)
    unit_name = np.full(n, "unspecified", dtype=object)
    experiment_id = np.full(n, "", dtype=object)
    free = np.ones(n, dtype=bool)
    if n and experiments:
        day = rows["local_date"].to_numpy("datetime64[D]")
        columns = {
            "geo": rows["geo"].astype(str).to_numpy(dtype=object),
            "geo_key": rows["geo_key"].astype(str).to_numpy(dtype=object),
            "campaign_id": rows["campaign_id"].astype(str).to_numpy(dtype=object),
            "account_id": rows["account_id"].astype(str).to_numpy(dtype=object),
            "day_text": np.datetime_as_string(day, unit="D").astype(object),
        }
        wire_source = "DATA_SOURCE_" + source.upper()
        for e in experiments:
            units = _UNIT_COLUMNS.get(e.randomization_unit)
            if units is None:
                continue
            if e.data_sources and wire_source not in e.data_sources:
                continue
            scope = free & (day >= np.datetime64(e.start_date)) & (day <= np.datetime64(e.end_date))
            if e.campaign_ids:
                scope &= np.isin(columns["campaign_id"], list(e.campaign_ids))
            if not scope.any():
                continue
            arm = np.full(n, None, dtype=object)
            for column in units:  # the first spelling of the unit that the design names wins
                values = columns[column]
                todo = scope & (arm == None)  # noqa: E711 - elementwise
                if not todo.any():
                    break
                lookup = {u: e.arm_for(u) for u in set(values[todo].tolist())}
                arm[todo] = [lookup[u] for u in values[todo].tolist()]
            hit = scope & (arm != None)  # noqa: E711
            treated = hit & (arm == "treatment")
            control = hit & (arm == "control")
            group[treated], group[control] = "treatment", "control"
            intensity[treated] = e.treatment_intensity
            intensity[control] = e.control_intensity
            unit_name[hit] = e.randomization_unit.removeprefix("RANDOMIZATION_UNIT_").lower()
            experiment_id[hit] = e.experiment_id
            free &= ~hit
    return pd.DataFrame(
        {
            "treatment_group": pd.Series(group, dtype=object),
            "treatment_intensity": intensity,
            "randomization_unit": pd.Series(unit_name, dtype=object),
            "experiment_id": pd.Series(experiment_id, dtype=object),
        }
    )
