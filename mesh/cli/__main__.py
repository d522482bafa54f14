"""``python -m mesh.cli …``: the ``liftos`` command."""

import sys

from mesh.cli import main

sys.exit(main())
