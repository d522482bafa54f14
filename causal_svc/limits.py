"""How much one causal request may ask for, with the reason for each bound.

The bounds sit well above what a demanding analyst sends, and well below what would pin a worker
for hours or exhaust memory; ``convert`` applies them to every request before any work starts,
and the compute budget (:mod:`causal_svc.compute`) ends whatever still runs too long.
"""

from __future__ import annotations

# Refuter re-estimates per check. DoWhy's default is 100; 1,000 placebo draws give a permutation
# p-value resolution of 0.001, the finest anyone reads. Each draw re-runs the estimator (up to
# three checks), and the placebo frames are built one at a time, so memory does not grow with it.
MAX_REFUTATION_SIMULATIONS = 1000
# Event-study window, in periods either side of adoption: a year of daily periods. The estimator
# cuts the window to what the data reach; the bound only keeps the design matrix sane.
MAX_EVENT_STUDY_WINDOW = 366
# Seeds reach scikit-learn's and NumPy's legacy generators, which accept 0 to 2**32 - 1 only.
MAX_SEED = 2**32 - 1
# Matching caliper in SDs of the logit propensity: Austin (2011) recommends 0.2; beyond a few
# SDs a caliper excludes nothing, so 10 is "no caliper" for every practical purpose.
MAX_CALIPER = 10.0

# Names: a column, node or id longer than this is a mistake, not a name.
MAX_NAME_CHARS = 256
# Free text carried along (node labels).
MAX_LABEL_CHARS = 1000
# Ids the registry and analysis store mint are far shorter (``an-`` + 20 hex).
MAX_ID_CHARS = 128

# Controls: DML with a few hundred pre-treatment controls is plausible; more is a data dump,
# not an adjustment set.
MAX_COVARIATES = 500
# Instruments and effect modifiers: a handful each in any real design.
MAX_INSTRUMENTS = 50
MAX_EFFECT_MODIFIERS = 50

# Records query filters: an ad account can run thousands of campaigns; channels are a short list.
MAX_CAMPAIGN_IDS = 10_000
MAX_CHANNELS = 100

# Inline tables. The 64 MiB message limit already caps the bytes (8M doubles); these cap the
# shapes that cost more than their bytes: a declared row count with no columns, and very wide
# tables whose per-column work dominates.
MAX_TABLE_ROWS = 10_000_000
MAX_TABLE_COLUMNS = 2000

# Causal graphs. The default marketing DAG has 13 nodes and 27 edges; a detailed one per channel
# and market a few dozen. Identification work grows fast with size (docs/performance.md), so
# 200 nodes and 1,000 edges is the ceiling.
MAX_GRAPH_NODES = 200
MAX_GRAPH_EDGES = 1000
