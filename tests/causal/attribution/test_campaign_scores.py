"""Campaign scores inside their channel: a campaign's interval is its channel's scaled by its
share, and that share exists even where the channel's point estimate is 0."""

from __future__ import annotations

import numpy as np
import pytest

from causal_svc.attribution import Evaluator
from causal_svc.attribution.scores import campaign_scores, channel_scores


def test_campaigns_split_the_channel_interval_even_at_a_zero_estimate(demo_fit) -> None:
    ev = Evaluator(demo_fit)
    channels, _ = channel_scores(ev)
    campaigns = campaign_scores(ev, channels)
    panel = demo_fit.panel
    zero = [s for s in channels if s.incremental.estimate == 0.0]
    # The demo fit puts some channels' β at its bound (google_pmax, google_search,
    # meta_retargeting): the case where intervals used to collapse to [0, 0].
    assert zero and all(s.incremental.upper > 0 for s in zero)
    for chan in channels:
        mine = [k for k in campaigns if k.channel == chan.channel]
        assert mine, chan.channel
        est = sum(k.incremental.estimate for k in mine)
        assert est == pytest.approx(chan.incremental.estimate, rel=1e-9, abs=1e-6)
        # Upper bounds (and standard errors) are the channel's scaled by shares summing to 1.
        assert sum(k.incremental.upper for k in mine) == pytest.approx(
            chan.incremental.upper, rel=1e-9
        )
        assert sum(k.incremental.stderr for k in mine) == pytest.approx(
            chan.incremental.stderr, rel=1e-9
        )
        if len(mine) == 1:
            assert mine[0].incremental == chan.incremental, chan.channel
        for k in mine:
            ran = panel.campaign_media[panel.campaigns.index(k.campaign)].sum() > 0
            assert (k.incremental.upper > 0) == bool(ran), k.campaign
    # A campaign at a zero estimate gets its share of the channel's input, not of its effect.
    search = [k for k in campaigns if k.channel == "google_search"]
    assert len(search) > 1
    chan = next(s for s in channels if s.channel == "google_search")
    assert chan.incremental.estimate == 0.0
    rows = [panel.campaigns.index(k.campaign) for k in search]
    media = panel.campaign_media[rows].sum(axis=1)
    fracs = np.array([k.incremental.upper for k in search]) / chan.incremental.upper
    # Adstock moves input between days, not between campaigns beyond the window's edge.
    assert fracs == pytest.approx(media / media.sum(), abs=0.02)
