"""What a batch's fingerprint is made of, so a reused batch id can say what differs.

The ledger keys an acked batch on the hash of its whole request: a retry must resend it as it
was. A client whose retry re-stamps ``pulled_at`` (or changes the account or mapping) sends
the same rows and was told the batch "was acked for different rows" (s18 R32). The
fingerprint is now that hash (what the ledger compares, alone in entries written before)
followed by each part's digest or value; :func:`reuse_message` names the parts that differ.
"""

from __future__ import annotations

__all__ = ["PARTS", "join", "reuse_message", "same"]

_SEP, _EQ = ";", "="
# The parts of an IngestRequest a retry could change, in the order a message names them.
PARTS = ("rows", "pulled_at", "row_offset", "account", "mapping", "source")
_SHOWN = {"pulled_at", "row_offset"}  # values, not digests: the message quotes them


def join(whole: str, parts: dict[str, str]) -> str:
    """The fingerprint: ``whole`` (the request's hash), then ``name=value`` per part."""
    return _SEP.join([whole, *(f"{k}{_EQ}{v}" for k, v in parts.items())])


def same(a: str, b: str) -> bool:
    """Whether two fingerprints are one request (their whole hashes agree)."""
    return a.split(_SEP, 1)[0] == b.split(_SEP, 1)[0]


def _parts(fingerprint: str) -> dict[str, str]:
    pairs = (p.partition(_EQ) for p in fingerprint.split(_SEP)[1:])
    return {k: v for k, _, v in pairs}


def reuse_message(batch_id: str, done: str, seen: str, now: str) -> str:
    """Why batch ``batch_id`` is refused: ``done`` ("was acked" / "is being written") with
    the ``seen`` fingerprint, sent again as ``now``; names each part that differs (a
    fingerprint from before parts were kept names none) and what to do."""
    before, after = _parts(seen), _parts(now)
    if not before:
        return (
            f"batch {batch_id!r} {done} for a different request (its rows, pulled_at, "
            "row_offset, account or mapping differ); a retry must resend the batch as it was, "
            "new data takes a new batch_id"
        )
    names = [k for k in PARTS if before.get(k) != after.get(k)]
    if names == ["rows"] or not names:
        return f"batch {batch_id!r} {done} for different rows; use a new batch_id"
    shown = [f"{k} {before.get(k) or 'unset'} then, {after.get(k) or 'unset'} now"
             for k in names if k in _SHOWN]  # fmt: skip
    said = f" ({'; '.join(shown)})" if shown else ""
    rows = "" if "rows" in names else "; its rows are the same"
    return (
        f"batch {batch_id!r} {done} with another {', '.join(names)}{said}{rows}: a retry "
        f"must resend the batch as it was ({', '.join(names)} included), and a new pull "
        "takes a new batch_id"
    )
