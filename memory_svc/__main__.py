"""python -m memory_svc --port … --data-dir … [--store postgresql://…] (peer addresses from
flags or LIFTOS_*_ADDR)"""

from memory_svc.app import main

if __name__ == "__main__":
    main()
