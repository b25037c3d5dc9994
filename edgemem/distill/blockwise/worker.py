"""``python -m edgemem.distill.blockwise.worker RUN.toml``: one blockwise worker under torchrun.

edgemem's launcher (``launch.py``) starts torchrun on this module with the run file the config
module wrote (``config.write_config``). Each worker runs its share (``run.run_worker``); rank 0
writes ``report.json`` and, when ``EDGEMEM_BLOCKWISE_EVENTS`` is set, its progress as JSON lines
for the launcher to replay. A problem is one line on stderr and exit 1 (torchrun then stops the
others); a student over the budget is not a failure here: the launcher reads the report.
"""

from __future__ import annotations

import os
import sys

from edgemem.distill.blockwise.events import writer_from_environment
from edgemem.distill.common import SilentProgress
from edgemem.distill.config import load_config
from edgemem.errors import EdgememError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m edgemem.distill.blockwise.worker RUN.toml\n")
        return 2
    try:
        config = load_config(args[0])
        from edgemem.distill.blockwise.run import run_worker  # torch

        run_worker(config, writer_from_environment() or SilentProgress())
    except EdgememError as exc:
        if os.environ.get("EDGEMEM_DEBUG") == "1":
            raise
        sys.stderr.write(f"edgemem: error: worker {os.environ.get('RANK', '?')}: {exc.one_line()}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
