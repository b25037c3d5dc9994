"""The command-line interface: the only package that imports typer.

Each command parses its flags (choices as Enums, sizes and durations by edgemem.units, so a bad
value is a usage error, exit 2), makes its library call, hands the result to the output layer
and returns an exit code. Commands are registered in app.py.
"""

from __future__ import annotations

from edgemem.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
