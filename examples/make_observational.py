"""Write ``examples/observational.csv``: a small observational table with a known effect, for
``liftos estimate``.

The simulator's ``observational`` scenario (seed 0, 20 states, 60 days, clean exports): Meta
prospecting budgets are doubled on state-days chosen on observed covariates only (demand
forecast, macro index, competitor intensity, promotions, weekend, population), so a naive
comparison of treated and untreated days is confounded and an adjusted estimate (AIPW) is not.
One row per state-day: ``revenue`` is first-party revenue per 1,000 residents that day,
``treatment`` 1 on a doubled day. The true effect is the mean, over the table's rows, of the
simulated potential outcomes' difference Y(1) - Y(0) (the simulator draws both for every row).
At 1,200 rows the adjusted interval excludes zero (at 600 it did not: "no detectable effect").
The roles name no unit or time: the treatment is per state-day, not a panel rollout (with
them, ``auto`` would look for a difference-in-differences design and refuse: no pre-period).

    PYTHONPATH=.:gen .venv/bin/python examples/make_observational.py          # write the CSV
    PYTHONPATH=.:gen .venv/bin/python examples/make_observational.py --check  # compare with it
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import sim

CSV = Path(__file__).with_name("observational.csv")
# The columns' roles for `liftos estimate` (the README's command).
ROLES = (
    "--outcome revenue --treatment treatment --cluster region "
    "--covariates demand_forecast,macro_index,competitor_intensity,promo,weekend,log_population"
)


def observational() -> tuple[str, float]:
    """The CSV's text and the true average effect over its rows."""
    study = sim.study_table(sim.simulate("observational", seed=0, n_geos=20, days=60, dirt=False))
    frame: pd.DataFrame = study.frame
    # Six significant digits: the file stays small, and the rounding moves no estimate.
    return frame.to_csv(index=False, float_format="%.6g"), study.true_effect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the file, write nothing")
    args = parser.parse_args()
    text, truth = observational()
    if args.check:
        same = CSV.read_text() == text
        print(f"{CSV.name}: {'matches' if same else 'DIFFERS from'} the simulator's table")
        return 0 if same else 1
    CSV.write_text(text)
    rows = text.count("\n") - 1
    print(f"wrote examples/{CSV.name} ({rows} rows); true average effect {truth:.4f} (revenue per 1,000 "
          f"residents per day)\nliftos estimate examples/{CSV.name} {ROLES}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
