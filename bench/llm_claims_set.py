"""Builds CheckClaims' development set (bench/data/claims_dev.jsonl) from templates whose
label is fixed by construction: the template's category and the figure put into it decide the
label, never the checker. The evidence is bench/data/claims_evidence.json; the hand-written
held-out set (claims_heldout.jsonl) is not produced here and is not used for tuning.

Run: python bench/llm_claims_set.py (deterministic; rewrites the file)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "claims_dev.jsonl"

RT = [
    "Meta retargeting",
    "Facebook retargeting",
    "our Meta retargeting campaign",
    "Instagram retargeting",
]
SEARCH = ["Google Search", "paid search on Google", "Google search ads"]
EMAIL = ["Klaviyo email", "email", "our email campaigns", "the Klaviyo newsletter"]
TIKTOK = ["TikTok", "the TikTok rollout", "TikTok ads"]
PROSP = ["Meta prospecting", "Facebook prospecting"]
DISPLAY = ["display", "display ads", "programmatic display"]
PMAX = ["PMax", "Google PMax"]
UNKNOWN = ["Snapchat", "Pinterest", "LinkedIn", "Reddit ads", "podcast ads", "TV", "affiliates"]

UP_PCT = [
    "{s} drove a {p} lift in revenue.", "{s} increased revenue by {p}.",
    "{s} boosted revenue by {p}.", "{s} raised revenue {p}.", "{s} lifted sales by {p}.",
    "{s} generated {p} more revenue.", "{s} was responsible for a {p} increase in revenue.",
    "{s} caused revenue to rise by {p}.", "{s} led to a {p} uplift in sales.",
    "Revenue grew {p} because of {s}.",
]  # fmt: skip
UP_ABS = [
    "{s} added {a} in revenue per region.", "{s} increased revenue by {a} per region.",
    "{s} generated an extra {a} of revenue per region.", "{s} drove revenue up by {a}.",
]  # fmt: skip
DOWN_PCT_ORDERS = [
    "{s} reduced orders by {p}.", "{s} cut orders by {p}.", "{s} cannibalised {p} of orders.",
    "{s} caused a {p} drop in orders.", "{s} lowered purchases by {p}.",
]  # fmt: skip
UP_PCT_ORDERS = [
    "{s} increased orders by {p}.", "{s} drove a {p} lift in orders.", "{s} boosted orders by {p}.",
]  # fmt: skip
NO_EFFECT = [
    "{s} had no effect on revenue.", "{s} did not move revenue.", "{s} made no difference to sales.",
    "{s} had zero impact on revenue.",
]  # fmt: skip
ASSOC = [
    "{s} spend is correlated with revenue.", "Revenue was associated with {s} spend.",
    "{s} and revenue moved together this quarter.", "{s} is linked to higher revenue.",
    "Regions with more {s} show a correlation with higher sales.",
    "{s} reported 1,450 conversions last month.",
    "According to the platform, {s} drove a 5x ROAS.",
    "Revenue coincided with the {s} flights.",
]  # fmt: skip
HEDGED = [
    "{s} may have lifted revenue by {p}.", "{s} might increase revenue.",
    "It is unclear whether {s} drove revenue.", "{s} appears to have raised revenue by {p}.",
    "We could not detect an effect of {s} on revenue.",
    "There is no evidence that {s} increased revenue.", "{s} possibly boosted revenue.",
    "The results suggest {s} could raise sales.", "{s} likely drove some revenue.",
    "{s} seems to increase revenue.", "A holdout test would show whether {s} adds revenue.",
]  # fmt: skip
DESCRIPTIVE = [
    "{s} ran in 25 regions in October.", "{s} spend was $40,000 last month.",
    "{s} spend rose 20% in November.", "Revenue totalled $1.2M in the quarter.",
]  # fmt: skip


def pct(n: float, rng: random.Random) -> str:
    words = {5: "five", 6: "six", 8: "eight", 10: "ten", 12: "twelve", 15: "fifteen", 20: "twenty"}
    forms = [f"{n:g}%", f"{n:g} percent", f"{n:g} per cent", f"{n:g}.0%"]
    if n in words:
        forms.append(f"{words[int(n)]} percent")
    return rng.choice(forms)


def money(n: float, rng: random.Random) -> str:
    if n >= 1000:
        return rng.choice([f"${n:,.0f}", f"${n / 1000:g}k", f"{n:,.0f} dollars"])
    return rng.choice([f"${n:g}", f"{n:g}", f"${n:.2f}"])


def cap(text: str) -> str:
    return text[0].upper() + text[1:]


def build() -> list[dict]:
    rng = random.Random(16)
    items: list[tuple[str, str, str]] = []

    def add(template: str, label: str, category: str, **kw: str) -> None:
        items.append((cap(template.format(**kw)), label, category))

    for _ in range(3):
        for p in (6, 8, 10, 12, 15, 18):  # inside 4%-20%
            add(rng.choice(UP_PCT), "SUPPORTED", "true", s=rng.choice(RT), p=pct(p, rng))
        for p in (1, 2, 25, 30, 45):  # outside
            add(rng.choice(UP_PCT), "CONTRADICTED", "magnitude", s=rng.choice(RT), p=pct(p, rng))
    for a in (5, 9, 12, 16):
        add(rng.choice(UP_ABS), "SUPPORTED", "true", s=rng.choice(RT), a=money(a, rng))
    for a in (1, 30, 50, 1500):
        add(rng.choice(UP_ABS), "CONTRADICTED", "magnitude", s=rng.choice(RT), a=money(a, rng))
    for t in ("{s} reduced revenue by {p}.", "{s} hurt revenue.", "{s} cut sales by {p}.",
              "{s} caused revenue to drop.", "{s} lowered revenue by {p}."):  # fmt: skip
        add(t, "CONTRADICTED", "false sign", s=rng.choice(RT), p=pct(rng.choice([5, 10, 12]), rng))
    for p in (3, 5, 6, 8):  # google search: -10% .. -2% of orders
        add(rng.choice(DOWN_PCT_ORDERS), "SUPPORTED", "true", s=rng.choice(SEARCH), p=pct(p, rng))
    for a in (2, 3, 4):
        add("{s} cut orders by {a}.", "SUPPORTED", "true", s=rng.choice(SEARCH), a=str(a))
    add("{s} caused orders to fall.", "SUPPORTED", "true", s=rng.choice(SEARCH))
    for p in (4, 6, 10):
        add(
            rng.choice(UP_PCT_ORDERS),
            "CONTRADICTED",
            "false sign",
            s=rng.choice(SEARCH),
            p=pct(p, rng),
        )
    for p in (15, 20, 30):
        add(
            rng.choice(DOWN_PCT_ORDERS),
            "CONTRADICTED",
            "magnitude",
            s=rng.choice(SEARCH),
            p=pct(p, rng),
        )
    for a in (8, 12):
        add(
            "{s} reduced orders by {a}.",
            "CONTRADICTED",
            "magnitude",
            s=rng.choice(SEARCH),
            a=str(a),
        )
    for t in ("{s} reduced revenue by 6%.", "{s} hurt sales.", "{s} drove down revenue."):
        add(t, "UNSUPPORTED", "other outcome", s=rng.choice(SEARCH))
    for t in NO_EFFECT:
        add(
            t.replace("revenue", "orders").replace("sales", "orders"),
            "CONTRADICTED",
            "no effect",
            s=rng.choice(SEARCH),
        )
    # Email's interval spans zero (-2 to 5 on a baseline of 80): neither an effect nor its
    # absence is established, so a claim of either is not settled unless its size lies outside
    # the interval (8% = 6.4: contradicted).
    for s in EMAIL:
        t, n = rng.choice(UP_PCT), rng.choice([3, 5, 8])
        inside = n * 0.8 <= 5.0
        label, category = (
            ("UNSUPPORTED", "not established") if inside else ("CONTRADICTED", "magnitude")
        )
        add(t, label, category, s=s, p=pct(n, rng))
        add(rng.choice(NO_EFFECT), "UNSUPPORTED", "not established", s=s)
    add("{s} boosted sales by {a}.", "UNSUPPORTED", "not established", s="email", a=money(2, rng))
    for s in TIKTOK:  # failed its checks
        add(
            rng.choice(UP_PCT),
            "CONTRADICTED",
            "failed checks",
            s=s,
            p=pct(rng.choice([8, 10, 13]), rng),
        )
        add(rng.choice(UP_ABS), "CONTRADICTED", "failed checks", s=s, a=money(8, rng))
        add(rng.choice(NO_EFFECT), "CONTRADICTED", "failed checks", s=s)
    for a in ("0.2", "0.4", "0.6"):  # meta prospecting: 0.1 .. 0.7, no baseline
        add("{s} increased revenue by {a} per user.", "SUPPORTED", "true", s=rng.choice(PROSP), a=a)
    for a in ("1.5", "3"):
        add(
            "{s} increased revenue by {a} per user.",
            "CONTRADICTED",
            "magnitude",
            s=rng.choice(PROSP),
            a=a,
        )
    add("{s} reduced revenue.", "CONTRADICTED", "false sign", s=rng.choice(PROSP))
    for p in (5, 10):
        add(rng.choice(UP_PCT), "UNSUPPORTED", "no baseline", s=rng.choice(PROSP), p=pct(p, rng))
    for s in DISPLAY:  # correlation only
        add(rng.choice(UP_PCT), "UNSUPPORTED", "correlation only", s=s, p=pct(5, rng))
        add(rng.choice(ASSOC), "NOT_A_CLAIM", "associational", s=s)
    for r in ("2", "2.5", "3"):  # pmax roas 1.8 .. 3.2
        add("{s} delivered a {r}x ROAS.", "SUPPORTED", "roas", s=rng.choice(PMAX), r=r)
        add(
            "{s} returned ${r} for every dollar spent.",
            "SUPPORTED",
            "roas",
            s=rng.choice(PMAX),
            r=r,
        )
    for r in ("1", "4", "6"):
        add("{s} delivered a {r}x ROAS.", "CONTRADICTED", "roas", s=rng.choice(PMAX), r=r)
    add(
        "{s} delivered a 3x return on ad spend.",
        "UNSUPPORTED",
        "roas without spend",
        s=rng.choice(RT),
    )
    for s in UNKNOWN:
        add(
            rng.choice(UP_PCT),
            "UNSUPPORTED",
            "no analysis",
            s=s,
            p=pct(rng.choice([5, 12, 20]), rng),
        )
        add(rng.choice(NO_EFFECT), "UNSUPPORTED", "no analysis", s=s)
    add("{s} drove 12% more orders.", "UNSUPPORTED", "other outcome", s=rng.choice(RT))
    for group in (RT, SEARCH, EMAIL, TIKTOK, DISPLAY, PMAX, UNKNOWN):
        for t in rng.sample(ASSOC, 3):
            add(t, "NOT_A_CLAIM", "associational", s=rng.choice(group))
        for t in rng.sample(HEDGED, 3):
            add(
                t, "NOT_A_CLAIM", "hedged", s=rng.choice(group), p=pct(rng.choice([5, 10, 12]), rng)
            )
        add(rng.choice(DESCRIPTIVE), "NOT_A_CLAIM", "descriptive", s=rng.choice(group))
    for p, label in ((2, "SUPPORTED"), (3, "SUPPORTED"), (25, "CONTRADICTED"), (30, "CONTRADICTED"),
                     (8, "UNSUPPORTED"), (10, "UNSUPPORTED"), (15, "UNSUPPORTED")):  # fmt: skip
        add("{s} lifted revenue by more than {p}.", label, "bound", s=rng.choice(RT), p=pct(p, rng))
    for p, label in ((20, "SUPPORTED"), (25, "SUPPORTED"), (2, "CONTRADICTED"), (3, "CONTRADICTED"),
                     (10, "UNSUPPORTED"), (12, "UNSUPPORTED")):  # fmt: skip
        add("{s} increased revenue by up to {p}.", label, "bound", s=rng.choice(RT), p=pct(p, rng))
    for p, label in ((10, "SUPPORTED"), (30, "CONTRADICTED")):
        add(
            "Increasing {s} spend will raise revenue by {p}.",
            label,
            "prediction",
            s=rng.choice(RT),
            p=pct(p, rng),
        )
        add(
            "Cutting the budget of {s} would lower revenue by {p}.",
            label,
            "prediction",
            s=rng.choice(RT),
            p=pct(p, rng),
        )
    add(
        "Pausing {s} will increase orders by {p}.",
        "SUPPORTED",
        "prediction",
        s="Google Search",
        p=pct(5, rng),
    )
    add("Increasing {s} spend will lift orders.", "CONTRADICTED", "prediction", s="Google Search")
    add(
        "More {s} will raise revenue by {p}.",
        "CONTRADICTED",
        "prediction",
        s="email",
        p=pct(10, rng),
    )
    add(
        "{s} increased revenue by 12% (95% CI 4% to 20%).",
        "SUPPORTED",
        "quoted interval",
        s=rng.choice(RT),
    )
    add(
        "{s} increased revenue by 12 (95% CI 4 to 20).",
        "SUPPORTED",
        "quoted interval",
        s=rng.choice(RT),
    )
    add(
        "{s} increased revenue by 12% (95% CI 8% to 16%).",
        "CONTRADICTED",
        "quoted interval",
        s=rng.choice(RT),
    )
    add(
        "{s} raised revenue by 0.4 (95% CI 0.1 to 0.7).",
        "SUPPORTED",
        "quoted interval",
        s=rng.choice(PROSP),
    )
    add(
        "{s} raised revenue by 0.4 (95% CI 0.2 to 1.1).",
        "CONTRADICTED",
        "quoted interval",
        s=rng.choice(PROSP),
    )
    add(
        "{s} lifted revenue by between {a} and {b}.",
        "SUPPORTED",
        "range",
        s=rng.choice(RT),
        a="6%",
        b="14%",
    )
    add("{s} lifted revenue by {a}-{b}.", "SUPPORTED", "range", s=rng.choice(RT), a="8", b="16%")
    add(
        "{s} lifted revenue by between {a} and {b}.",
        "CONTRADICTED",
        "range",
        s=rng.choice(RT),
        a="25%",
        b="40%",
    )
    add("{s} had no effect on revenue.", "CONTRADICTED", "no effect", s=rng.choice(RT))
    add(
        "The incremental revenue from {s} was {a} per region.",
        "SUPPORTED",
        "paraphrase",
        s=rng.choice(RT),
        a="11",
    )
    add(
        "{s}'s incremental effect on revenue was {a}.",
        "CONTRADICTED",
        "magnitude",
        s=rng.choice(RT),
        a="35",
    )
    return [
        {"id": f"d{i:03d}", "text": text, "label": label, "category": category}
        for i, (text, label, category) in enumerate(items, 1)
    ]


def main() -> None:
    rows = build()
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} claims to {OUT}")


if __name__ == "__main__":
    main()
