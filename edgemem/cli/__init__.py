"""The command-line interface: the only package that imports typer.

Each command parses its flags into a config dataclass, makes one library call, hands the
result to the output layer and returns an exit code. Heavy imports live inside the commands.
"""

from __future__ import annotations

import typer

from edgemem.cli.app import app
from edgemem.cli import analyze as _analyze  # noqa: F401  (registers the command)
from edgemem.cli import distill as _distill  # noqa: F401
from edgemem.cli import bench as _bench  # noqa: F401

__all__ = ["app", "main"]


def main() -> None:
    app()
