"""Caller authentication and org isolation, enforced once for every service.

A deployment lists API keys and the org each may act for in ``LIFTOS_API_KEYS``
(``key1:org_a,key2:org_b,svc-key:*``; ``*`` is a service principal that may act for any org,
used by the services to call each other). Callers send ``authorization: Bearer <key>``.
With keys configured, every RPC except health and reflection needs a known key, and every
``org_id`` a request carries (top level, or in the resource it creates) must be the key's
org. Without keys the mesh runs open, for a laptop; the server logs that it does.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.protobuf.message import Message

from mesh.errors import PermissionDenied, Unauthenticated

ANY_ORG = "*"
EXEMPT_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """API key → the org it acts for (``*`` for a service principal)."""

    keys: Mapping[str, str]

    @classmethod
    def parse(cls, text: str) -> AuthConfig | None:
        pairs = [p.strip() for p in text.split(",") if p.strip()]
        if not pairs:
            return None
        keys: dict[str, str] = {}
        for pair in pairs:
            key, sep, org = pair.partition(":")
            if not sep or not key or not org:
                raise ValueError(f"LIFTOS_API_KEYS entry {pair!r} is not KEY:ORG")
            keys[key] = org
        return cls(keys)

    @classmethod
    def from_env(cls) -> AuthConfig | None:
        return cls.parse(os.environ.get("LIFTOS_API_KEYS", ""))

    def principal(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
        """The org the call's key acts for; Unauthenticated when missing or unknown."""
        token = ""
        for key, value in metadata or ():
            if (
                key == "authorization"
                and isinstance(value, str)
                and value.lower().startswith(_BEARER)
            ):
                token = value[len(_BEARER) :].strip()
        if not token:
            raise Unauthenticated(
                "this server requires an API key: send 'authorization: Bearer <key>'"
            )
        for known, org in self.keys.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return org
        raise Unauthenticated("unknown API key")


def request_orgs(message: Message) -> set[str]:
    """Every org_id the request names: its own, and that of a resource it carries."""
    orgs: set[str] = set()
    fields = message.DESCRIPTOR.fields_by_name
    if "org_id" in fields and (own := message.org_id):  # type: ignore[attr-defined]
        orgs.add(own)
    for field in message.DESCRIPTOR.fields:
        carries_org = (
            field.message_type is not None
            and not field.is_repeated
            and "org_id" in field.message_type.fields_by_name
            and message.HasField(field.name)
        )
        if carries_org and (inner := getattr(message, field.name).org_id):
            orgs.add(inner)
    return orgs


def authorize(principal: str, message: Message) -> None:
    """PermissionDenied when the request touches an org the principal may not act for."""
    if principal == ANY_ORG:
        return
    for org in request_orgs(message):
        if org != principal:
            raise PermissionDenied(f"this API key acts for org {principal!r}, not {org!r}")
