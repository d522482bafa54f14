"""`liftos estimate DATA.csv --method … --outcome … --treatment …` through the mesh; or, with
``--experiment ID`` and no CSV, on the org's records in memory for that experiment (geo × day,
treatment ``treated_post``), ``--record`` storing the estimate as the experiment's result (a
result already recorded is kept, and shown beside the new estimate, unless ``--replace``)."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from mesh.cli import timeouts
from mesh.cli.csv_dialect import header_problem, parse_delimiter
from mesh.cli.json_out import dumps
from mesh.runtime.estimand import estimand_words
from mesh.runtime.grouped_numbers import Grouped, dot_grouped
from mesh.sdk.causal import Records
from mesh.sdk.client import LiftOS, dc
from mesh.sdk.failures import RpcFailure

if TYPE_CHECKING:  # every verb's parser imports this module; pandas loads in run()
    import pandas as pd

METHODS = (
    "auto", "difference_in_means", "did", "event_study", "staggered_did", "iv", "rdd",
    "matching", "ipw", "aipw", "synthetic_control", "sdid", "dml", "bsts",
)  # fmt: skip


def add_parser(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "estimate",
        help="one causal estimate on a CSV file, or on an experiment's records in memory",
    )
    p.add_argument(
        "data", type=Path, nargs="?", default=None,
        help="CSV file with a header row (omit with --experiment: the org's records in memory)",
    )  # fmt: skip
    p.add_argument(
        "--experiment", default="",
        help="registered experiment: its records from memory (geo x day; the treatment "
        "defaults to treated_post, unit geo, time day)",
    )  # fmt: skip
    p.add_argument(
        "--delimiter", default=",", type=parse_delimiter,
        help="the CSV file's cell separator: ',' (default), ';' (German/French Excel), '|', tab",
    )  # fmt: skip
    p.add_argument(
        "--decimal", choices=(".", ","), default=None,
        help="the CSV file's decimal mark: ',' reads 1.234,56 and 2.906 (= 2906), '.' reads "
        "1,234.56; without it numbers must be plain, and a column whose '.' looks like a "
        "thousands separator is refused",
    )  # fmt: skip
    p.add_argument("--start", type=dt.date.fromisoformat, default=None,
                   help="first date of the records read (YYYY-MM-DD; include the pre-period; "
                   "default with --experiment: a pre-period as long as the test)")  # fmt: skip
    p.add_argument("--end", type=dt.date.fromisoformat, default=None,
                   help="last date of the records read (YYYY-MM-DD; default with "
                   "--experiment: the test's last day)")  # fmt: skip
    p.add_argument(
        "--record", action="store_true",
        help="store the estimate as the experiment's result in the registry (attribution is "
        "then calibrated by it), over the test's days the records hold: with an --end inside "
        "the test, over the days to --end, and the estimate says so",
    )  # fmt: skip
    p.add_argument(
        "--replace", action="store_true",
        help="with --record: replace a result the experiment already has (without it, an "
        "existing result is kept and shown beside the new estimate)",
    )  # fmt: skip
    p.add_argument("--method", choices=METHODS, default="auto")
    p.add_argument("--outcome", required=True)
    p.add_argument(
        "--treatment",
        default="",
        help="0/1 column (panels: treated unit-periods); optional for a sharp RDD, where "
        "treatment is --running-variable >= --cutoff",
    )
    p.add_argument("--unit", default="")
    p.add_argument("--time", default="")
    p.add_argument("--covariates", default="", help="comma-separated")
    p.add_argument("--instruments", default="", help="comma-separated")
    p.add_argument("--running-variable", default="")
    p.add_argument("--cutoff", type=float, default=None)
    p.add_argument(
        "--fuzzy",
        action="store_true",
        help="RDD: the treatment is a take-up or dose that jumps at the cutoff",
    )
    p.add_argument(
        "--cluster-inference",
        choices=("auto", "cluster_robust", "wild_bootstrap"),
        default="auto",
        help=(
            "clustered p-values and intervals for did, event_study, staggered_did, "
            "difference_in_means and naive_regression (auto: wild cluster bootstrap below 30 "
            "clusters); iv, rdd, ipw and aipw use CR1 with t(G-1) whatever is asked, and "
            "the estimate warns when a choice was not applied"
        ),
    )
    p.add_argument(
        "--control-group",
        choices=("never_treated", "not_yet_treated"),
        default=None,
        help=(
            "staggered_did: the units each adoption cohort is compared with (default "
            "never_treated; not_yet_treated also uses units adopting later, needed when "
            "every unit is eventually treated)"
        ),
    )
    p.add_argument("--cluster", default="")
    p.add_argument("--weights", default="")
    p.add_argument("--effect-modifiers", default="", help="comma-separated (DML CATE segments)")
    p.add_argument("--pre-outcome", default="", help="pre-period outcome for CUPED")
    p.add_argument("--estimand", choices=("ate", "att", "late", "cate"), default=None)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--randomized", action="store_true", help="treatment was randomly assigned")
    p.add_argument("--simulations", type=int, default=0, help="refuter re-estimates per check")
    p.add_argument(
        "--no-checks", action="store_true", help="skip the refuters (not the diagnostics)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--org", default="default")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    timeouts.add_timeout(p)
    common(p)
    p.set_defaults(func=run)


def _split(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def to_json(response: dc.EstimateEffectResponse) -> dict[str, Any]:
    e = response.estimate
    assert e is not None
    return {
        "analysis_id": response.analysis_id,
        "method": e.method.name.lower(),
        "estimand": e.estimand.name.lower(),
        "point_estimate": e.point_estimate,
        "std_error": _num(e.std_error),
        "ci_lower": _num(e.ci_lower),
        "ci_upper": _num(e.ci_upper),
        "alpha": e.alpha,
        "p_value": _num(e.p_value),
        "n": e.n,
        "n_treated": e.n_treated,
        "n_control": e.n_control,
        "supported": e.supported,
        "strategy": {
            "method": e.strategy.method.name.lower() if e.strategy else "",
            "reason": e.strategy.reason if e.strategy else "",
            "assumptions": list(e.strategy.assumptions) if e.strategy else [],
            "adjustment_set": list(e.strategy.adjustment_set) if e.strategy else [],
        },
        "checks": [
            {
                "name": c.name,
                "kind": c.kind.name.lower(),
                "outcome": c.outcome.name.lower(),
                "interpretation": c.interpretation,
                "statistic": c.statistic,
                "p_value": c.p_value,
                "new_effect": c.new_effect,
            }
            for c in e.checks
        ],
        "warnings": list(e.warnings),
        "summary": e.summary,
        "recorded_result": recorded_to_json(response.recorded_result),
        "details": {
            **dict(sorted(e.statistics.items())),
            "coefficients": [
                {
                    "name": c.name,
                    "estimate": c.estimate,
                    "std_error": c.std_error,
                    "ci_lower": c.ci_lower,
                    "ci_upper": c.ci_upper,
                    "p_value": c.p_value,
                    "n": c.n,
                }
                for c in e.coefficients
            ],
            "weights": {w.name: dict(w.weights) for w in e.weights},
            "series": {
                s.name: {"index": list(s.index), "values": list(s.values)} for s in e.series
            },
            "balance": [
                {"covariate": b.covariate, "smd_before": b.smd_before, "smd_after": b.smd_after}
                for b in e.balance
            ],
        },
    }


def recorded_to_json(r: dc.ExperimentResult | None) -> dict[str, Any] | None:
    """The registry result the estimate was recorded as (None: nothing recorded)."""
    if r is None:
        return None
    iroas = r.incremental_roas
    return {
        "experiment_id": r.experiment_id,
        "channel": r.channel,
        "lift_absolute": r.lift_absolute,
        "lift_std_error": r.lift_std_error,
        "spend": r.spend.amount if r.spend else 0.0,
        "spend_baseline": r.spend_baseline,
        "spend_delta": r.spend_delta,
        "incremental_roas": None if iroas is None else [iroas.estimate, iroas.lower, iroas.upper],
        "treatment_unit_count": r.treatment_unit_count,
        "control_unit_count": r.control_unit_count,
        "confidence": r.confidence,
    }


def lift_in_words(
    lift: float, se: float, delta: float, *, spend: float, baseline: float, metric: str = ""
) -> str:
    """A recorded lift as what the spend did, with the sign convention the analysis reads it
    by (``causal_svc.convert.attribution.lift_test``; R5-F9: "lift 320,921 … spend change
    -331,694" read as "cutting spend raised revenue"):

    - the treated cell ran at its business as usual while the control went dark (spend as run
      = the baseline): "the treated cell's 331,694 of spend added 320,921";
    - the test cut the treated cell's spend (a negative lift is what the cut cost): "the
      331,694 of spend the test cut from the treated cell was adding 320,921";
    - a heavy-up: "the 50,000 of spend the test added to the treated cell added 12,000".
    """
    ran_as_baseline = spend > 0 and baseline > 0 and abs(spend - baseline) <= 1e-9 * baseline
    gain = -lift if delta < 0 and lift < 0 and not ran_as_baseline else lift
    of = f" {metric}" if metric else ""
    added = f"{gain:,.0f}{of} ± {se:,.0f} s.e."
    if ran_as_baseline:
        return f"the treated cell's {abs(delta):,.0f} of spend added {added}"
    if delta < 0:
        return (
            f"the {abs(delta):,.0f} of spend the test cut from the treated cell was adding {added}"
        )
    return f"the {delta:,.0f} of spend the test added to the treated cell added {added}"


def recorded_line(r: dict[str, Any]) -> str:
    """One line saying what the registry now holds for the experiment."""
    words = lift_in_words(r["lift_absolute"], r["lift_std_error"], r["spend_delta"],
                          spend=r["spend"], baseline=r["spend_baseline"])  # fmt: skip
    line = (f"recorded as experiment {r['experiment_id']}'s result for {r['channel']}: {words} "
            f"over {r['treatment_unit_count']} treated geos")  # fmt: skip
    if r["incremental_roas"]:
        est, lo, hi = r["incremental_roas"]
        line += f", iROAS {est:.2f} [{lo:.2f}, {hi:.2f}]"
    return line


def result_summary(r: dc.ExperimentResult) -> str:
    """An experiment's recorded result in a few words: lift ± SE and iROAS with its interval."""
    text = f"lift {r.lift_absolute:,.0f} ± {r.lift_std_error:,.0f} s.e."
    iroas = r.incremental_roas
    if iroas is not None:
        text += f", iROAS {iroas.estimate:.2f} [{iroas.lower:.2f}, {iroas.upper:.2f}]"
    if r.analysis_id:
        text += f" (analysis {r.analysis_id})"
    return text


def _existing_result(client: LiftOS, experiment_id: str) -> dc.ExperimentResult | None:
    """The result the registry already holds for the experiment; None when it has none (or
    does not know the experiment: the estimate's own refusal then names it)."""
    try:
        return client.get_experiment(experiment_id).result
    except RpcFailure as failure:
        if failure.code == grpc.StatusCode.NOT_FOUND:
            return None
        raise


def _p(p: float) -> str:
    """As the summary line gives it: a tail below 0.001 is not printed as 0."""
    return "p < 0.001" if p < 1e-3 else f"p = {p:.4g}"


def _fmt(x: float | None, unbounded: str) -> str:
    return unbounded if x is None else f"{x:.6g}"


def render_table(out: dict[str, Any], unit: str = "", time: str = "") -> str:
    """The estimate as a table; ``unit`` and ``time`` (the roles) say what one observation is,
    so the estimand reads as the report and the explanation word it ("average treatment
    effect (ATE) per geo-day")."""
    level = round((1 - out["alpha"]) * 100)
    se = out["std_error"]
    words = estimand_words(out["estimand"], unit, time)
    # With the wild cluster bootstrap the interval and p-value are the bootstrap's and the SE
    # the cluster-robust one beside them: say which, or a CI far wider than ±2 SE reads as a
    # mistake (R27-F1).
    bootstrapped = "wild_bootstrap_draws" in out.get("details", {})
    se_label = "SE (CR1; the CI and p are the wild cluster bootstrap's)" if bootstrapped else "SE"
    lines = [
        f"method     {out['method']}   strategy: {out['strategy']['reason']}",
        f"estimand   {words}",
        f"estimate   {out['point_estimate']:.6g}   {se_label} {se:.6g}"
        if se is not None
        else f"estimate   {out['point_estimate']:.6g}",
        f"{level}% CI     [{_fmt(out['ci_lower'], '-inf')}, {_fmt(out['ci_upper'], 'inf')}]   {_p(out['p_value'])}   n = {out['n']}",
        f"supported  {'yes' if out['supported'] else 'NO'}",
        "checks:",
    ]
    for c in out["checks"]:
        lines.append(f"  {c['outcome'].upper():<8} {c['name']:<22} {c['interpretation']}")
    for w in out["warnings"]:
        lines.append(f"warning: {w}")
    lines.append(out["summary"])
    if out.get("recorded_result"):
        lines.append(recorded_line(out["recorded_result"]))
    lines.append(f"analysis id {out['analysis_id']}")
    return "\n".join(lines)


def _parse_dates(frame: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """The ``--time`` column as datetimes when it holds ISO dates (``2024-09-01``).

    A CSV has no types, so ``read_csv`` leaves dates as strings and the service, which takes a
    numeric or datetime time column, refused the README's own ``--time day``. Only a column
    whose every value parses as ISO 8601 is converted; anything else goes as read, and the
    service names the column and the types it takes.
    """
    if column is None or column not in frame.columns:
        return frame
    import pandas as pd

    values = frame[column]
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return frame
    try:
        parsed = pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        return frame
    return frame.assign(**{column: parsed})


def text_in_numbers(frame: pd.DataFrame, args: argparse.Namespace) -> str | None:
    """Why a column the estimate reads as numbers holds text, quoting its first such value
    and line; None when none does. The service would only say "must be numeric, got string".
    Thousands separators are not read: "1,234" is 1234 in one locale and 1.234 in another."""
    import pandas as pd

    for role, column in _number_roles(args):
        if not column or column not in frame.columns:
            continue
        values = frame[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        written = values[bad].astype(str)
        if (
            bad.any()
            and written.str.fullmatch(_COMMA_NUMBER).all()
            and not written.str.fullmatch(_EITHER).all()
        ):
            first = str(values[bad.idxmax()])
            return (
                f"column {column!r} ({role}) holds numbers with a decimal comma ({first!r} on "
                f"line {int(bad.idxmax()) + 2}, {int(bad.sum()):,} such values): pass "
                "--decimal ',' (it reads '.' as a thousands separator), or re-export the column "
                "with '.' decimals"
            )
        if bad.any() and bad.sum() == values.notna().sum():
            # Every value is a word: a categorical column, which no re-export makes a number.
            if role == "covariate" and args.method == "dml":
                continue  # dml one-hot encodes categorical covariates itself
            return categorical_words(column, role, values)
        if bad.any():
            first = bad.idxmax()
            shown = str(values[first])
            shown = shown if len(shown) <= 40 else shown[:40] + "…"
            return (
                f"column {column!r} ({role}) holds {shown!r} on line {int(first) + 2} "
                f"({int(bad.sum()):,} such values): numbers must be plain (digits, an optional "
                "'-' and one '.' decimal point: no thousands separators, currency signs or "
                "units); re-export the column unformatted"
                + (
                    ", or say which mark is the decimal one: --decimal ',' or '.'"
                    if "," in shown
                    else ""
                )
            )
    return None


def read_table(path: Path, delimiter: str, decimal: str | None) -> pd.DataFrame:
    """The CSV file split at ``delimiter``, its numbers read with ``decimal`` as the decimal
    mark and the other of '.' and ',' as the thousands separator; plain numbers only when
    ``decimal`` is None."""
    import pandas as pd

    thousands = {",": ".", ".": ","}.get(decimal or "")
    return pd.read_csv(path, sep=delimiter, decimal=decimal or ".", thousands=thousands)


def _number_roles(args: argparse.Namespace) -> list[tuple[str, str]]:
    roles = [("outcome", args.outcome), ("running variable", args.running_variable),
             ("weights", args.weights), ("pre-outcome", args.pre_outcome)]  # fmt: skip
    return roles + [("covariate", c) for c in _split(args.covariates)]


def dialect_problem(path: Path, frame: pd.DataFrame, args: argparse.Namespace) -> str | None:
    """Why the file was not read as written: split at the wrong separator (one column holding
    ';'), or, without --decimal, a number column whose '.' is proved a thousands separator
    ("1.234.567" beside "2.906": pandas reads "2.906" as 2.906, R34 F1), or a time column of
    dotted dates ("15.09.2024"); None when none. Each names the file."""
    import pandas as pd

    if (split := header_problem(path, frame.columns, args.delimiter)) is not None:
        return split
    if args.time in frame.columns and not pd.api.types.is_numeric_dtype(frame[args.time]):
        values = frame[args.time].dropna().astype(str)
        if len(values) and values.str.fullmatch(_DAY_FIRST).all():
            return (
                f"{path}: time column {args.time!r} holds dates written day first "
                f"({values.iloc[0]!r}): write them ISO (yyyy-mm-dd, e.g. 2024-09-15); which of "
                "day and month comes first is never guessed"
            )
    for column, grouped in _grouped(path, frame, args):
        if grouped.certain and "," not in grouped.example:  # a decimal comma: text_in_numbers
            return f"{path}: {grouped.why(column, 'liftos estimate')}"
    return None


def dialect_doubts(path: Path, frame: pd.DataFrame, args: argparse.Namespace) -> list[str]:
    """Warnings for number columns read as decimals whose every dotted value has three
    places ("5.006"): a US file written to three places as often as German whole thousands,
    so read as written (V1 F4) and said, naming --decimal ','."""
    return [
        f"{path}: {grouped.doubt(column, 'liftos estimate')}"
        for column, grouped in _grouped(path, frame, args)
        if not grouped.certain
    ]


def _grouped(
    path: Path, frame: pd.DataFrame, args: argparse.Namespace
) -> list[tuple[str, Grouped]]:
    """The number columns whose '.' looks or is a thousands separator (none with --decimal)."""
    import pandas as pd

    columns = [c for _, c in _number_roles(args) if c and c in frame.columns]
    if args.decimal is not None or not columns:
        return []
    raw = pd.read_csv(path, sep=args.delimiter, usecols=columns, dtype=str, keep_default_na=False)
    found = [(c, dot_grouped(raw[c].tolist())) for c in columns]
    return [(c, g) for c, g in found if g is not None]


# 15.09.2024 (German, French): the service reads slashed dates where only one order works, and
# turned dotted ones away as "got string", which never said dates were the trouble.
_DAY_FIRST = r"\d{1,2}\.\d{1,2}\.\d{4}"
# Numbers with a decimal comma, as German and French files write them ("100004,91", "1.234,5").
_COMMA_NUMBER = r"-?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+"
# "3,100" is 3100 with a thousands comma or 3.1 with a decimal one: the file must say which.
_EITHER = r"-?\d{1,3},\d{3}"


def categorical_words(column: str, role: str, values: pd.Series) -> str:
    """The refusal for a column of words where numbers are read (R27-F8): it names the levels
    and the fix instead of asking to re-export a number that is not one."""
    levels = sorted(map(str, values.dropna().unique()))
    shown = ", ".join(levels[:5]) + (", …" if len(levels) > 5 else "")
    fix = (
        f"one-hot encode it ({len(levels) - 1} 0/1 columns, one per level but one) or drop it; "
        "dml takes a categorical covariate as it is"
        if role == "covariate"
        else "it must hold numbers"
    )
    return (
        f"column {column!r} ({role}) holds words, not numbers ({len(levels)} levels: {shown}): "
        f"it looks categorical; {fix}"
    )


def run(args: argparse.Namespace, peers: Any) -> int:

    data: pd.DataFrame | Records
    treatment, unit, time = args.treatment, args.unit, args.time
    if args.data is None:
        if not args.experiment:
            print("error: give a CSV file, or --experiment to read its records from memory",
                  file=sys.stderr)  # fmt: skip
            return 2
        data = Records(experiment_id=args.experiment, start=args.start, end=args.end)
        treatment, unit, time = treatment or "treated_post", unit or "geo", time or "day"
    elif not args.data.exists():
        print(f"error: {args.data} does not exist", file=sys.stderr)
        return 2
    else:
        data = _parse_dates(read_table(args.data, args.delimiter, args.decimal), time)
        problem = dialect_problem(args.data, data, args)  # names the file itself
        if problem is None and (words := text_in_numbers(data, args)) is not None:
            problem = f"{args.data}: {words}"
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        for doubt in dialect_doubts(args.data, data, args):
            print(f"warning: {doubt}", file=sys.stderr)
    if args.record and not args.experiment:
        print("error: --record stores the estimate as an experiment's result: name it with "
              "--experiment", file=sys.stderr)  # fmt: skip
        return 2
    with timeouts.client(args, peers) as client:
        # Calibration follows whatever is stored, so a result already recorded is kept unless
        # told to replace it: checked here to skip the record, and by the registry when it
        # writes (keep_recorded_result), since another run may record while this one fits.
        existing = _existing_result(client, args.experiment) if args.record else None
        kept = existing is not None and not args.replace
        response = client.estimate(
            data,
            method=args.method,
            outcome=args.outcome,
            treatment=treatment,
            unit=unit,
            time=time,
            covariates=_split(args.covariates),
            instruments=_split(args.instruments),
            running_variable=args.running_variable,
            cutoff=args.cutoff,
            cluster=args.cluster,
            weights=args.weights,
            effect_modifiers=_split(args.effect_modifiers),
            pre_outcome=args.pre_outcome,
            estimand=args.estimand or "",
            alpha=args.alpha,
            randomized=args.randomized,
            refutation_simulations=args.simulations,
            skip_refutation=args.no_checks,
            seed=args.seed,
            rdd_fuzzy=args.fuzzy,
            cluster_inference="" if args.cluster_inference == "auto" else args.cluster_inference,
            control_group=args.control_group or "",
            record_experiment_result=args.record and not kept,
            keep_recorded_result=args.record and not args.replace,
        )
    out = to_json(response)
    # json_out: a non-finite statistic or check figure as null (json.dumps wrote a bare NaN)
    print(dumps(out) if args.json else render_table(out, unit or "", time or ""))
    warnings = response.estimate.warnings if response.estimate else []
    raced = [w for w in warnings if "already has a recorded result" in w]
    if args.record and not kept and response.recorded_result is None and raced:
        # another run recorded a result while this estimate was fitting: the registry kept it
        print(f"error: {raced[0]}", file=sys.stderr)
        return 1
    if existing is None:
        return 0
    if kept:
        summary = _estimate_summary(out, unit or "", time or "")
        print(f"error: experiment {args.experiment} already has a recorded result "
              f"({result_summary(existing)}); this estimate ({summary}) was not "
              "recorded: rerun with --replace to replace it (attribution is calibrated by the "
              "recorded result)", file=sys.stderr)  # fmt: skip
        return 1
    if response.recorded_result is not None:
        print(f"replaced the earlier result: {result_summary(existing)}", file=sys.stderr)
    return 0


def _estimate_summary(out: dict[str, Any], unit: str = "", time: str = "") -> str:
    """The new estimate as the refusal quotes it (its lift and iROAS are computed only when
    it is recorded), its estimand in the words every surface uses."""
    level = round((1 - out["alpha"]) * 100)
    words = estimand_words(out["estimand"], unit, time)
    return (f"{out['method']}: {out['point_estimate']:.6g}, the {words}, {level}% CI "
            f"[{_fmt(out['ci_lower'], '-inf')}, {_fmt(out['ci_upper'], 'inf')}]")  # fmt: skip
