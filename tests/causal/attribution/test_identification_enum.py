"""Every AttributionIdentification the proto defines reaches a model spec (audit R5-F11: AUTO
was added to the proto before the server's table, and a request naming it ended INTERNAL with
KeyError 3); a number the proto does not define is refused naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from liftos.v1 import causal_pb2 as causal_pb

from causal_svc.attribution.spec import Identification
from causal_svc.convert.attribution import attribution_question
from mesh.runtime.exceptions import InvalidInput
from mesh.runtime.protoconv import set_date_range


def _request(identification: int) -> causal_pb.AnalyzeAttributionRequest:
    r = causal_pb.AnalyzeAttributionRequest(org_id="acme", identification=identification)  # type: ignore[arg-type]
    set_date_range(r.date_range, dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    return r


@pytest.mark.parametrize(
    "value", sorted(causal_pb.AttributionIdentification.DESCRIPTOR.values_by_number)
)
def test_every_defined_identification_maps_to_a_spec(value: int) -> None:
    q = attribution_question(_request(value))
    assert q.spec.identification in (Identification.NATIONAL, Identification.GEO)


def test_an_undefined_identification_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as info:
        attribution_question(_request(99))
    assert info.value.field == "identification"
    assert "99" in str(info.value)
