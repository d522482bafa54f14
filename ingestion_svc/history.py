"""What one Ingest stream knows of an org's stored rows: versions and content hashes per
natural key, daily spend / conversions / revenue per series, and campaign ids by name.

The memory service is the record of truth; this is the stream's working set of it. The
servicer loads what a batch needs (:meth:`StreamHistory.plan`) with memory Scans, and every
batch the stream writes is added, so a stream of consecutive days costs one small Scan per
two weeks of days, and a late row a Scan of its own series' month, not a re-read of the
account. Nothing here outlives the stream, so replicas of the service share no state — but
the versions the org's records had replaced (``ingestion_svc.superseded``, a file replicas
share), which a batch asks about (:meth:`StreamHistory.replays`) and adds to
(:meth:`StreamHistory.supersede`).

A *series* is one campaign (or Klaviyo message) in one geo of one account:
``source|account|ident|geo``; a natural key is the series plus the local date. Days are
integers (days since 1970-01-01), keys ``series code × 2^21 + day + 2^20``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ingestion_svc.connectors.regions import names_of, same_place
from ingestion_svc.superseded import Replaced, SupersededLog

__all__ = ["HISTORY_COLUMNS", "KEEP_DAYS", "NO_START", "StreamHistory", "day_numbers"]

# Lags reach 28 days back; restatements and late rows a little further.
KEEP_DAYS = 40
_DAY_BIAS = 1 << 20
_SHIFT = 1 << 21
# Columns ``add`` takes (one row per record).
HISTORY_COLUMNS = (
    "series",
    "account_key",
    "day",
    "spend",
    "conversions",
    "revenue",
    "version",
    "sha",
    "campaign_id",
    "campaign_key",
    "geo",
    "start",
)
# A stored record's UTC day start not known (rows recorded without one): never compared.
NO_START = -(1 << 62)


def _place_of(series: str) -> str:
    """A series (``source|account|campaign|geo key``) without its geo key."""
    return series[: series.rfind("|")]


def _geo_match(geo: object) -> object:
    """A geo as places are matched: one Unicode form, case folded, a region name the
    country's list knows as its code (a row stored as "BR-BAHIA", in NFD, or as "DE-Bayern"
    before ingestion mapped names to ISO codes is the same place as "BR-BA" / "DE-BY")."""
    return same_place(geo) if isinstance(geo, str) else geo


def _unprefixed(geo: str) -> tuple[str, ...]:
    """The matched forms of the names of an ISO region ("DE-BW": "baden-württemberg") as a
    record stored before names were mapped to codes carries them when a hyphen in the name
    was taken for a country prefix: with no country at all (s18 R34 F4)."""
    country, sep, code = geo.partition("-")
    if not sep or len(country) != 2:
        return ()
    return tuple(same_place(name) for name in names_of(country.upper(), code))


def day_numbers(values: np.ndarray | pd.Series) -> np.ndarray:
    """datetime64 (any unit) → int64 days since the epoch."""
    return np.asarray(values).astype("datetime64[D]").astype(np.int64)


@dataclass(frozen=True, slots=True)
class Known:
    """Stored facts for looked-up keys (NaN / -1 / "" where not known; ``start``
    :data:`NO_START` and ``geo`` None where the stored record's were not recorded)."""

    version: np.ndarray
    sha: np.ndarray
    spend: np.ndarray
    conversions: np.ndarray
    revenue: np.ndarray
    # what the stored record was normalised to: its geo and its day's UTC start (µs)
    geo: np.ndarray
    start: np.ndarray
    # the pull (µs) whose rows, on this stream, last sent the stored content again (0: none)
    sent: np.ndarray


class StreamHistory:
    """The stream's working set; not thread-safe (one stream, one batch at a time).

    Storage is incremental so a batch costs the same on the millionth row as on the first:
    numpy columns grown by doubling, a dict from key to slot, and per-series latest days in
    an array indexed by series code. Days more than ``keep_days`` behind their account's
    latest day are pruned (and their window marked unloaded) once the store has doubled.
    """

    def __init__(self, keep_days: int = KEEP_DAYS, superseded: SupersededLog | None = None) -> None:
        self.keep_days = keep_days
        self._log = superseded
        # (org, record id, sha) this stream superseded, and how: the whole record without a log
        self._replaced: dict[tuple[str, str, str], Replaced] = {}
        self._codes: dict[str, int] = {}
        self._names: dict[int, str] | None = None  # code → series, built when asked
        self._accounts: dict[str, int] = {}
        # the stored keys sorted, with their slots, and how many slots that covers: keys are
        # found by binary search (numpy) rather than one dict lookup per key in Python
        self._view: tuple[np.ndarray, np.ndarray, int] | None = None
        self._size = 0
        self._key = np.zeros(0, dtype=np.int64)
        self._account = np.zeros(0, dtype=np.int64)
        self._num = np.zeros((0, 3))
        self._version = np.zeros(0, dtype=np.int64)
        self._sha = np.zeros(0, dtype=object)
        self._geo = np.zeros(0, dtype=object)
        self._start = np.zeros(0, dtype=np.int64)
        self._sent = np.zeros(0, dtype=np.int64)
        # raw row sha → its key: a row stored under another key (ingested with other account
        # settings, which mapped its geo to another code) is found by its content
        self._by_sha: dict[str, int] = {}
        # (series less its geo key, day, stored geo) → key: a row whose series is new but whose
        # account, campaign, day and normalised geo a stored record has (that record kept its
        # old key when a corrected re-send restated it: V1 review F1)
        self._by_place: dict[tuple[str, int, object], int] = {}
        # every stored geo spelling loaded or written (a few per place): a late series' scan
        # asks for those of its place (ingestion_svc.geo_spellings)
        self._geos_seen: set[str] = set()
        self._series_max = np.zeros(0, dtype=np.int64)
        self._prune_at = 50_000
        self._coverage: dict[str, tuple[int, int]] = {}
        self._series_coverage: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._frontier: dict[str, int] = {}
        self._campaigns: dict[tuple[str, str], set[str]] = {}
        # (version, latest day per series code among rows below it): series_max_day_before's
        self._before: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self._size

    # ------------------------------------------------------------------ keys and windows

    def codes(self, series: Iterable[str]) -> np.ndarray:
        """Integer code per series (new series get new codes)."""
        table = self._codes
        return np.fromiter((table.setdefault(s, len(table)) for s in series), dtype=np.int64)

    def keys(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        return codes * _SHIFT + days + _DAY_BIAS

    def plan(
        self,
        windows: dict[tuple[str, str, str], tuple[int, int]],
        ahead_days: int = 0,
        last_day: int | None = None,
    ) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int, list[tuple[str, str]]]]]:
        """What to load for a batch: (account scans, series scans).

        ``windows`` are the days each (account, campaign, geo) series of the batch needs.
        Each account has one loaded span that starts with its first batch and grows
        forward with the stream: a day range scanned for every campaign at once (memory's
        time index answers it), reaching ``ahead_days`` past the batch's last day (but not
        past ``last_day``) so a stream of consecutive days scans once per ``ahead_days``,
        not once per batch. A series that needs days before that span — a late row — gets
        a scan of its own (campaign, geo) and days only, remembered per series, so a row
        three months late costs its series' month, not its campaign's (≈60× more at 60
        geos) nor the account's three months. Series needing the same days share a scan.
        """
        spans: dict[str, tuple[int, int]] = {}
        for (account, _, _), (lo, hi) in windows.items():
            have = spans.get(account)
            spans[account] = (lo, hi) if have is None else (min(lo, have[0]), max(hi, have[1]))
        accounts: list[tuple[str, int, int]] = []
        behind: dict[tuple[str, int, int], list[tuple[str, str]]] = {}
        for account, (lo, hi) in spans.items():
            reach = hi + ahead_days
            until = max(hi, reach if last_day is None else min(reach, last_day))
            have = self._coverage.get(account)
            if have is None:
                accounts.append((account, lo, until))
            elif hi > have[1]:
                accounts.append((account, have[1] + 1, until))
        for (account, campaign, geo), (lo, hi) in windows.items():
            have = self._coverage.get(account)
            if have is None or lo >= have[0]:
                continue
            own = self._series_coverage.get((account, campaign, geo))
            last = min(hi, have[0] - 1)
            if own is not None and own[0] <= lo and last <= own[1]:
                continue
            behind.setdefault((account, lo, last), []).append((campaign, geo))
        return accounts, [(a, lo, hi, s) for (a, lo, hi), s in behind.items()]

    def mark_loaded(
        self, account: str, lo: int, hi: int, series: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Record a scan: of the whole account, or of these (campaign, geo) series only."""
        if series:
            for campaign, geo in series:
                key = (account, campaign, geo)
                have = self._series_coverage.get(key)
                self._series_coverage[key] = (
                    (lo, hi) if have is None else (min(lo, have[0]), max(hi, have[1]))
                )
            return
        have = self._coverage.get(account)
        self._coverage[account] = (lo, hi) if have is None else (min(lo, have[0]), max(hi, have[1]))

    # ----------------------------------------------------------------------- mutation

    def _grow(self, need: int) -> None:
        cap = self._key.size
        if need <= cap:
            return
        new = max(need, 2 * cap, 1024)
        for name in ("_key", "_account", "_version", "_sha", "_geo", "_start", "_sent"):
            old = getattr(self, name)
            grown = (
                np.zeros(new, dtype=old.dtype)
                if old.dtype != object
                else np.full(new, None if name == "_geo" else "", dtype=object)
            )
            grown[:cap] = old
            setattr(self, name, grown)
        num = np.zeros((new, 3))
        num[:cap] = self._num
        self._num = num

    def add(self, rows: pd.DataFrame) -> None:
        """Upsert rows (columns :data:`HISTORY_COLUMNS`); a key keeps its highest version."""
        if rows.empty:
            return
        codes = self.codes(rows["series"].tolist())
        days = rows["day"].to_numpy(np.int64)
        keys = self.keys(codes, days)
        version = rows["version"].to_numpy(np.int64)
        # One row per key: its highest version (the last of equals).
        order = np.lexsort((np.arange(keys.size), version, keys))
        last = np.ones(keys.size, dtype=bool)
        last[:-1] = keys[order][1:] != keys[order][:-1]
        take = order[last]
        keys, version, codes, days = keys[take], version[take], codes[take], days[take]
        accounts = rows["account_key"].to_numpy(dtype=object)[take]
        table = self._accounts
        account_codes = np.fromiter(
            (table.setdefault(a, len(table)) for a in accounts.tolist()), np.int64, keys.size
        )
        pos = self._slot_of(keys)
        fresh = pos < 0
        start = self._size
        self._grow(start + int(fresh.sum()))
        pos[fresh] = np.arange(start, start + int(fresh.sum()))
        self._size = start + int(fresh.sum())
        newer = fresh | (version >= self._version[pos])
        at = pos[newer]
        self._key[at] = keys[newer]
        self._account[at] = account_codes[newer]
        self._version[at] = version[newer]
        self._sent[at] = 0  # content of its own: not sent again yet
        shas = rows["sha"].to_numpy(dtype=object)[take][newer]
        self._sha[at] = shas
        self._geo[at] = rows["geo"].to_numpy(dtype=object)[take][newer] if "geo" in rows else None
        self._start[at] = (
            rows["start"].to_numpy(np.int64)[take][newer] if "start" in rows else NO_START
        )
        self._by_sha.update(zip(shas.tolist(), keys[newer].tolist(), strict=True))
        if "geo" in rows:
            series = rows["series"].to_numpy(dtype=object)[take][newer].tolist()
            geos = rows["geo"].to_numpy(dtype=object)[take][newer].tolist()
            self._geos_seen.update(g for g in geos if isinstance(g, str))
            self._by_place.update(
                ((_place_of(s), k % _SHIFT, _geo_match(g)), k)
                for s, g, k in zip(series, geos, keys[newer].tolist(), strict=True)
                if g
            )
        self._num[at] = rows[["spend", "conversions", "revenue"]].to_numpy(np.float64)[take][newer]
        if self._series_max.size < len(self._codes):
            grown = np.full(max(len(self._codes), 2 * self._series_max.size), -(1 << 40), np.int64)
            grown[: self._series_max.size] = self._series_max
            self._series_max = grown
        np.maximum.at(self._series_max, codes, days)
        if self._before is not None:
            bound, latest = self._before
            below = version < bound
            if below.any():
                if latest.size < len(self._codes):
                    latest = np.concatenate(
                        [latest, np.full(len(self._codes) - latest.size, -(1 << 40), np.int64)]
                    )
                np.maximum.at(latest, codes[below], days[below])
                self._before = (bound, latest)
        for acct, day in pd.Series(days).groupby(accounts).max().items():
            self._frontier[str(acct)] = max(self._frontier.get(str(acct), int(day)), int(day))
        self._remember_campaigns(rows)
        if self._size >= self._prune_at:
            self._prune()

    def _remember_campaigns(self, rows: pd.DataFrame) -> None:
        table = self._campaigns
        for acct, key, cid in set(
            zip(rows["account_key"], rows["campaign_key"], rows["campaign_id"], strict=True)
        ):
            if key and cid:
                table.setdefault((acct, key), set()).add(cid)

    def _prune(self) -> None:
        n = self._size
        frontier = np.full(len(self._accounts), 0, dtype=np.int64)
        for acct, code in self._accounts.items():
            frontier[code] = self._frontier.get(acct, 0)
        days = (self._key[:n] % _SHIFT) - _DAY_BIAS
        keep = np.flatnonzero(days >= frontier[self._account[:n]] - self.keep_days)
        for name in ("_key", "_account", "_version", "_sha", "_geo", "_start", "_sent", "_num"):
            setattr(self, name, getattr(self, name)[keep].copy())
        self._size = keep.size
        self._by_sha = dict(
            zip(self._sha[: keep.size].tolist(), self._key[: keep.size].tolist(), strict=True)
        )
        self._by_place = {
            (_place_of(self.series_name(k // _SHIFT) or ""), k % _SHIFT, _geo_match(g)): k
            for k, g in zip(
                self._key[: keep.size].tolist(), self._geo[: keep.size].tolist(), strict=True
            )
            if g
        }
        self._view = None  # slots were renumbered
        self._prune_at = max(50_000, 2 * self._size)
        floors = {a: day - self.keep_days for a, day in self._frontier.items()}
        for acct, (lo, hi) in list(self._coverage.items()):
            if acct in floors:
                self._coverage[acct] = (max(lo, floors[acct]), hi)
        for key, (_lo, hi) in list(self._series_coverage.items()):
            if key[0] in floors and hi < floors[key[0]]:
                del self._series_coverage[key]

    # ------------------------------------------------------------------------- lookup

    def _slot_of(self, keys: np.ndarray) -> np.ndarray:
        """The slot of each key, -1 where not stored (keys are unique in the store)."""
        n = self._size
        view = self._view
        if view is None:
            order = np.argsort(self._key[:n], kind="stable")
            view = (self._key[:n][order], order.astype(np.int64), n)
        elif view[2] < n:  # merge in the slots added since
            new = np.arange(view[2], n, dtype=np.int64)
            new = new[np.argsort(self._key[new], kind="stable")]
            where = np.searchsorted(view[0], self._key[new])
            view = (np.insert(view[0], where, self._key[new]), np.insert(view[1], where, new), n)
        self._view = view
        if n == 0:
            return np.full(keys.size, -1, dtype=np.int64)
        sorted_keys, slots, _ = view
        i = np.minimum(np.searchsorted(sorted_keys, keys), n - 1)
        return np.where(sorted_keys[i] == keys, slots[i], -1)

    def lookup(self, keys: np.ndarray) -> Known:
        """Stored facts for ``keys`` (from :meth:`keys`)."""
        at = self._slot_of(keys)
        hit = at >= 0
        num = np.full((keys.size, 3), np.nan)
        num[hit] = self._num[at[hit]]
        version = np.full(keys.size, -1, dtype=np.int64)
        version[hit] = self._version[at[hit]]
        sha = np.full(keys.size, "", dtype=object)
        sha[hit] = self._sha[at[hit]]
        geo = np.full(keys.size, None, dtype=object)
        geo[hit] = self._geo[at[hit]]
        start = np.full(keys.size, NO_START, dtype=np.int64)
        start[hit] = self._start[at[hit]]
        sent = np.zeros(keys.size, dtype=np.int64)
        sent[hit] = self._sent[at[hit]]
        return Known(version, sha, num[:, 0], num[:, 1], num[:, 2], geo, start, sent)

    def mark_sent(self, keys: np.ndarray, pulled_at_us: int) -> None:
        """Record that a pull sent the stored content of ``keys`` again (rows equal to it):
        a later batch of that pull replacing it replaces a version of its own export."""
        at = self._slot_of(keys)
        self._sent[at[at >= 0]] = pulled_at_us

    def stored_as(self, shas: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Per row, the key of the stored row with the same raw content on the same day of
        the same account under another series (-1: none): the row as an ingest with other
        account settings stored it (a geo mapped to another code, "California" before
        --country US made it "CA"). ``keys``: the rows' own keys (:meth:`keys`)."""
        out = np.full(keys.size, -1, dtype=np.int64)
        found = self._by_sha
        for i, (sha, key) in enumerate(zip(shas.tolist(), keys.tolist(), strict=True)):
            other = found.get(sha)
            if other is None or other == key or other % _SHIFT != key % _SHIFT:
                continue
            slot = self._slot_of(np.array([other], dtype=np.int64))[0]
            mine = self._accounts_of_series(key // _SHIFT)
            if slot >= 0 and mine is not None and self._account[slot] == mine:
                out[i] = other
        return out

    def stored_at(
        self, series: Sequence[str], keys: np.ndarray, geos: Sequence[object]
    ) -> np.ndarray:
        """Per row, the key of a stored record of the same account and campaign on the same
        day whose stored geo is the row's (-1: none), under another series: the record a
        corrected re-send restated in place (its key keeps the geo as first spelt, "California";
        its geo is now "US-CA"), which a later pull with other numbers (another raw content,
        so :meth:`stored_as` misses it) must restate again rather than add beside."""
        out = np.full(keys.size, -1, dtype=np.int64)
        place = self._by_place
        if not place:
            return out
        for i, (s, key, g) in enumerate(zip(series, keys.tolist(), geos, strict=True)):
            at = (_place_of(s), key % _SHIFT)
            other = place.get((*at, _geo_match(g)))
            if other is None and isinstance(g, str):
                other = next(
                    (k for name in _unprefixed(g) if (k := place.get((*at, name))) is not None),
                    None,
                )
            if other is not None and other != key:
                out[i] = other
        if (out >= 0).any():  # pruned since: no longer stored here
            hit = np.flatnonzero(out >= 0)
            out[hit[self._slot_of(out[hit]) < 0]] = -1
        return out

    def _accounts_of_series(self, code: int) -> int | None:
        """The account code of a series code (series are ``source|account|…``)."""
        series = self.series_name(code)
        if series is None:
            return None
        source, account = series.split("|", 2)[:2]
        return self._accounts.get(f"{source}|{account}")

    @staticmethod
    def code_of(key: int) -> int:
        """The series code of a key (:meth:`keys`)."""
        return key // _SHIFT

    def series_name(self, code: int) -> str | None:
        """The series of a code (None: not known)."""
        if self._names is None or len(self._names) != len(self._codes):
            self._names = {c: s for s, c in self._codes.items()}
        return self._names.get(code)

    def series_max_day(self, codes: np.ndarray) -> np.ndarray:
        """Latest known day of each series (-2^40 where none)."""
        out = np.full(codes.size, -(1 << 40), dtype=np.int64)
        known = codes < self._series_max.size
        out[known] = self._series_max[codes[known]]
        return out

    def series_max_day_before(self, codes: np.ndarray, version: int) -> np.ndarray:
        """Latest known day of each series among stored rows with a version below
        ``version`` (-2^40 where none). A version starts at its pull's µs, so with a
        pull's first version these are the days earlier pulls delivered.

        Computed over the store once per ``version`` (a stream's batches share their pull's),
        then kept up to date by :meth:`add`, so a batch costs its own rows."""
        if self._before is None or self._before[0] != version:
            n = self._size
            earlier = self._version[:n] < version
            keys = self._key[:n][earlier]
            latest = np.full(len(self._codes), -(1 << 40), dtype=np.int64)
            np.maximum.at(latest, keys // _SHIFT, keys % _SHIFT - _DAY_BIAS)
            self._before = (version, latest)
        latest = self._before[1]
        out = np.full(codes.size, -(1 << 40), dtype=np.int64)
        known = codes < latest.size
        out[known] = latest[codes[known]]
        return out

    def replays(
        self,
        org_id: str,
        record_ids: np.ndarray,
        shas: np.ndarray,
        ask: np.ndarray,
        pulled_at_us: int,
        restore: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row, whether its content (``shas``) is a version of its record that a later
        version replaced and that this pull (``pulled_at_us``; ``restore``: a batch that says
        it corrects stored rows) sends as a copy of an old export, not as a correction
        (:meth:`Replaced.copies`): (copy, the replacing pull's own export held it, that
        pull's time in µs or -1 where not known). Only rows in ``ask`` are looked up (one
        query a batch)."""
        copy = np.zeros(record_ids.size, dtype=bool)
        in_pull = np.zeros(record_ids.size, dtype=bool)
        at = np.full(record_ids.size, -1, dtype=np.int64)
        rows = np.flatnonzero(ask)
        if not rows.size:
            return copy, in_pull, at
        ids = [str(r) for r in record_ids[rows].tolist()]
        found = self._log.find(org_id, ids) if self._log is not None else {}
        mine = self._replaced
        for i, rid, sha in zip(rows.tolist(), ids, shas[rows].tolist(), strict=True):
            logged, own = found.get((rid, sha)), mine.get((org_id, rid, sha))
            how = own if logged is None else logged if own is None else logged.merged(own)
            if how is None:
                continue
            copy[i] = how.copies(pulled_at_us, restore)
            in_pull[i] = how.in_pull
            at[i] = -1 if how.at is None else how.at
        return copy, in_pull, at

    def supersede(
        self, org_id: str, entries: Sequence[tuple[str, str, bool]], replaced_at: int
    ) -> None:
        """Remember ``(record id, sha, in_pull)`` versions replaced by a pull of
        ``replaced_at`` (µs) (durably, when the history has a log): ``in_pull`` where that
        pull's own export held the version before the replacing line."""
        if not entries:
            return
        mine = self._replaced
        for rid, sha, inside in entries:
            how = Replaced(replaced_at, inside)
            have = mine.get((org_id, rid, sha))
            mine[(org_id, rid, sha)] = how if have is None else have.merged(how)
        if self._log is not None:
            self._log.add(org_id, entries, replaced_at)

    def geo_spellings(self) -> set[str]:
        """Every geo, as stored, of the rows this stream loaded or wrote (pruned ones too)."""
        return self._geos_seen

    def frontier(self, account_key: str) -> int | None:
        """Latest day known for the account (stored or written by this stream)."""
        return self._frontier.get(account_key)

    def campaign_ids(self, account_key: str, campaign_key: str) -> set[str]:
        """Every campaign id seen under this name / message id (more than one: ambiguous)."""
        return self._campaigns.get((account_key, campaign_key), set())
