"""`liftos ingest --accounts`: an entry naming another org than --org is refused before
anything is sent (audit R31 F7: a client's Google Ads account went into another client's org
without a word), and a product report finds its ad account's entry or is told what to pass
(R25 F8)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mesh.cli.ingest import load_account

_GOOGLE = {"org_id": "beta", "source": "google_ads", "account_id": "2770229842",
           "timezone": "America/New_York", "currency": "USD"}  # fmt: skip


def _args(path: Path, org: str, source: str = "google_ads", **flags: str) -> argparse.Namespace:
    base = {"account_id": "", "timezone": "", "currency": "", "country": "US"}
    return argparse.Namespace(accounts=path, org=org, source=source, taxes_included=None,
                              tax_rate=None, **{**base, **flags})  # fmt: skip


def _file(tmp_path: Path, entries: list[dict[str, str]]) -> Path:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(entries))
    return path


def test_an_entry_of_another_org_is_refused_naming_it(tmp_path: Path) -> None:
    path = _file(tmp_path, [_GOOGLE])
    with pytest.raises(SystemExit) as refused:
        load_account(_args(path, "org_001"))
    message = str(refused.value)
    assert "google_ads account '2770229842' names org 'beta'" in message
    assert "not --org 'org_001'" in message and "--org beta" in message
    assert "set the entry's org_id to 'org_001'" in message


def test_the_orgs_own_and_unnamed_entries_are_taken(tmp_path: Path) -> None:
    own = _file(tmp_path, [_GOOGLE])
    assert load_account(_args(own, "beta"))["account_id"] == "2770229842"
    unnamed = {k: v for k, v in _GOOGLE.items() if k != "org_id"}
    other = _file(tmp_path, [unnamed])
    assert load_account(_args(other, "org_001"))["account_id"] == "2770229842"


def test_a_picked_account_of_another_org_is_refused(tmp_path: Path) -> None:
    mine = {**_GOOGLE, "org_id": "org_001", "account_id": "111"}
    path = _file(tmp_path, [mine, _GOOGLE])
    assert load_account(_args(path, "org_001"))["account_id"] == "111"
    with pytest.raises(SystemExit, match="names org 'beta'"):
        load_account(_args(path, "org_001", account_id="2770229842"))


def test_a_product_report_takes_its_ad_accounts_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, [_GOOGLE])
    account = load_account(_args(path, "beta", source="google_ads_shopping"))
    assert account["account_id"] == "2770229842" and account["timezone"] == "America/New_York"
    assert "google_ads_shopping rows use their google_ads account" in capsys.readouterr().err


def test_no_entry_of_the_source_says_what_to_pass(tmp_path: Path) -> None:
    path = _file(tmp_path, [_GOOGLE])
    with pytest.raises(SystemExit) as refused:
        load_account(_args(path, "beta", source="klaviyo"))
    message = str(refused.value)
    assert "has 0 klaviyo accounts" in message
    assert "--account-id, --timezone and --currency" in message
