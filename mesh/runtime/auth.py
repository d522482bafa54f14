"""Callers, the principals their keys stand for, and what each principal may call.

``LIFTOS_API_KEYS`` lists comma-separated entries ``KEY:SUBJECT[:SCOPE+SCOPE…]``::

    key1:org_a                          a user of org_a: every public RPC, for org_a only
    loader:org_a:public+records.write   …and MemoryService.Write/WriteStream, for org_a only
    admin:org_a:public+records.delete   …and deleting org_a's data (ADMIN_METHODS: its
                                        records, MemoryService.DeleteRecords and
                                        IngestionService.ForgetBatches; its analyses,
                                        CausalService.DeleteAnalyses; its experiments and
                                        factor series, IngestionService.DeleteExperiments
                                        and DeleteExternalFactors)
    k-ing:service=ingestion             the ingestion service: the peer RPCs it calls
                                        (SERVICE_SCOPES), for any org
    ops:*:public                        every public RPC, for any org
    old:*                               every RPC for any org (the old service key; the
                                        server warns at start: prefer service=NAME)

Callers send ``authorization: Bearer <key>``. With keys configured, every RPC except health
(and reflection when it is open) needs a known key whose scopes allow the method, and every
``org_id`` anywhere in a request (nested, repeated, map values) must be the key's org unless
the principal acts for any org. Without keys the mesh runs open, for a laptop.

Errors about the configuration name an entry by its position, never its key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from mesh.runtime.exceptions import PermissionDenied, Unauthenticated, shown

ANY_ORG = "*"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIX = "/grpc.reflection."
_BEARER = "bearer "
_SERVICE_SUBJECT = "service="
# A verified client certificate whose CN is CERT_CN_PREFIX + <service> may stand for that
# service's principal when the server maps certificates (``--tls-cert-principals``).
CERT_CN_PREFIX = "liftos-"


def _rpc(service: str, *methods: str) -> frozenset[str]:
    return frozenset(f"/liftos.v1.{service}/{m}" for m in methods)


# RPCs only the mesh's own services call: never open to a user key's "public" scope.
INTERNAL_METHODS = _rpc("MemoryService", "Write", "WriteStream")
# RPCs that erase an org's data: never in "public" either; a key needs "records.delete".
ADMIN_METHODS = (
    _rpc("MemoryService", "DeleteRecords")
    | _rpc("IngestionService", "ForgetBatches", "DeleteExperiments", "DeleteExternalFactors")
    | _rpc("CausalService", "DeleteAnalyses")
)

# Named scopes → the RPCs they allow. "public" (every RPC but the internal and admin ones)
# and "all" (every RPC) are predicates, not lists, so an RPC added later is public by default.
SCOPES: Mapping[str, frozenset[str]] = {
    "records.write": INTERNAL_METHODS,
    "records.delete": ADMIN_METHODS,
    "memory.scan": _rpc("MemoryService", "Scan"),
    "memory.aggregate": _rpc("MemoryService", "AggregateRecords"),
    "memory.products": _rpc("MemoryService", "AggregateProducts"),
    "memory.read": _rpc("MemoryService", "Scan", "Search", "QueryGraph", "ListConceptualSpaces"),
    "experiments.read": _rpc("IngestionService", "GetExperiment", "ListExperiments"),
    "experiments.write": _rpc("IngestionService", "CreateExperiment"),
    "experiments.record": _rpc("IngestionService", "RecordExperimentResult"),
    "factors.read": _rpc("IngestionService", "ListExternalFactors"),
    "analyses.read": _rpc("CausalService", "GetAnalysis"),
    "analyses.list": _rpc("CausalService", "ListAnalyses"),
    "counterfactual": _rpc("CausalService", "Counterfactual"),
    "analyses.check": _rpc("SurfacingService", "CheckAnalysisData"),
}
PUBLIC, ALL = "public", "all"

# What each service's principal may call: the peer RPCs it makes (its peers.py), no more.
# tests/contract/test_service_keys.py reads every peers.py and checks this covers its calls.
SERVICE_SCOPES: Mapping[str, tuple[str, ...]] = {
    "ingestion": ("records.write", "memory.scan"),  # WriteStream each batch, Scan history
    # Scan records, AggregateRecords (attribution's panel), AggregateProducts (AnalyzeProducts),
    # GetExperiment, ListExperiments, RecordExperimentResult (EstimateEffect's
    # record_experiment_result), ListExternalFactors (the confounders attribution controls for)
    "causal": (
        "memory.read",
        "memory.aggregate",
        "memory.products",
        "experiments.read",
        "experiments.record",
        "factors.read",
    ),
    # GetAnalysis to ground an explanation, Counterfactual to judge a claimed spend change,
    # CheckAnalysisData to say what changed under the explained analysis's window since
    "llm": ("analyses.read", "counterfactual", "analyses.check"),
    # GetAnalysis and ListAnalyses (the org's latest attribution), Counterfactual,
    # AggregateRecords (the history a design and a forecast read), CreateExperiment (a design
    # saved to the registry), ListExternalFactors (the promotions and seasons a forecast reads),
    # ListExperiments (the tests whose windows are not business as usual), Scan (the records
    # of a channel whose accounts bill in two currencies, converted one by one)
    "surfacing": (
        "analyses.read",
        "analyses.list",
        "counterfactual",
        "memory.aggregate",
        "memory.scan",
        "experiments.read",
        "experiments.write",
        "factors.read",
    ),
    "memory": (),  # calls no other service
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a key (or client certificate) stands for: an org (or any) and the RPCs allowed."""

    label: str  # for logs and errors, never the key: "org_a", "service ingestion", "*"
    org: str  # the org it acts for, or ANY_ORG
    scopes: tuple[str, ...]

    @property
    def any_org(self) -> bool:
        return self.org == ANY_ORG

    def allows(self, method: str) -> bool:
        if ALL in self.scopes:
            return True
        if PUBLIC in self.scopes and method not in INTERNAL_METHODS | ADMIN_METHODS:
            return True
        return any(method in SCOPES[s] for s in self.scopes if s in SCOPES)


