"""Server bootstrap shared by every service: health, reflection, limits, logging, errors."""

from mesh.runtime.config import PeerConfig, ServerConfig
from mesh.runtime.server import ServiceBinding, create_server, serve
from mesh.runtime.status import to_rpc_status

__all__ = [
    "PeerConfig",
    "ServerConfig",
    "ServiceBinding",
    "create_server",
    "serve",
    "to_rpc_status",
]
