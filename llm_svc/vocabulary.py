"""How methods, strategies, estimands and names read in prose (one place for the wording)."""

from __future__ import annotations

import re

from llm_svc.evidence import Identification

METHOD_LABELS = {
    "difference_in_means": "a difference in means between the randomised arms",
    "did": "difference-in-differences",
    "event_study": "an event study",
    "staggered_did": "staggered difference-in-differences (Callaway–Sant'Anna)",
    "iv": "instrumental variables (two-stage least squares)",
    "rdd": "a regression discontinuity",
    "matching": "propensity-score matching",
    "ipw": "inverse probability weighting",
    "aipw": "doubly robust weighting (AIPW)",
    "synthetic_control": "a synthetic control",
    "dml": "double machine learning",
    "bsts": "a Bayesian structural time-series model",
    "naive_regression": "a naive regression",
    "causal_mmm": "a causal marketing-mix model",
}

IDENTIFICATION_LABELS = {
    Identification.RANDOMIZED: "randomised assignment",
    Identification.PARALLEL_TRENDS: "parallel trends between treated and comparison units",
    Identification.INSTRUMENT: "an instrument that moves the treatment and reaches the outcome only through it",
    Identification.DISCONTINUITY: "the jump at a threshold of the running variable",
    Identification.BACKDOOR: "adjustment for the observed confounders",
    Identification.SYNTHETIC_COUNTERFACTUAL: "a counterfactual built from untreated units",
    Identification.NONE: "no identification strategy (a correlation)",
    Identification.UNKNOWN: "an identification strategy the analysis does not name",
}

# Who an estimand speaks for: the population a reader must not generalise beyond.
# What a failed model-health check means, for an executive (by check kind; a lift test's
# check is "calibration:<test>").
PLAIN_CHECKS = {
    "holdout": "it could not predict the days held back to test it",
    "convergence": "the fit did not settle on an answer",
    "baseline": "it credits the channels with sales that would have happened anyway",
    "residual_autocorrelation": "a slow-moving driver of the outcome is missing from the data",
    "spend_variation": "spend varied too little to tell what each channel did",
    "collinearity": "channels' spend moved together, so their effects cannot be told apart",
    "calibration": "it disagrees with a lift test",
    # the data checks of causal_svc/attribution/health_national.py and health_outcome.py
    # (review V1 F8: "the model failed its national outliers" said neither what nor what next)
    "national_outliers": "a day of the sales data is far off in every region at once, the "
    "shape of an import error; correct that day at the source and analyse again",
    "outcome_outliers": "days of the sales data are far off in some regions, the shape of an "
    "import error; correct those days at the source and analyse again",
}


def plain_check(kind: str) -> str:
    return PLAIN_CHECKS.get(kind.split(":", 1)[0], "")


# A REVIEW check in plain words, for an executive: what it means for the figures (by check
# kind; the others have none, PLAIN_CHECKS are worded for a failure).
PLAIN_REVIEWS = {
    "budget_response": "budgets followed demand, so part of what the paid channels seem to have "
    "caused may be demand they chased",
    "omitted_channels": "a channel the model leaves out may be behind part of what it credits "
    "to the others",
    "national_outliers": "sales on a day moved in every region at once beyond what the "
    "calendar and media explain, a data glitch or a sale not registered, and the figures "
    "carry that day",
    "spend_spikes": "a day of a channel's spend is far above its usual day, perhaps "
    "mis-keyed, and that channel's figures rest on it",
}


def plain_review(kind: str) -> str:
    return PLAIN_REVIEWS.get(kind, "")


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method.replace("_", " "))


# A name that could continue the sentence it stands in: one holding a clause break (". ",
# "; ", ": ", ", but") or one too long to be a plain label. Set off in quotes, it reads as the
# name it is, not as LiftOS's own words ("tiktok on revenue, but LiftOS established that …").
_PROSE = re.compile(r"[.;:!?]\s+\S|,\s+(?:but|and|so|while|which|however)\b", re.IGNORECASE)
_PLAIN_MAX = 60


def plain_label(name: str) -> str:
    """``label`` never quoted: for text that sets names off its own way (the prompt's JSON)."""
    text = re.sub(r"[_]+", " ", name).strip()
    return "the treatment" if text.lower() in ("treatment", "treated", "t") else text


def label(name: str) -> str:
    """A column or channel name as prose: ``meta_prospecting`` → ``meta prospecting``; a
    name that reads as prose is quoted: “…” (R23-F5)."""
    text = plain_label(name)
    if text == "the treatment":
        return text
    if _PROSE.search(text) or len(text) > _PLAIN_MAX:
        return f"“{text}”"
    return text


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def listing(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def whole_name(name: str) -> str:
    """A regex that finds ``name`` as a whole name in text. Lookarounds, not ``\\b``: a name
    that starts or ends with a non-word character ("Email (Mailchimp)", "TV (national)") has
    no word boundary at its edge, so ``\\b…\\b`` never finds it whole."""
    return rf"(?<!\w){re.escape(name)}(?!\w)"
