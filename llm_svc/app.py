"""Wires the llm service's dependencies for a server process."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from liftos.v1 import llm_pb2, llm_pb2_grpc

from llm_svc.peers import AnalysisReader, DataCheck
from llm_svc.service import BackendFactory, LlmService, openai_backend
from llm_svc.settings import LlmSettings, is_loopback
from mesh.runtime import ServerConfig, ServiceBinding

_LOGGER = logging.getLogger(__name__)
SERVICE_NAME = llm_pb2.DESCRIPTOR.services_by_name["LlmService"].full_name


def build(
    config: ServerConfig,
    *,
    settings: LlmSettings | None = None,
    backend_for: BackendFactory = openai_backend,
) -> tuple[Sequence[ServiceBinding], Callable[[], Awaitable[None]]]:
    """The servicer over a causal-service reader and the surfacing service's data check; LLM
    settings from the environment unless given (``python -m llm_svc`` passes its flags)."""
    llm = settings or LlmSettings.from_env(server_on_loopback=is_loopback(config.host))
    # a keyed mesh's callers are tenants: no loopback endpoint of their choosing (R14-F5)
    llm = replace(llm, keys_on=config.auth is not None)
    if warning := llm.key_warning():
        _LOGGER.warning(warning)
    analyses = AnalysisReader(config.peers.causal)
    data = DataCheck(config.peers.surfacing)  # what changed under an explained analysis since

    async def on_stop() -> None:
        await analyses.close()
        await data.close()

    binding = ServiceBinding(
        SERVICE_NAME,
        LlmService(analyses, llm, backend_for, data),
        llm_pb2_grpc.add_LlmServiceServicer_to_server,
    )
    return [binding], on_stop
