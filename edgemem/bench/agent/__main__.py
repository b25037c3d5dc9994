"""``python -m edgemem.bench.agent`` (a source tree); the zipapp has its own __main__.py."""

import sys

from .cli import main

sys.exit(main())
