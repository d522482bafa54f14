"""StreamHistory finds stored keys by binary search over a sorted view kept current across
adds and prunes; checked against a plain dict model of the same upserts (highest version
wins, the last of equals), through many batches and forced prunes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingestion_svc.history import StreamHistory


def _batch(rng: np.random.Generator, day0: int, n: int) -> pd.DataFrame:
    series = rng.choice([f"acct|c{c}|g{g}" for c in range(6) for g in range(4)], n)
    return pd.DataFrame(
        {
            "series": series,
            "account_key": "acct",
            "day": day0 + rng.integers(-20, 5, n),
            "spend": rng.random(n).round(3),
            "conversions": rng.integers(0, 9, n).astype(float),
            "revenue": rng.random(n).round(3),
            "version": rng.integers(0, 4, n),
            "sha": [f"h{k}" for k in rng.integers(0, 10**6, n)],
            "campaign_key": "",
            "campaign_id": "",
        }
    )


def test_lookup_matches_a_dict_model_through_adds_and_prunes() -> None:
    rng = np.random.default_rng(7)
    h = StreamHistory(keep_days=15)
    model: dict[tuple[str, int], tuple[int, str, float]] = {}
    pruned = 0
    latest = -(10**9)
    for step in range(60):
        h._prune_at = 150  # force a prune every few batches
        before = h._view
        rows = _batch(rng, 100 + step, int(rng.integers(1, 80)))
        h.add(rows)
        latest = max(latest, int(rows["day"].max()))
        pruned += h._view is None and before is not None
        for r in rows.itertuples(index=False):
            key = (r.series, int(r.day))
            old = model.get(key)
            if old is None or r.version >= old[0]:
                model[key] = (int(r.version), r.sha, float(r.spend))
        probe = _batch(rng, 100 + step, 120)
        known = h.lookup(h.keys(h.codes(probe["series"].tolist()), probe["day"].to_numpy()))
        for k, r in enumerate(probe.itertuples(index=False)):
            want = model.get((r.series, int(r.day)))
            if known.version[k] < 0:  # pruned from the window, or never stored
                assert want is None or int(r.day) < latest - 15, (step, r)
            else:
                assert want is not None
                assert (known.version[k], known.sha[k], known.spend[k]) == want
    assert pruned >= 3
