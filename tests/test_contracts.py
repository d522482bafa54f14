"""Project-wide contract checks: buf lint, generated-code drift, import floors, error table."""

from __future__ import annotations

import ast
import filecmp
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.runtime import exceptions as E
from mesh.runtime.status import STATUS_TABLE, code_for

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = ("ingestion_svc", "memory_svc", "causal_svc", "llm_svc", "surfacing_svc")
# Modules allowed to import grpc / generated code; everything else is domain code.
WIRE_MODULES = {"service.py", "convert.py", "app.py", "__main__.py", "cli.py", "client.py"}


def test_buf_lint_is_clean(node_modules: Path) -> None:
    buf = node_modules / ".bin" / "buf"
    out = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def _tree_diff(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    diffs = [f"only in {a}: {n}" for n in cmp.left_only] + [
        f"only in {b}: {n}" for n in cmp.right_only
    ]
    diffs += [f"differs: {a / n}" for n in cmp.diff_files]
    for sub in cmp.common_dirs:
        diffs += _tree_diff(a / sub, b / sub)
    return diffs


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    """gen/ is exactly what `make gen` produces from proto/ (regenerate and commit if not)."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen.sh"), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHON": sys.executable, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    diffs = _tree_diff(ROOT / "gen" / "liftos", tmp_path / "liftos")
    diffs += _tree_diff(ROOT / "gen" / "liftos_dc", tmp_path / "liftos_dc")
    assert not diffs, "gen/ drifted from proto/ — run `make gen`:\n" + "\n".join(diffs)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _domain_modules() -> list[Path]:
    modules = []
    for package in (*SERVICE_PACKAGES, "sim"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name not in WIRE_MODULES:
                modules.append(path)
    return modules


@pytest.mark.parametrize("path", _domain_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_code_knows_nothing_of_grpc(path: Path) -> None:
    forbidden = _imports(path) & {
        "grpc",
        "grpc_status",
        "grpc_health",
        "grpc_reflection",
        "liftos",
        "liftos_dc",
        "gen",
    }
    assert not forbidden, (
        f"{path.relative_to(ROOT)} imports {forbidden}: move it to service.py/convert.py"
    )


def test_sim_depends_on_nothing_of_ours() -> None:
    ours = {"mesh", *SERVICE_PACKAGES, "liftos", "liftos_dc"}
    for path in (ROOT / "sim").rglob("*.py"):
        assert not (_imports(path) & ours), path


def test_no_handwritten_liftos_package() -> None:
    assert not (ROOT / "liftos").exists(), "a top-level liftos/ would hide gen/liftos"


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_domain_error_has_a_status() -> None:
    """The runtime's table is total: no domain error falls through to INTERNAL."""
    for package in SERVICE_PACKAGES:
        try:
            importlib.import_module(f"{package}.errors")
        except ModuleNotFoundError:
            continue
    leaves = _subclasses(E.LiftosError)
    assert len(leaves) >= 10
    unmapped = [c.__qualname__ for c in leaves if code_for(c) == 13]  # 13 = INTERNAL
    assert not unmapped
    assert len({base for base, _, _ in STATUS_TABLE}) == len(STATUS_TABLE)
