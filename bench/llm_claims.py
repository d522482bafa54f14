"""CheckClaims accuracy on the labelled claims (issue 16): confusion matrices for the
development set (templates, used for tuning) and the hand-written held-out set (not used for
tuning), reported separately and together, with the accuracy of each category.

Each claim is one sentence; the prediction is NOT_A_CLAIM when the checker finds no causal
claim in it, else the verdict of the first claim found. A reference classifier measured in the
same run shows what the checker adds: it calls every sentence with a causal verb SUPPORTED
(what a report that trusts its own wording does).

Run: PYTHONPATH=.:gen python bench/llm_claims.py
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench._figures import figure  # noqa: E402
from llm_svc.claims import check_claims  # noqa: E402
from llm_svc.evidence import Analysis, Effect, Identification, Metric  # noqa: E402

DATA = ROOT / "bench" / "data"
LABELS = ("SUPPORTED", "CONTRADICTED", "UNSUPPORTED", "NOT_A_CLAIM")


def evidence() -> list[Analysis]:
    """The analyses every claim is judged against (bench/data/claims_evidence.json)."""
    spec = json.loads((DATA / "claims_evidence.json").read_text())
    out = []
    for a in spec["analyses"]:
        failed = tuple(f.replace("_", "-") + " test" for f in a.get("failed", ()))
        ident = Identification(a["identification"])
        effect = Effect(
            a["analysis_id"], a["treatment"], a["outcome"], a["point"], a["lower"], a["upper"],
            supported=a["supported"], causal=ident is not Identification.NONE,
            baseline=a["baseline"], baseline_fact="statistics.mean_control" if a["baseline"] else "",
            metric=Metric(a.get("metric", "outcome")), failed_checks=failed,
        )  # fmt: skip
        out.append(
            Analysis(
                a["analysis_id"],
                "effect_estimate",
                a["method"],
                identification=ident,
                effects=(effect,),
            )
        )
    return out


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def checker(analyses: list[Analysis]) -> Callable[[str], str]:
    def predict(text: str) -> str:
        found = check_claims(text, analyses)
        return found[0].verdict.value.upper() if found else "NOT_A_CLAIM"

    return predict


_CAUSAL_VERB = re.compile(
    r"\b(drove|driv\w+|caus\w+|increas\w+|rais\w+|boost\w+|lift\w*|generat\w+|deliver\w+|"
    r"reduc\w+|cut|hurt|led to|added|grew|cannibali\w+|lower\w*|impact|effect)\b",
    re.IGNORECASE,
)


def trusting(text: str) -> str:
    """Reference: every sentence with a causal verb is taken at its word."""
    return "SUPPORTED" if _CAUSAL_VERB.search(text) else "NOT_A_CLAIM"


def report(title: str, rows: list[dict], predict: Callable[[str], str], *, detail: bool) -> float:
    matrix: Counter[tuple[str, str]] = Counter()
    by_category: dict[str, list[bool]] = {}
    misses = []
    for r in rows:
        got = predict(r["text"])
        matrix[(r["label"], got)] += 1
        by_category.setdefault(r["category"], []).append(got == r["label"])
        if got != r["label"]:
            misses.append((r["id"], r["label"], got, r["text"]))
    correct = sum(n for (truth, got), n in matrix.items() if truth == got)
    accuracy = correct / len(rows)
    print(f"\n{title}: {correct}/{len(rows)} = {accuracy:.1%}")
    if detail:
        print(f"{'label → predicted':<14}" + "".join(f"{p[:12]:>14}" for p in LABELS))
        for truth in LABELS:
            print(f"{truth[:12]:<14}" + "".join(f"{matrix[(truth, p)]:>14}" for p in LABELS))
        cats = sorted(by_category.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
        print("per category: " + ", ".join(f"{c} {sum(v)}/{len(v)}" for c, v in cats))
        for m in misses:
            print(f"  miss {m[0]}: {m[1]} predicted {m[2]}: {m[3]}")
    return accuracy


def main() -> None:
    tuning = "--tuning" in sys.argv  # development set only: the held-out set stays unseen
    analyses = evidence()
    dev, held = load("claims_dev.jsonl"), load("claims_heldout.jsonl")
    ours = checker(analyses)
    start = time.perf_counter()
    for r in dev + held:
        ours(r["text"])
    per_claim_ms = 1e3 * (time.perf_counter() - start) / len(dev + held)
    print(
        f"labelled claims: {len(dev)} development + {len(held)} held out = {len(dev) + len(held)}"
    )
    a_dev = report("CheckClaims, development set (used for tuning)", dev, ours, detail=True)
    if tuning:
        return
    a_held = report("CheckClaims, held-out set (not used for tuning)", held, ours, detail=True)
    a_all = report("CheckClaims, all", dev + held, ours, detail=True)
    r_all = report("reference (trusts causal wording), all", dev + held, trusting, detail=False)
    print(
        f"\naccuracy: development {a_dev:.1%}, held out {a_held:.1%}, all {a_all:.1%} "
        f"(target ≥ 95%); reference {r_all:.1%}; {per_claim_ms:.2f} ms per sentence"
    )
    figure(f"CheckClaims accuracy, all {len(dev) + len(held)} labelled claims", 100 * a_all, "%",
           reference="trusts causal wording", reference_value=100 * r_all, target="≥ 95%",
           met=a_all >= 0.95, note=f"{per_claim_ms:.2f} ms per sentence")  # fmt: skip
    figure(f"CheckClaims accuracy, {len(held)} held-out claims (not used for tuning)",
           100 * a_held, "%", target="≥ 95%", met=a_held >= 0.95)  # fmt: skip


if __name__ == "__main__":
    main()
