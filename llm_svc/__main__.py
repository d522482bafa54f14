"""python -m llm_svc --port … --data-dir … (peer addresses from flags or LIFTOS_*_ADDR)"""

from llm_svc.app import build
from mesh.runtime.main import run_service

if __name__ == "__main__":
    run_service("llm", build)
