"""python -m llm_svc --port … [--llm-url URL --llm-model NAME] (peers from flags or
LIFTOS_*_ADDR; the LLM endpoint's API key only from LIFTOS_LLM_PROVIDER_KEY — LIFTOS_LLM_API_KEY
is the service's mesh key, never sent to the endpoint)."""

from __future__ import annotations

import argparse
import functools
import os
import sys

from llm_svc.app import build
from llm_svc.settings import add_llm_arguments, settings_from_args
from mesh.runtime.main import run_service


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    add_llm_arguments(parser)
    parser.add_argument("--host", default=os.environ.get("LIFTOS_HOST", "127.0.0.1"))
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    settings = settings_from_args(args, server_host=args.host)
    # The LLM flags again, for --help only (their values were read above).
    shown = argparse.ArgumentParser(add_help=False)
    add_llm_arguments(shown)
    run_service(
        "llm",
        functools.partial(build, settings=settings),
        [*rest, "--host", args.host],
        parents=[shown],
    )


if __name__ == "__main__":
    main()
