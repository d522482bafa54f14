"""mesh.runtime.quoting: request text quoted escaped and clipped in error messages."""

from __future__ import annotations

from mesh.runtime.quoting import shown, shown_all


def test_control_characters_and_escapes_are_shown_escaped() -> None:
    assert shown("\x00\x1b[2J") == "'\\x00\\x1b[2J'"
    assert shown_all(["meta", "\x1b[31m"]) == "'meta', '\\x1b[31m'"


def test_long_values_and_lists_are_clipped_with_a_count() -> None:
    text = shown("x" * 5_000)
    assert len(text) < 230 and text.endswith("(5,002 characters)")
    many = shown_all([f"channel_{i:04d}" for i in range(1_000)])
    assert len(many) < 260 and many.endswith(" more") and "'channel_0000'" in many
    one_long = shown_all(["y" * 10_000, "z"])
    assert len(one_long) < 120 and "'z'" in one_long
