"""The executive's plain words for the data checks s21 added (review V1 F8): an analysis that
warned on national_outliers or spend_spikes read "the national outliers raised a warning" and
no meaning, where the other checks say what the warning means for the figures."""

from __future__ import annotations

import pytest

from llm_svc.vocabulary import plain_check, plain_review
from tests.llm.test_executive_health import _grounded, tv_attribution


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("national_outliers", "sales on a day moved in every region at once beyond what the "
         "calendar and media explain, a data glitch or a sale not registered"),
        ("spend_spikes", "a day of a channel's spend is far above its usual day, perhaps "
         "mis-keyed, and that channel's figures rest on it"),
    ],
)  # fmt: skip
def test_a_warning_of_the_new_data_checks_is_said_in_plain_words(kind: str, words: str) -> None:
    done = _grounded(tv_attribution((kind,)))
    assert done.text.startswith("Model health: REVIEW: usable, with caveats to read first: ")
    verdict = done.text.split(", so read the figures below")[0]
    assert f"raised a warning ({words}" in verdict, done.text


@pytest.mark.parametrize("kind", ["national_outliers", "outcome_outliers"])
def test_the_data_checks_that_fail_say_what_to_do(kind: str) -> None:
    """The two checks that FAIL an analysis on its data name the import error and the fix."""
    assert "import error; correct th" in plain_check(kind)
    assert "analyse again" in plain_check(kind)
    assert plain_review("spend_spikes") and plain_review("national_outliers")


def test_a_failed_national_outliers_verdict_names_the_check_and_what_to_do() -> None:
    """G4's F8 leftover: a FAIL read "the model failed its national outliers, so its figures
    should not be relied on", no label and no word of what to do."""
    from liftos.v1 import causal_pb2 as causal_pb

    a = tv_attribution(("national_outliers",))
    a.attribution.health.verdict = causal_pb.HEALTH_VERDICT_FAIL
    for check in a.attribution.health.checks:
        if check.name == "national_outliers":
            check.verdict = causal_pb.HEALTH_VERDICT_FAIL
    text = _grounded(a).text
    assert text.startswith("Model health: FAIL: the model failed its national outcome check ("), (
        text
    )
    assert plain_check("national_outliers") in text
