"""The SDK reads LIFTOS_ORG as the CLI does, and an unknown outcome is named with the choices
before anything is sent (it was protobuf's raw 'Enum OutcomeMetric has no value ...')."""

from __future__ import annotations

import pytest

from mesh.runtime.config import PeerConfig
from mesh.runtime.exceptions import InvalidInput
from mesh.sdk import LiftOS

NOWHERE = PeerConfig(**{s: "127.0.0.1:1" for s in PeerConfig.__dataclass_fields__})


def test_org_defaults_to_liftos_org(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTOS_ORG", "org_001")
    with LiftOS(NOWHERE) as lo:
        assert lo.org_id == "org_001"
    with LiftOS(NOWHERE, org_id="acme") as lo:
        assert lo.org_id == "acme"
    monkeypatch.delenv("LIFTOS_ORG")
    with LiftOS(NOWHERE) as lo:
        assert lo.org_id == ""


def test_an_unknown_outcome_names_the_field_and_the_choices() -> None:
    with LiftOS(NOWHERE, org_id="acme") as lo, pytest.raises(InvalidInput) as error:
        lo.analyze(outcome="orders")
    message = str(error.value)
    assert "'orders'" in message and "conversions" in message and "revenue" in message
    assert [v.field for v in error.value.violations] == ["outcome"]
