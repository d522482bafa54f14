"""The server side of the mesh and the kernel every service shares.

Server bootstrap (``server``, ``main``, ``interceptor``, ``auth``, ``channels``, ``config``,
``certs``, ``inprocess``), errors both ways (``exceptions``: the domain exceptions, plain
Python; ``status``: exceptions ↔ ``google.rpc.Status``), calls to peers (``peers``), streams
(``pipeline``), proto ↔ Python values (``protoconv``), records ↔ columns (``frames``,
``tables``, ``record_rules``), small stores (``sqlite_db``, ``page_tokens``), and test data
(``synthetic_records``, used by tests and benchmarks only).

The names below are the bootstrap a service's ``app.py`` needs. They load on first use, so
that a domain module importing ``mesh.runtime.exceptions`` does not load gRPC with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mesh.runtime.config import PeerConfig, ServerConfig
    from mesh.runtime.server import ServiceBinding, create_server, serve
    from mesh.runtime.status import decode_status, to_rpc_status

_EXPORTS = {
    "PeerConfig": "mesh.runtime.config",
    "ServerConfig": "mesh.runtime.config",
    "ServiceBinding": "mesh.runtime.server",
    "create_server": "mesh.runtime.server",
    "serve": "mesh.runtime.server",
    "decode_status": "mesh.runtime.status",
    "to_rpc_status": "mesh.runtime.status",
}

__all__ = [
    "PeerConfig",
    "ServerConfig",
    "ServiceBinding",
    "create_server",
    "decode_status",
    "serve",
    "to_rpc_status",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
