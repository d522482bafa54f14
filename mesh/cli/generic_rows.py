"""Moved to :mod:`mesh.sdk.generic_rows`, where ``LiftOS.ingest`` checks and sums a mapped
source's rows as ``liftos ingest`` does; the CLI's name stays for its callers."""

from mesh.sdk.generic_rows import MEASURES, Conflict, conflict, summed

__all__ = ["MEASURES", "Conflict", "conflict", "summed"]
