"""python -m surfacing_svc --port … --data-dir … (peer addresses from flags or LIFTOS_*_ADDR)"""

from mesh.runtime.main import run_service
from surfacing_svc.app import build

if __name__ == "__main__":
    run_service("surfacing", build)
