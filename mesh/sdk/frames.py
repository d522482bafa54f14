"""The SDK's results as pandas DataFrames.

A result's ``to_dict()`` follows proto3 JSON: it leaves out every field equal to its default
and writes int64 as text, so ``pd.json_normalize([c.to_dict() for c in r.channels])`` held NaN
for each 0 (an unestablished channel's lower bound, a zero estimate: ``mean()`` skipped them)
and ``recordCount`` as a string column (R45-F1). :func:`to_frame` keeps zeros, int64 as ints
and dates as ``datetime.date`` (the same reading of a message as the CLI's ``--json``:
mesh.runtime.message_data). ``to_dict(include_default_values=True)`` keeps zeros too, if a
dict is what you want.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import betterproto2
from google.protobuf.message import Message as PbMessage

from mesh.runtime.message_data import plain

if TYPE_CHECKING:  # pandas costs ~0.5 CPU-s to import; only building a frame loads it
    import pandas as pd


def to_frame(messages: Any, *, sep: str = ".") -> pd.DataFrame:
    """One row per message (``result.channels``, ``plan.allocations``, ``list_analyses()``;
    a single message is one row), nested fields flattened into columns named by the fields'
    path (``incremental_roas.lower``, ``date_range.start_date``; ``sep`` joins them). Every
    field is a column, its zero kept as 0; int64 are ints, a non-finite number NaN, a date a
    ``datetime.date``, an enum its name; a repeated field stays a list in its cell."""
    import pandas as pd

    rows = [messages] if isinstance(messages, betterproto2.Message | PbMessage) else messages
    if not isinstance(rows, Iterable) or isinstance(rows, str | bytes):
        raise TypeError(
            f"to_frame takes messages (a result's repeated field, e.g. result.channels), "
            f"not {type(messages).__name__}"
        )
    frame = pd.json_normalize([plain(m, snake=True, python=True) for m in rows], sep=sep)
    # A message field unset on some rows is None there, which json_normalize keeps as a column
    # of its own beside the set rows' flattened ones: those rows' flattened cells are NaN already.
    nested = {c.split(sep)[0] for c in frame.columns if sep in c}
    return frame.drop(columns=[c for c in frame.columns if c in nested])
