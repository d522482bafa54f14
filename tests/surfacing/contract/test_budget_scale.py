"""`liftos optimize --budget 600.000` (German for 600,000, read as 600) planned 600 against
~1.2 M of current spend over the same days with no word (audit s18 R34 F9). Now a budget under
1% or over 100x the planned channels' current spend over the horizon is warned about, naming
both figures; the plan is still made. Over real causal, memory and surfacing servers (the
module's mesh and analysis are test_plan_words')."""

from __future__ import annotations

import re

from tests.surfacing.contract.test_plan_words import (  # noqa: F401 - the fixtures
    _budget,
    analysis,
    mesh,
    run,
    world,
)


def test_a_budget_a_thousandth_of_current_spend_is_warned_about(run, analysis) -> None:  # noqa: F811
    usual = float(_budget(analysis))
    rc, out, err = run("optimize", analysis.analysis_id, "--budget", _budget(analysis))
    assert rc == 0, err
    assert "mistyped" not in err
    rc, out, err = run("optimize", analysis.analysis_id, "--budget", f"{usual / 1000:.3f}")
    assert rc == 0, err  # warned, not refused
    (line,) = [x for x in err.splitlines() if "mistyped" in x]
    shown = float(f"{usual / 1000:.3f}")
    assert line.startswith(f"warning: --budget {shown:,.10g} USD is 0.")
    current = float(re.search(r"current spend, ([\d,]+) USD over the same \d+ days", line)[1]
                    .replace(",", ""))  # fmt: skip
    rows = [x.split() for x in out.splitlines()[3:] if x and not x.startswith(" ")]
    table = sum(float(r[1].replace(",", "")) for r in rows if len(r) > 2 and r[1][0].isdigit())
    assert abs(current - table) <= len(rows)  # the table's current column, rounded per row
    assert "'600.000' is read as 600" in line
