"""Project-wide contract checks: buf lint, generated-code drift, import floors, error table."""

from __future__ import annotations

import ast
import filecmp
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor, FileDescriptor

from mesh.runtime import exceptions as E
from mesh.runtime.status import STATUS_TABLE, code_for

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = ("ingestion_svc", "memory_svc", "causal_svc", "llm_svc", "surfacing_svc")
# Modules allowed to import grpc / generated code; everything else is domain code.
# bulk_import.py reads WriteRequests from a file as the servicer reads them from the wire
WIRE_MODULES = {"service.py", "convert.py", "app.py", "__main__.py", "peers.py", "bulk_import.py"}
# A convert.py grown past one module becomes a package of them.
WIRE_PACKAGES = {"convert"}


def test_buf_lint_is_clean(node_modules: Path) -> None:
    buf = node_modules / ".bin" / "buf"
    out = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_vendored_google_api_protos_match_the_wheel() -> None:
    """proto/google/api/ is what buf and protoc compile against (offline, no BSR); the
    runtime pool gets the same files from googleapis-common-protos, so they must be equal."""
    import google.api

    wheel = Path(google.api.__path__[0])
    vendored = sorted((ROOT / "proto" / "google" / "api").glob("*.proto"))
    assert vendored, "proto/google/api/*.proto missing"
    for path in vendored:
        assert path.read_bytes() == (wheel / path.name).read_bytes(), (
            f"{path.relative_to(ROOT)} differs from googleapis-common-protos' copy: "
            f"copy {wheel / path.name} over it"
        )


def _contract_files() -> list[FileDescriptor]:
    from liftos.v1 import causal_pb2, ingestion_pb2, llm_pb2, memory_pb2, surfacing_pb2

    return [m.DESCRIPTOR for m in (causal_pb2, ingestion_pb2, llm_pb2, memory_pb2, surfacing_pb2)]


def _behaviors(field: FieldDescriptor) -> set[str]:
    from google.api import field_behavior_pb2 as fb

    return {fb.FieldBehavior.Name(b) for b in field.GetOptions().Extensions[fb.field_behavior]}


def test_list_rpcs_are_paged() -> None:
    """AIP-158 on every List RPC: page_size and page_token in, next_page_token out."""
    lists = [
        m for f in _contract_files() for s in f.services_by_name.values() for m in s.methods
        if m.name.startswith("List")
    ]  # fmt: skip
    assert len(lists) >= 3
    for method in lists:
        fields = method.input_type.fields_by_name
        assert fields["page_size"].type == fields["page_size"].TYPE_INT32, method.full_name
        assert fields["page_token"].type == fields["page_token"].TYPE_STRING, method.full_name
        assert {"OPTIONAL"} == _behaviors(fields["page_size"]) == _behaviors(fields["page_token"])
        assert "next_page_token" in method.output_type.fields_by_name, method.full_name


