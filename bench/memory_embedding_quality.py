"""Search quality of the default (hashing) embedder against its dimension.

    python bench/memory_embedding_quality.py [--records 40000]

The text part hashes word uni/bigrams and character 3–4-grams into ``text_dim`` signed
buckets; fewer buckets mean more unrelated n-grams share one. Measured here on synthetic
causal records (50 campaigns = 10 base names × 5 numbered variants, 8 geos, by day), with
exact inner-product search so only the embedding is judged, for each total dimension:

* hashed-feature collisions: the share of the records' distinct n-grams that share a bucket;
* text queries (phrases from names, objectives, channels, calendar): precision@10 and @100,
  a record being relevant when its causal text holds every query word;
* campaign queries ("campaign <name> <id>" of one numbered variant): the share of the top
  50 that are that exact campaign (the variants differ by one number and id);
* record neighbours: the share of a record's 10 nearest others from the same campaign.

The reference in the same run is the 256-d default shipped before (208 text + 48 numeric).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.utils import murmurhash3_32

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench._figures import figure  # noqa: E402
from memory_svc.embedding import NUMERIC_DIM, CausalEmbedder, HashingTextEncoder  # noqa: E402
from memory_svc.features import causal_profile  # noqa: E402
from mesh.runtime.frames import records_to_frame  # noqa: E402
from mesh.runtime.synthetic_records import synthetic_records  # noqa: E402

TEXT_QUERIES = (
    "retargeting",
    "black friday",
    "prospecting lookalike",
    "brand search",
    "performance max catalog",
    "youtube awareness",
    "email winback",
    "sms cyber monday",
    "tiktok spark ads",
    "lead gen webinar",
    "app install",
    "objective awareness",
    "objective leads",
    "channel klaviyo sms",
    "channel google video",
    "source tiktok",
    "treatment group",
    "control group",
    "holiday christmas day",
    "before black friday",
    "winter saturday",
    "autumn weekday",
    "confounders black friday proximity",
)


# Partial, misspelt or run-together queries and the campaign (base name) each one means: only
# the character n-grams can find these, and that is where bucket collisions bite.
FUZZY_QUERIES = {
    "retarget": "black friday retargeting",
    "retargetting blackfriday": "black friday retargeting",
    "lookalikes prospect": "prospecting broad lookalike",
    "brandsearch": "brand search exact",
    "pmax catalogue": "performance max catalog",
    "youtub awarenes": "youtube awareness q4",
    "win-back emails": "email winback flow",
    "cybermonday text blast": "sms cyber monday blast",
    "tik tok creator sparks": "tiktok spark ads creators",
    "webinars leadgen": "lead gen webinar",
    "app installs springtime": "app install spring",
}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


def _collisions(texts: list[str], text_dim: int) -> tuple[float, int]:
    """Share of the distinct hashed n-grams that share their bucket with another."""
    enc = HashingTextEncoder(text_dim)
    features: set[str] = set()
    for analyse in (enc._words.build_analyzer(), enc._chars.build_analyzer()):
        for t in dict.fromkeys(texts):
            features.update(analyse(t))
    # HashingVectorizer's bucket: |murmurhash3_32(feature, seed 0)| mod n_features
    buckets = np.array([abs(murmurhash3_32(f, seed=0)) % text_dim for f in features])
    _, counts = np.unique(buckets, return_counts=True)
    return float(counts[counts > 1].sum() / len(features)), len(features)


def evaluate(records: list, text_dim: int) -> dict[str, float]:  # type: ignore[type-arg]
    profile = causal_profile(records_to_frame(records, groups=("core", "calendar", "confounders")))
    embedder = CausalEmbedder(HashingTextEncoder(text_dim))
    t = time.perf_counter()
    vectors = embedder.embed(profile)
    embed_s = time.perf_counter() - t
    words = [_words(x) for x in profile.text]
    campaigns = np.array([r.campaign_id for r in records])
    out: dict[str, float] = {
        "dim": float(vectors.shape[1]),
        "collisions": _collisions(profile.text, text_dim)[0],
        "features": _collisions(profile.text, text_dim)[1],
        "embed_per_s": len(records) / embed_s,
    }
    p10, p100 = [], []
    for q in TEXT_QUERIES:
        relevant = np.array([_words(q) <= w for w in words])
        assert relevant.any(), f"no record matches {q!r}"
        scores = vectors @ embedder.embed_query(q)
        order = np.argsort(-scores, kind="stable")
        p10.append(relevant[order[:10]].mean() / min(1.0, relevant.sum() / 10))
        p100.append(relevant[order[:100]].mean() / min(1.0, relevant.sum() / 100))
    out["text_p@10"] = float(np.mean(p10))
    out["text_p@100"] = float(np.mean(p100))
    names = np.array([r.campaign_name.lower() for r in records])
    fuzzy = []
    for q, meant in FUZZY_QUERIES.items():
        relevant = np.char.startswith(names.astype(str), meant)
        top = np.argsort(-(vectors @ embedder.embed_query(q)), kind="stable")[:100]
        fuzzy.append(relevant[top].mean())
    out["fuzzy_p@100"] = float(np.mean(fuzzy))
    exact = []
    for c in sorted(set(campaigns.tolist())):
        name = records[int(np.flatnonzero(campaigns == c)[0])].campaign_name
        scores = vectors @ embedder.embed_query(f"campaign {name} {c}")
        exact.append((campaigns[np.argsort(-scores, kind="stable")[:50]] == c).mean())
    out["campaign_p@50"] = float(np.mean(exact))
    rng = np.random.default_rng(0)
    same = []
    for i in rng.choice(len(records), 300, replace=False):
        order = np.argsort(-(vectors @ vectors[i]), kind="stable")
        others = [j for j in order[:11] if j != i][:10]
        same.append((campaigns[others] == campaigns[i]).mean())
    out["neighbours_same_campaign"] = float(np.mean(same))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=40_000)
    args = ap.parse_args()
    # from October: the Black Friday build-up, the geo experiment and Christmas are in range
    records = synthetic_records("q", args.records, campaigns=50, geos=8, start=dt.date(2024, 10, 1))
    print(f"{args.records:,} synthetic records, 50 campaigns × 8 geos by day; exact search")
    header = (
        "total dim  text dim  collisions  text p@10  text p@100  fuzzy p@100  campaign p@50  "
        "same-campaign nbrs  embed rows/s"
    )
    print(header)
    base = None
    for total in (256, 384, 432, 512):
        r = evaluate(records, total - NUMERIC_DIM)
        base = base or r
        print(
            f"{total:9d}  {total - NUMERIC_DIM:8d}  {r['collisions']:10.1%}  {r['text_p@10']:9.3f}  "
            f"{r['text_p@100']:10.3f}  {r['fuzzy_p@100']:11.3f}  {r['campaign_p@50']:13.3f}  "
            f"{r['neighbours_same_campaign']:18.3f}  {r['embed_per_s']:12,.0f}"
        )
        for key in ("text_p@10", "campaign_p@50") if total != 256 else ():
            figure(f"hashing embedder {key}, {total}-d, {args.records:,} records", r[key], "",
                   reference="256-d default", reference_value=base[key])  # fmt: skip
    print(f"distinct hashed n-grams in these texts: {int(base['features']):,}")  # type: ignore[index]
    print("reference row: 256 (the default before this change)")


if __name__ == "__main__":
    main()
