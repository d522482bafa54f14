"""The version of the code an analysis ran on, stored with it (AttributionResult.code_version).

The package version alone ("liftos 0.1.0") is the same for every commit of the repository, so
two analyses made by different code could not be told apart (audit s18 R33-F5). The commit
comes from, in order: ``LIFTOS_CODE_VERSION`` (a deployment names its build), the git checkout
the package runs from (``git describe --always --dirty``: a commit with local edits reads
"-dirty"), else it is said to be unknown.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from functools import lru_cache
from pathlib import Path

__all__ = ["ENV", "UNKNOWN_COMMIT", "code_version", "git_commit"]

ENV = "LIFTOS_CODE_VERSION"
UNKNOWN_COMMIT = "commit unknown"
_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding mesh/ (when it is one)
_GIT_SECONDS = 5.0


def git_commit(root: Path = _ROOT) -> str:
    """``git describe --always --dirty --abbrev=12`` of ``root``; "" when ``root`` is no git
    checkout, or git is missing or does not answer."""
    if not (root / ".git").exists():
        return ""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True, text=True, timeout=_GIT_SECONDS, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@lru_cache(maxsize=1)
def _checkout_commit() -> str:
    return git_commit()


def code_version(root: Path | None = None) -> str:
    """ "liftos <version> (<commit>)": the commit as the module docstring says, or
    "(commit unknown)". ``root``: another checkout to read (tests); default this one, read
    once per process."""
    try:
        version = importlib.metadata.version("liftos")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    commit = os.environ.get(ENV, "").strip()
    if not commit:
        commit = _checkout_commit() if root is None else git_commit(root)
    return f"liftos {version} ({commit or UNKNOWN_COMMIT})"
