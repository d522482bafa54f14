"""Which LLM endpoint the service calls, and which endpoints a request may name.

``--llm-url`` / ``LIFTOS_LLM_URL`` (base URL of an OpenAI-compatible API, e.g.
``http://127.0.0.1:11434/v1``), ``--llm-model`` / ``LIFTOS_LLM_MODEL``,
``LIFTOS_LLM_PROVIDER_KEY`` (the endpoint's API key: never a flag, never logged), ``--llm-timeout`` / ``LIFTOS_LLM_TIMEOUT`` (seconds for a whole
answer), ``--llm-retries`` / ``LIFTOS_LLM_RETRIES``, ``--llm-allowed-urls`` /
``LIFTOS_LLM_ALLOWED_URLS`` (comma-separated base URLs a request may name besides the
configured one).

A request's own endpoint (``ExplainRequest.llm``) is a URL the server will fetch, so it is
allowed only when it is the configured one, one of the allowed ones, or — on an open mesh
(no ``LIFTOS_API_KEYS``) whose server listens on loopback, a laptop mesh started by
``liftos up`` — a loopback address. With keys on, a tenant must not reach this machine's
other ports, so only the listed ones (audit R14-F5). A URL with a query or fragment is
refused: ``/chat/completions`` is appended to the path, and ``?``/``#`` would let the caller
choose the path. The provider key goes only to the configured endpoint, the operator's: an
endpoint a request names, allowed or not, never gets it, and its error replies are reported
by status code only (``Endpoint.named_by_request``), never echoed back to the caller.

``LIFTOS_LLM_API_KEY`` is not the endpoint's key: it is the llm service's own mesh key (the
``LIFTOS_<SERVICE>_API_KEY`` it sends its peers, mesh.runtime.config.service_api_key), and a
mesh credential never leaves the mesh, so it is never sent to an LLM endpoint.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from llm_svc.errors import InvalidRequest, LlmNotConfigured

__all__ = ["Endpoint", "LlmSettings", "add_llm_arguments", "is_loopback", "settings_from_args"]

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_RETRIES = 2
DEFAULT_MODEL = "default"
MAX_URL_CHARS = 2048
# The endpoint's key; LIFTOS_LLM_API_KEY is the service's mesh key (see the module docstring).
PROVIDER_KEY_VAR = "LIFTOS_LLM_PROVIDER_KEY"
MESH_KEY_VAR = "LIFTOS_LLM_API_KEY"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint to call for one explanation."""

    url: str
    model: str
    api_key: str = field(default="", repr=False)
    # a URL the request chose, not the operator: no key, and its error bodies are not shown
    named_by_request: bool = False


def _normal(url: str) -> str:
    return url.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, ``127.0.0.1``, ``::1``)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class LlmSettings:
    url: str = ""
    model: str = DEFAULT_MODEL
    api_key: str = field(default="", repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    allowed_urls: tuple[str, ...] = ()
    server_on_loopback: bool = True
    # the mesh checks API keys (LIFTOS_API_KEYS): callers are tenants, not the machine's user
    keys_on: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> LlmSettings:
        e = os.environ if env is None else env
        allowed = tuple(
            u for u in (_normal(x) for x in e.get("LIFTOS_LLM_ALLOWED_URLS", "").split(",")) if u
        )
        values: dict[str, object] = {
            "url": _normal(e.get("LIFTOS_LLM_URL", "")),
            "model": e.get("LIFTOS_LLM_MODEL", "") or DEFAULT_MODEL,
            "api_key": e.get(PROVIDER_KEY_VAR, ""),
            "timeout_s": float(e.get("LIFTOS_LLM_TIMEOUT", DEFAULT_TIMEOUT_S)),
            "retries": int(e.get("LIFTOS_LLM_RETRIES", DEFAULT_RETRIES)),
            "allowed_urls": allowed,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def key_warning(self, env: Mapping[str, str] | None = None) -> str | None:
        """What to tell an operator who set only LIFTOS_LLM_API_KEY with an endpoint configured:
        before LIFTOS_LLM_PROVIDER_KEY it was also the endpoint's key, and it no longer is."""
        e = os.environ if env is None else env
        if self.url and e.get(MESH_KEY_VAR) and not self.api_key:
            return (
                f"{MESH_KEY_VAR} is the llm service's mesh key and is not sent to the LLM "
                f"endpoint; set {PROVIDER_KEY_VAR} to the endpoint's API key if it needs one"
            )
        return None

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def endpoint(self, url: str = "", model: str = "") -> Endpoint:
        """The endpoint for a call that names ``url``/``model`` (or neither)."""
        if not url:
            if not self.url:
                raise LlmNotConfigured(
                    "no LLM endpoint is configured (--llm-url / LIFTOS_LLM_URL) and the request "
                    "names none",
                    subject="llm.url",
                )
            return Endpoint(self.url, model or self.model, self.api_key)
        wanted = _normal(url)
        if len(wanted) > MAX_URL_CHARS:
            raise InvalidRequest(f"llm.url is over {MAX_URL_CHARS:,} characters", field="llm.url")
        if "?" in wanted or "#" in wanted:
            raise InvalidRequest(
                "llm.url must be a base URL without a query or fragment ('?', '#'): "
                "/chat/completions is appended to its path",
                field="llm.url",
            )
        parts = urlsplit(wanted)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest("llm.url must be an http(s) URL with a host", field="llm.url")
        if wanted == self.url:
            return Endpoint(self.url, model or self.model, self.api_key)
        loopback_ok = self.server_on_loopback and not self.keys_on
        if not (wanted in self.allowed_urls or (loopback_ok and is_loopback(parts.hostname))):
            raise InvalidRequest(
                "this server calls only its configured LLM endpoint and the ones on its "
                "allow-list (--llm-allowed-urls of liftos up or python -m llm_svc, or "
                "LIFTOS_LLM_ALLOWED_URLS)"
                + ("" if self.keys_on else ", and loopback endpoints when it listens on loopback"),
                field="llm.url",
                reason="LLM_URL_NOT_ALLOWED",
            )
        return Endpoint(wanted, model or self.model, named_by_request=True)


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """The LLM flags of ``python -m llm_svc`` (environment variables as fallbacks)."""
    parser.add_argument(
        "--llm-url", default=None, help="OpenAI-compatible base URL (LIFTOS_LLM_URL)"
    )
    parser.add_argument("--llm-model", default=None, help="model name (LIFTOS_LLM_MODEL)")
    parser.add_argument("--llm-timeout", type=float, default=None, help="seconds per answer")
    parser.add_argument("--llm-retries", type=int, default=None, help="retries before any text")
    parser.add_argument(
        "--llm-allowed-urls",
        default=None,
        help="comma-separated endpoints a request may name (sent no provider key)",
    )


def settings_from_args(args: argparse.Namespace, *, server_host: str) -> LlmSettings:
    allowed: Sequence[str] | None = None
    if args.llm_allowed_urls:
        allowed = tuple(_normal(u) for u in args.llm_allowed_urls.split(",") if u.strip())
    return LlmSettings.from_env(
        url=_normal(args.llm_url) if args.llm_url else None,
        model=args.llm_model,
        timeout_s=args.llm_timeout,
        retries=args.llm_retries,
        allowed_urls=allowed,
        server_on_loopback=is_loopback(server_host),
    )
