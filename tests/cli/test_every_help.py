"""Every verb's and sub-verb's ``--help`` renders (R12-F1: a bare "90%" in one help string made
argparse's %-formatting raise, and `liftos counterfactual --help` printed a traceback)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from mesh.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: str = "liftos") -> Iterator[tuple[str, argparse.ArgumentParser]]:  # fmt: skip
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_help_text_renders() -> None:
    seen = dict(_parsers(build_parser()))
    assert len(seen) > 25  # every verb and sub-verb, not the root alone
    for path, parser in seen.items():
        text = parser.format_help()
        assert text.startswith("usage:"), path
    assert "the 90% of the analysis's table" in " ".join(
        seen["liftos counterfactual"].format_help().split()
    )
