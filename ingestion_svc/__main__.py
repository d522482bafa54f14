"""python -m ingestion_svc --port 50051 --data-dir .liftos --memory-addr host:port"""

from ingestion_svc.app import build
from mesh.runtime.main import run_service

if __name__ == "__main__":
    run_service("ingestion", build)
