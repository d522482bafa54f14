"""`liftos recommend` labels every kind of recommendation the service can give (a product
analysis's kinds printed as "[?]": re-audit R3)."""

from __future__ import annotations

from liftos.v1 import surfacing_pb2 as pb

from mesh.cli.surfacing import RECOMMENDATION_KINDS


def test_every_recommendation_kind_has_a_label() -> None:
    kinds = {v.number for v in pb.RecommendationKind.DESCRIPTOR.values if v.number}
    assert kinds == set(RECOMMENDATION_KINDS)
