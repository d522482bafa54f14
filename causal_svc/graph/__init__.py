"""The causal graph: the DAG itself (:mod:`.dag`) and what it says about one question
(:mod:`.analysis`)."""

from __future__ import annotations

from .analysis import (
    GraphAnalysis,
    Instrument,
    analyze_graph,
    d_separated,
    format_path,
    is_valid_adjustment_set,
)
from .dag import CausalGraph, Node, NodeRole

__all__ = [
    "CausalGraph",
    "GraphAnalysis",
    "Instrument",
    "Node",
    "NodeRole",
    "analyze_graph",
    "d_separated",
    "format_path",
    "is_valid_adjustment_set",
]
