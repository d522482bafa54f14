"""The data's share of a channel's effect precision: where an estimate stops being the prior's.

Causal's ``prior_bound`` check (``causal_svc.attribution.health_prior``) computes each channel's
share, ``1 − gᵀH⁻¹g/s²``, and the planning model carries it (``ChannelResponseModel.data_share``).
Under :data:`MIN_DATA_SHARE` the posterior's sd is within 11% of the prior's: the channel's row
is the prior's, not a measurement, so no planning move (Recommend, OptimizeBudget) rests on it
(s20 R48-F1: in demo worlds meta retargeting gets 3–14% of its precision from the data and was
cut on what is really the prior). Here, in the runtime, because both the causal and the
surfacing service read it and neither may import the other.
"""

from __future__ import annotations

__all__ = ["MIN_DATA_SHARE", "mostly_prior", "prior_words", "share_text"]

# The data's share of a channel's effect precision under which it is the prior's, not a
# measurement (ρ above 0.89: the posterior's sd within 11% of the prior's).
MIN_DATA_SHARE = 0.2


def mostly_prior(share: float | None) -> bool:
    """Whether an effect with data share ``share`` is the prior's (None: not known, as for an
    analysis stored before the share was: planning goes on as before)."""
    return share is not None and share < MIN_DATA_SHARE


def share_text(share: float) -> str:
    """The share as a percentage; under 1% but not nothing reads "<1%", not "0%" (which would
    say the data gave none)."""
    return f"{share:.0%}" if share >= 0.005 or share == 0.0 else "<1%"


def prior_words(share: float) -> str:
    """The reason in a planner's words."""
    return f"{share_text(share)} of its estimate's precision comes from the data; the rest is the prior's"
