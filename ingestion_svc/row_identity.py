"""Row identity and what a row is relative to what is already stored: new, a duplicate, a
stale or superseded version, a restatement; and whether it arrived in order.

Identity follows the contract: ``natural_key = source|account|campaign (Klaviyo: message)
|geo code|local date`` — the simulator's ``row_key`` — ``id = sha256(org_id|natural_key)``
truncated to 32 hex digits, ``version`` = pull time µs + row offset + row index, and
``sha`` = SHA-256 of the raw row as received (identical content ⇒ identical hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ingestion_svc.history import Known, StreamHistory

__all__ = [
    "Classified",
    "arrival",
    "classify",
    "identify",
    "resolve_campaign_ids",
    "superseded_versions",
]


def resolve_campaign_ids(
    frame: pd.DataFrame, history: StreamHistory
) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing campaign ids from the campaign's name (Klaviyo: its message id).

    The batch's own rows are asked first, then the stream's history; a name that maps to
    more than one id is never used. Returns (resolved ids, unresolved mask).
    """
    ids = frame["campaign_id"].to_numpy(dtype=object).copy()
    gone = ids == ""
    if not gone.any():
        return ids, gone
    accounts = frame["account_key"].to_numpy(dtype=object)
    keys = frame["campaign_key"].to_numpy(dtype=object)
    seen: dict[tuple[str, str], set[str]] = {}
    for acct, key, cid in zip(accounts[~gone], keys[~gone], ids[~gone], strict=True):
        if key:
            seen.setdefault((acct, key), set()).add(cid)
    for i in np.flatnonzero(gone).tolist():
        if not keys[i]:
            continue
        found = seen.get((accounts[i], keys[i]), set()) | history.campaign_ids(accounts[i], keys[i])
        if len(found) == 1:  # a name seen with two ids is ambiguous: never guess
            ids[i] = next(iter(found))
    return ids, ids == ""


def identify(
    frame: pd.DataFrame,
    org_id: str,
    source: str,
    raw: Sequence[bytes],
    version_base: int,
) -> pd.DataFrame:
    """Add series, natural_key, id, version and sha columns (frame has row, account_id,
    ident, geo_key, local_date)."""
    out = frame.copy()
    dates = np.datetime_as_string(out["local_date"].to_numpy("datetime64[D]")).tolist()
    series = [
        f"{source}|{a}|{i}|{g}"
        for a, i, g in zip(out["account_id"], out["ident"], out["geo_key"], strict=True)
    ]
    natural_key = [f"{s}|{d}" for s, d in zip(series, dates, strict=True)]
    prefix = f"{org_id}|"
    sha256 = hashlib.sha256
    rows = out["row"].to_numpy(np.int64)
    out["series"] = pd.Series(series, dtype=object, index=out.index)
    out["natural_key"] = pd.Series(natural_key, dtype=object, index=out.index)
    out["id"] = pd.Series(
        [sha256((prefix + k).encode()).hexdigest()[:32] for k in natural_key],
        dtype=object,
        index=out.index,
    )
    out["version"] = version_base + rows
    out["sha"] = pd.Series(
        [sha256(raw[i]).hexdigest() for i in rows.tolist()], dtype=object, index=out.index
    )
    return out


@dataclass(frozen=True, slots=True)
class Classified:
    """Per row: exactly one of stored duplicate, replayed, stale, batch duplicate,
    superseded, winner."""

    dup_stored: np.ndarray
    stale: np.ndarray
    dup_batch: np.ndarray
    superseded: np.ndarray
    winner: np.ndarray
    replaced_version: np.ndarray  # for winners: the version they replace (0: none)
    restated: np.ndarray  # winners replacing a stored version or one of this batch
    # a version of the key that a later one already replaced, sent again (nothing written)
    replayed: np.ndarray