def test_every_request_org_id_is_required() -> None:
    """Every call is scoped to an org; GetCalendar's is the one optional org_id."""
    optional = {"liftos.v1.GetCalendarRequest"}
    seen = 0
    for f in _contract_files():
        for service in f.services_by_name.values():
            for method in service.methods:
                request = method.input_type
                if "org_id" in request.fields_by_name:
                    seen += 1
                    want = "OPTIONAL" if request.full_name in optional else "REQUIRED"
                    assert want in _behaviors(request.fields_by_name["org_id"]), request.full_name
    assert seen >= 20


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


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every module ``module``'s source imports, anywhere in it (functions too), as dotted
    names: relative imports resolved, ``from a import b`` as ``a.b`` (b may be a module), and
    ``importlib.import_module("…")`` / ``__import__("…")`` with a literal name."""
    base = module if package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1])
                origin = ".".join(p for p in (anchor, node.module or "") if p)
            else:
                origin = node.module or ""
            found.add(origin)
            found |= {f"{origin}.{a.name}" for a in node.names if a.name != "*"}
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("import_module", "__import__")
                )
            )
        ):
            found.add(node.args[0].value)
    return found


def _imports(path: Path) -> set[str]:
    """The top-level packages a file imports."""
    module = _module_name(path)
    modules = _imported_modules(path.read_text(), module, package=path.name == "__init__.py")
    return {m.split(".")[0] for m in modules}


# Import floors (DESIGN.md "Layout"): gen ← mesh.runtime ← *_svc ← mesh.sdk, mesh.cli; sim
# depends on nothing of ours. A layer is a dotted prefix; each layer lists the layers of ours it
# may import (itself included). The generated code is one layer; a layer not listed is not ours.
GENERATED = ("liftos", "liftos_dc")
LAYERS: dict[str, tuple[str, ...]] = {
    "mesh.runtime": ("gen", "mesh.runtime"),
    **{svc: ("gen", "mesh.runtime", svc) for svc in SERVICE_PACKAGES},
    "mesh.sdk": ("gen", "mesh.runtime", "mesh.sdk"),
    # The report renders wire messages and nothing else: no runtime, no client, no services.
    "mesh.report": ("gen", "mesh.report"),
    "mesh.cli": ("gen", "mesh.runtime", "mesh.sdk", "mesh.report", "mesh.cli", "sim"),
    "sim": ("sim",),
}
# Test and benchmark data: no layer's own code builds records from it.
TEST_DATA = "mesh.runtime.synthetic_records"


def _layer(module: str) -> str | None:
    if module.split(".")[0] in GENERATED:
        return "gen"
    if module == "mesh":
        return "mesh"
    return max(
        (layer for layer in LAYERS if f"{module}.".startswith(f"{layer}.")), default=None, key=len
    )


def floor_violations(source: str, module: str, *, package: bool = False) -> list[str]:
    """The imports of ``module`` (its source given) that break the floors."""
    layer = _layer(module)
    if layer not in LAYERS:
        return []
    allowed = LAYERS[layer]
    bad = []
    for imported in sorted(_imported_modules(source, module, package=package)):
        target = _layer(imported)
        if target in (None, "mesh"):
            continue  # not ours, or the bare ``from mesh import x`` (judged as mesh.x)
        if target not in allowed or (imported == TEST_DATA and module != TEST_DATA):
            bad.append(f"{module} ({layer}) imports {imported} ({target})")
    return bad


def _layered_modules() -> list[Path]:
    roots = ("mesh", "sim", *SERVICE_PACKAGES)
    return sorted(p for root in roots for p in (ROOT / root).rglob("*.py"))


@pytest.mark.parametrize("path", _layered_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_respect_the_floors(path: Path) -> None:
    module = _module_name(path)
    bad = floor_violations(path.read_text(), module, package=path.name == "__init__.py")
    assert not bad, "import floors broken (DESIGN.md, Layout):\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("mesh.runtime.x", "import memory_svc.engine", True),
        ("mesh.runtime.x", "from mesh.sdk import LiftOS", True),
        ("mesh.runtime.x", "from mesh import cli", True),
        ("mesh.runtime.x", "def f():\n    from mesh.cli import search", True),
        ("mesh.runtime.x", "import importlib\nimportlib.import_module('causal_svc.jobs')", True),
        (
            "mesh.runtime.x",
            "from liftos.v1 import memory_pb2\nfrom mesh.runtime import status",
            False,
        ),
        ("memory_svc.x", "from ingestion_svc import convert", True),
        ("memory_svc.x", "from mesh.sdk.client import LiftOS", True),
        ("memory_svc.x", "from mesh.cli import search", True),
        ("memory_svc.x", "import sim", True),
        ("memory_svc.x", "from mesh.runtime.synthetic_records import synthetic_records", True),
        ("memory_svc.x", "from . import engine\nfrom .engine import Engine", False),
        ("memory_svc.sub.x", "from .. import ingestion_svc", False),
        ("mesh.sdk.x", "from causal_svc import methods", True),
        ("mesh.sdk.x", "from mesh.cli import main", True),
        ("mesh.cli.x", "from memory_svc import cli", True),
        (
            "mesh.cli.x",
            "from mesh.sdk import LiftOS\nimport sim\nfrom mesh.runtime import frames",
            False,
        ),
        ("mesh.report.x", "from mesh.sdk import LiftOS", True),
        ("mesh.report.x", "from mesh.runtime import frames", True),
        ("mesh.report.x", "import causal_svc.convert", True),
        ("mesh.report.x", "from liftos.v1 import causal_pb2\nfrom mesh.report import _svg", False),
        ("mesh.cli.x", "from mesh.report import render_report", False),
        ("sim.x", "from liftos.v1 import common_pb2", True),
        ("sim.x", "from mesh.runtime.exceptions import InvalidInput", True),
        ("sim.x", "import numpy\nfrom sim import core", False),
    ],
)
def test_the_floor_check_catches_what_it_must(module: str, source: str, broken: bool) -> None:
    assert bool(floor_violations(source, module)) is broken


def _domain_modules() -> list[Path]:
    modules = []
    for package in (*SERVICE_PACKAGES, "sim"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name not in WIRE_MODULES and path.parent.name not in WIRE_PACKAGES:
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
        f"{path.relative_to(ROOT)} imports {forbidden}: move it to service.py/convert.py "
        "(calls to peer services: peers.py)"
    )


@pytest.mark.parametrize(
    "path", sorted((ROOT / "mesh" / "report").rglob("*.py")), ids=lambda p: p.name
)
def test_the_report_is_pure(path: Path) -> None:
    """mesh.report renders messages it is given: no gRPC, no stubs, no network, no files."""
    modules = _imported_modules(
        path.read_text(), _module_name(path), package=path.name == "__init__.py"
    )
    bad = {
        m for m in modules
        if m.split(".")[0] in {"grpc", "grpc_status", "grpc_health", "socket", "urllib", "http", "httpx"}
        or m.endswith("_pb2_grpc")
    }  # fmt: skip
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_sim_depends_on_nothing_of_ours() -> None:
    ours = {"mesh", *SERVICE_PACKAGES, *GENERATED}
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
