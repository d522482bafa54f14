"""The CLI's one "spelled alike" rule (mesh.cli.memory_accounts.spelled_alike), which the
registry's deletes (near) and memory's delete (exact after folding) share. The table's last
two columns are the outputs of the two rules it replaced, registry_verbs._alike and
memory_accounts' fold equality, computed from them before they were deleted (s19 closing)."""

from __future__ import annotations

import pytest

from mesh.cli.memory_accounts import spelled_alike

# typed, held, registry_verbs._alike (near), memory_accounts' _fold(typed) == _fold(held)
CASES = [
    ("e1", "e1", True, True),
    ("E1", "e1", True, True),
    (" e1 ", "e1", True, True),
    ("e1_typo", "e1", True, False),
    ("e1", "e1_typo", True, False),
    ("ccl", "cci", True, False),
    ("abc", "xyz", False, False),
    ("", "", False, True),
    ("", "e1", False, False),
    ("e1", "", False, False),
    ("  ", "e1", False, False),
    ("act-123", "ACT-123", True, True),
    ("act-123", "act-124", True, False),
    ("act-123", "act-9", True, False),
    ("Straße", "STRASSE", True, True),
    ("spring_sale", "Spring_Sale_2024", True, False),
    ("google", "Google", True, True),
    ("fx_eur", "fx_usd", True, False),
    ("holiday", "weather", False, False),
    ("x", "xy", True, False),
    ("ab", "ba", False, False),
    ("campaign-42", "campaign-24", True, False),
]


@pytest.mark.parametrize(("typed", "held", "near", "exact"), CASES)
def test_one_rule_answers_as_each_of_the_two_it_replaced(
    typed: str, held: str, near: bool, exact: bool
) -> None:
    assert spelled_alike(typed, held, near=True) is near
    assert spelled_alike(typed, held) is exact