def classify(
    keys: np.ndarray,
    version: np.ndarray,
    sha: np.ndarray,
    known: Known,
    old_content: np.ndarray | None = None,
    renormalised: np.ndarray | None = None,
) -> Classified:
    """Decide each row against the stored version of its key and the batch's other rows.

    ``old_content``: per row, whether its content is a version of its key that a later version
    already replaced (``StreamHistory.replays``). ``renormalised``: rows whose raw content is
    the stored one but which the account's settings now store otherwise (another geo or day
    start, ``pipeline.renormalised``): not duplicates; their version is above the stored.

    * same content as stored → duplicate (nothing written);
    * otherwise, content the key had replaced and ``old_content`` marks a copy → replayed
      (nothing written, whatever its version): an export sent again, not a correction
      (superseded when a later row of the batch is the stored content, as the first time the
      export came);
    * different content, version not newer than stored → stale (rejected);
    * same content as an earlier row of the batch → duplicate;
    * otherwise the highest version of the key in the batch is written (a restatement when
      it replaces a stored version or a lower one of this batch) and the lower ones are
      superseded.

    The batch's last word on a key is decided before stored duplicates are set aside: when
    the key's highest-versioned row is the stored content, the export says what is stored,
    and its lower rows are superseded by it, not written. An export re-sent with a later
    pull time holds a restated day twice, the platform's preliminary line then its re-send;
    the re-send is what was stored the first time, and writing the preliminary line (newer
    by its pull time alone) would put the platform's superseded numbers back (audit R19 #1).
    When the two lines fell in different batches the preliminary line's batch cannot see the
    re-send, so the versions replaced before are remembered (``ingestion_svc.superseded``):
    content a key had replaced is written back only by a batch that says it corrects stored
    rows (IngestRequest.restore_replaced) pulled later than the replacing pull, and never
    when the replacing export held it itself. Without that word a correction back to an
    earlier value is taken for a copy: the raw rows and their pull times cannot tell it from
    a re-sent or restored export.
    """
    n = keys.size
    stored = known.version >= 0
    dup_stored = stored & (known.sha == sha)
    if renormalised is not None:
        dup_stored &= ~renormalised
    old = np.zeros(n, dtype=bool) if old_content is None else old_content & ~dup_stored
    stale = stored & ~dup_stored & ~old & (version <= known.version)
    candidate = ~dup_stored & ~stale & ~old
    frame = pd.DataFrame({"key": keys, "sha": sha, "version": version, "pos": np.arange(n)})
    # Keys whose latest row in the batch is the stored content: nothing of theirs is written.
    live = frame[~stale].sort_values(["key", "version"], kind="stable")
    top = live["pos"].to_numpy()[~live["key"].duplicated(keep="last").to_numpy()]
    settled = np.zeros(n, dtype=bool)
    settled[top[dup_stored[top]]] = True
    said = frame["key"].isin(frame["key"].to_numpy()[settled]).to_numpy()
    cand = frame[candidate]
    dup_batch = np.zeros(n, dtype=bool)
    dup_batch[cand["pos"][cand.duplicated(["key", "sha"], keep="first")].to_numpy()] = True
    open_ = candidate & ~dup_batch & ~said
    rest = frame[open_].sort_values(["key", "version"], kind="stable")
    is_last = ~rest["key"].duplicated(keep="last").to_numpy()
    winner = np.zeros(n, dtype=bool)
    winner[rest["pos"].to_numpy()[is_last]] = True
    # an old version below the stored content in its batch is superseded by it, as it was
    # the first time the export came; alone, it is a copy of an earlier export (replayed)
    superseded = (candidate & ~dup_batch & ~winner) | (old & said)
    replayed = old & ~said
    # A winner replaces the stored version, else the highest superseded one of the batch.
    lower = rest[~is_last].groupby("key")["version"].max()
    replaced = np.where(stored, known.version, 0)
    from_batch = pd.Series(keys).map(lower).to_numpy(dtype=np.float64)
    replaced = np.where(
        ~stored & ~np.isnan(from_batch), np.nan_to_num(from_batch).astype(np.int64), replaced
    )
    replaced = np.where(winner, replaced, 0).astype(np.int64)
    return Classified(
        dup_stored,
        stale,
        dup_batch,
        superseded,
        winner,
        replaced,
        winner & (replaced > 0),
        replayed,
    )


def superseded_versions(
    record_ids: np.ndarray, sha: np.ndarray, known: Known, cls: Classified
) -> list[tuple[str, str]]:
    """The (record id, sha) versions this batch replaces: its superseded rows, and the
    stored content of each key a winner replaces."""
    # a renormalised row (same raw content, other settings) replaces no content: not logged
    over_stored = cls.winner & (known.version >= 0) & (known.sha != "") & (known.sha != sha)
    pairs = zip(record_ids[cls.superseded].tolist(), sha[cls.superseded].tolist(), strict=True)
    stored = zip(record_ids[over_stored].tolist(), known.sha[over_stored].tolist(), strict=True)
    return sorted({(str(r), str(s)) for r, s in (*pairs, *stored)})


def arrival(
    codes: np.ndarray,
    days: np.ndarray,
    history: StreamHistory,
    allowed_delay_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(out_of_order, late_days) for rows in batch order.

    Out of order: a later day of the same series was already known (stored, written by
    this stream, or earlier in the batch). Late: how many days the series had already
    moved past the row's day, beyond the platform's normal reporting delay. Both are per
    series, so an export sorted by geo rather than by date is neither.
    """
    frame = pd.DataFrame({"code": codes, "day": days})
    before = np.fmax(_previous_max(frame, "code"), history.series_max_day(codes).astype(np.float64))
    before = np.where(before < -(1 << 39), np.nan, before)
    out_of_order = days < np.nan_to_num(before, nan=-np.inf)
    late = np.nan_to_num(before - days - allowed_delay_days, nan=0.0)
    return out_of_order, np.maximum(late, 0).astype(np.int64)


def _previous_max(frame: pd.DataFrame, by: str) -> np.ndarray:
    """Per row, the latest day among the earlier rows of its group (NaN for the first)."""
    n = len(frame)
    if n == 0:
        return np.zeros(0)
    group = pd.factorize(frame[by].to_numpy(), sort=False)[0]
    days = frame["day"].to_numpy(np.int64)
    order = np.lexsort((np.arange(n), group))
    g, d = group[order], days[order]
    # A running max that cannot cross groups: lift each group above all earlier ones.
    span = int(d.max() - d.min()) + 1
    lifted = (d - d.min()) + g.astype(np.int64) * span
    running = np.maximum.accumulate(lifted) - g.astype(np.int64) * span + d.min()
    prev = np.full(n, np.nan)
    same = np.zeros(n, dtype=bool)
    same[1:] = g[1:] == g[:-1]
    prev[1:][same[1:]] = running[:-1][same[1:]]
    out = np.empty(n)
    out[order] = prev
    return out