def service_principal(service: str) -> Principal:
    return Principal(f"service {service}", ANY_ORG, SERVICE_SCOPES[service])


def _entry(position: int, text: str) -> tuple[str, Principal, str | None]:
    """(key, principal, warning) of one LIFTOS_API_KEYS entry; ValueError names the position."""
    key, sep, rest = text.partition(":")
    subject, _, scope_text = rest.partition(":")
    if not sep or not key.strip() or not subject.strip():
        raise ValueError(f"LIFTOS_API_KEYS entry {position} is not KEY:ORG[:SCOPE+SCOPE]")
    subject = subject.strip()
    scopes = tuple(s.strip() for s in scope_text.split("+") if s.strip())
    unknown = [s for s in scopes if s not in SCOPES and s not in (PUBLIC, ALL)]
    if unknown:
        raise ValueError(
            f"LIFTOS_API_KEYS entry {position} names unknown scope(s) {', '.join(unknown)}; "
            f"known: {', '.join([PUBLIC, ALL, *SCOPES])}"
        )
    if subject.startswith(_SERVICE_SUBJECT):
        service = subject.removeprefix(_SERVICE_SUBJECT)
        if service not in SERVICE_SCOPES:
            raise ValueError(
                f"LIFTOS_API_KEYS entry {position} names no service "
                f"({', '.join(SERVICE_SCOPES)} are)"
            )
        if scopes:
            raise ValueError(
                f"LIFTOS_API_KEYS entry {position}: a service principal's scopes are fixed"
            )
        return key.strip(), service_principal(service), None
    warning = None
    if subject == ANY_ORG and not scopes:
        scopes = (ALL,)
        warning = (
            f"LIFTOS_API_KEYS entry {position} (KEY:*) may call every RPC for every org: "
            "a service holding it reads every org's data; give each service its own "
            "KEY:service=NAME key"
        )
    return key.strip(), Principal(subject, subject, scopes or (PUBLIC,)), warning


