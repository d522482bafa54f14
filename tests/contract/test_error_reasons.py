"""Every ErrorInfo reason the code can set is documented in docs/errors.md with its code
(s18 R32: ~90 reasons in the code, ~10 named in the proto; a Go/TS client had to trigger them
to learn them, and a rename broke it with no signal). The reasons are read from the source
(AST): an exception class's ``default_reason``, a ``reason=`` argument (a literal, a module
constant, or a local ``reason`` variable's literals), and a literal passed positionally where
a local function's parameter is ``reason``. Each must have a row in docs/errors.md, each row
must name a reason the code sets, and where the reason's exception class is known its code
must be the one mesh/runtime/status.py maps it to."""

from __future__ import annotations

import ast
import importlib
import re
from collections import defaultdict
from pathlib import Path

from google.rpc import code_pb2

from mesh.runtime.status import code_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ingestion_svc", "memory_svc", "causal_svc", "llm_svc", "surfacing_svc", "mesh")
REASON = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([A-Z_]+) \|", re.MULTILINE)


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if REASON.fullmatch(node.value) else None
    return None


def _callee(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _code(module: str, name: str | None) -> str | None:
    """The google.rpc code name of exception class ``name`` as ``module`` sees it."""
    if name is None:
        return None
    obj = getattr(importlib.import_module(module), name, None)
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return code_pb2.Code.Name(code_for(obj))
    return None


def reasons_in_code() -> dict[str, set[str | None]]:
    """reason → the codes of the exception classes that set it (None: not known here)."""
    found: dict[str, set[str | None]] = defaultdict(set)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            module = _module(path)
            constants = {
                t.id: v
                for n in tree.body
                if isinstance(n, ast.Assign) and (v := _literal(n.value))
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            positional = {
                n.name: [a.arg for a in n.args.args].index("reason")
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef) and "reason" in [a.arg for a in n.args.args]
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    for st in node.body:
                        if (
                            isinstance(st, ast.Assign)
                            and any(
                                isinstance(t, ast.Name) and t.id == "default_reason"
                                for t in st.targets
                            )
                            and (v := _literal(st.value))
                        ):
                            found[v].add(_code(module, node.name))
                elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "reason" for t in node.targets
                ):
                    if v := _literal(node.value):
                        found[v].add(None)
                elif isinstance(node, ast.Call):
                    name = _callee(node)
                    for k in node.keywords:
                        if k.arg != "reason":
                            continue
                        v = _literal(k.value)
                        if v is None and isinstance(k.value, ast.Name):
                            v = constants.get(k.value.id)
                        if v is not None:
                            found[v].add(_code(module, name))
                    at = positional.get(name or "")
                    if at is not None and len(node.args) > at and (v := _literal(node.args[at])):
                        found[v].add(None)
    return found


def documented() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    rows: dict[str, set[str]] = defaultdict(set)
    for reason, code in ROW.findall(text):
        rows[reason].add(code)
    return rows


def test_the_collector_finds_the_kinds_of_reason_it_reads() -> None:
    """One of each way a reason is set, so the AST reading cannot silently find nothing."""
    found = reasons_in_code()
    assert found["BATCH_ID_REUSED"] == {"ALREADY_EXISTS"}  # default_reason
    assert "FAILED_PRECONDITION" in found["EXPERIMENT_UNIT_UNMATCHED"]  # module constant
    assert "STORAGE_READ_ONLY" in found  # a local `reason` variable
    assert "OUT_OF_RANGE" in found  # positional, causal_svc/methods.py _require
    assert found["TOO_MANY_CALLS"] == {"RESOURCE_EXHAUSTED"}  # reason= literal
    assert len(found) > 80


def test_every_reason_is_documented_with_its_code() -> None:
    found, doc = reasons_in_code(), documented()
    missing = sorted(set(found) - set(doc))
    assert not missing, f"reasons the code sets that docs/errors.md does not list: {missing}"
    stale = sorted(set(doc) - set(found))
    assert not stale, f"docs/errors.md lists reasons no code sets: {stale}"
    wrong = {
        r: (sorted(c for c in codes if c), sorted(doc[r]))
        for r, codes in found.items()
        if {c for c in codes if c} - doc[r]
    }
    assert not wrong, f"reason: (codes in the code, codes in docs/errors.md): {wrong}"
    for code in {c for codes in doc.values() for c in codes}:
        code_pb2.Code.Value(code)  # a real google.rpc code name
