"""The words every warning about a change under a stored analysis's window carries.

The surfacing service says what changed under an analysis's window since it was made (or that
it could not check), and ``liftos recommend``/``optimize`` print those lines before the plan,
apart from the other warnings. The CLI finds them by these words, so both sides take them from
here: a rewording on one side cannot silently send the warnings to the bottom (audit s18 V2-F7).
"""

from __future__ import annotations

__all__ = ["WINDOW_CHANGED"]

# In every such line: "the outcome of 3 days in this analysis's window changed since it was
# made (...)", "whether the data under this analysis's window changed since it was made could
# not be checked (...)".
WINDOW_CHANGED = "this analysis's window changed since it was made"