class AuthConfig:
    """The deployment's keys and the principals they stand for."""

    __slots__ = ("_by_digest", "cert_principals", "warnings")

    def __init__(
        self,
        keys: Mapping[str, Principal],
        *,
        warnings: Iterable[str] = (),
        cert_principals: bool = False,
    ) -> None:
        # Looked up by digest: no comparison ever runs over the key's own bytes.
        self._by_digest = {_digest(k): p for k, p in keys.items()}
        self.warnings = tuple(warnings)
        self.cert_principals = cert_principals

    @classmethod
    def parse(cls, text: str, *, cert_principals: bool = False) -> AuthConfig | None:
        entries = [p.strip() for p in text.split(",") if p.strip()]
        if not entries:
            return None
        keys: dict[str, Principal] = {}
        warnings: list[str] = []
        for position, entry in enumerate(entries, 1):
            key, principal, warning = _entry(position, entry)
            if key in keys:
                raise ValueError(f"LIFTOS_API_KEYS entry {position} repeats an earlier key")
            keys[key] = principal
            if warning:
                warnings.append(warning)
        return cls(keys, warnings=warnings, cert_principals=cert_principals)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuthConfig | None:
        env = os.environ if environ is None else environ
        return cls.parse(
            env.get("LIFTOS_API_KEYS", ""),
            cert_principals=env.get("LIFTOS_TLS_CERT_PRINCIPALS", "") in ("1", "true", "yes"),
        )

    def principal(
        self,
        metadata: Iterable[tuple[str, str | bytes]] | None,
        cert_cn: str | None = None,
    ) -> Principal:
        """Who the call's key (or, when mapped, its verified client certificate) stands for;
        Unauthenticated when neither is known."""
        token = bearer_token(metadata)
        if token:
            found = self._by_digest.get(_digest(token))
            if found is None:
                raise Unauthenticated("unknown API key")
            return found
        if self.cert_principals and cert_cn and cert_cn.startswith(CERT_CN_PREFIX):
            service = cert_cn.removeprefix(CERT_CN_PREFIX)
            if service in SERVICE_SCOPES:
                return service_principal(service)
        raise Unauthenticated("this server requires an API key: send 'authorization: Bearer <key>'")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    token = ""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.lower().startswith(_BEARER):
            token = value[len(_BEARER) :].strip()
    return token


# -- every org_id in a message -------------------------------------------------------------

_SINGLE, _REPEATED, _MAP = 0, 1, 2
# message full name → (has an org_id field, the message fields that can lead to one)
_Plan = tuple[bool, tuple[tuple[str, int], ...]]
_PLANS: dict[str, _Plan] = {}


def _is_map(field: Any) -> bool:
    return bool(field.message_type is not None and field.message_type.GetOptions().map_entry)


def _children(d: Descriptor) -> list[Descriptor]:
    out = []
    for f in d.fields:
        if f.message_type is None:
            continue
        if _is_map(f):
            value = f.message_type.fields_by_name["value"]
            if value.message_type is not None:
                out.append(value.message_type)
        else:
            out.append(f.message_type)
    return out


def _plan_types(root: Descriptor) -> None:
    """Plans for ``root`` and every type it reaches (iteratively; recursive types are fine)."""
    reached: dict[str, Descriptor] = {}
    stack = [root]
    while stack:
        d = stack.pop()
        if d.full_name in reached or d.full_name in _PLANS:
            continue
        reached[d.full_name] = d
        stack.extend(_children(d))
    carries = {n for n, d in reached.items() if "org_id" in d.fields_by_name}
    carries |= {n for n, (has, fields) in _PLANS.items() if has or fields}
    changed = True
    while changed:  # a type carries an org when a child type does, to a fixed point
        changed = False
        for name, d in reached.items():
            if name not in carries and any(c.full_name in carries for c in _children(d)):
                carries.add(name)
                changed = True
    for name, d in reached.items():
        fields: list[tuple[str, int]] = []
        for f in d.fields:
            if f.message_type is None:
                continue
            if _is_map(f):
                value = f.message_type.fields_by_name["value"].message_type
                if value is not None and value.full_name in carries:
                    fields.append((f.name, _MAP))
            elif f.message_type.full_name in carries:
                fields.append((f.name, _REPEATED if f.is_repeated else _SINGLE))
        _PLANS[name] = ("org_id" in d.fields_by_name, tuple(fields))


def request_orgs(message: Message) -> set[str]:
    """Every non-empty org_id anywhere in ``message``: its own, nested, repeated, in maps."""
    orgs: set[str] = set()
    stack: list[Any] = [message]
    while stack:
        m = stack.pop()
        name = m.DESCRIPTOR.full_name
        plan = _PLANS.get(name)
        if plan is None:
            _plan_types(m.DESCRIPTOR)
            plan = _PLANS[name]
        has_org, fields = plan
        if has_org and (own := m.org_id):
            orgs.add(own)
        for field, kind in fields:
            if kind == _SINGLE:
                if m.HasField(field):
                    stack.append(getattr(m, field))
            elif kind == _REPEATED:
                stack.extend(getattr(m, field))
            else:
                stack.extend(getattr(m, field).values())
    return orgs


def authorize(principal: Principal, message: Message) -> None:
    """PermissionDenied when the request names an org the principal may not act for."""
    if principal.any_org:
        return
    for org in request_orgs(message):
        if org != principal.org:
            raise PermissionDenied(f"this API key acts for org {principal.org!r}, not {shown(org)}")
