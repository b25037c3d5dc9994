"""The output layer: the only package that imports rich. Human tables and progress go to the
terminal (progress and errors on stderr), ``--json`` documents go to stdout as one document."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn


def terminal_width(stream) -> int:
    """$COLUMNS, else the width of the terminal ``stream`` is on, else 80 (a pipe or a file)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


class Output:
    """One sink per command: tables on stdout, talk on stderr, or a JSON document on stdout."""

    def __init__(self, json_mode: bool = False, quiet: bool = False, width: int | None = None) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.console = Console(width=width or terminal_width(sys.stdout), highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, width=width or terminal_width(sys.stderr), highlight=False)

    @property
    def interactive(self) -> bool:
        return not self.json_mode and not self.quiet and self.err.is_terminal and not os.environ.get("EDGEMEM_NO_PROGRESS")

    def emit_json(self, document: dict) -> None:
        sys.stdout.write(json.dumps(document, indent=2, default=_json_default) + "\n")
        sys.stdout.flush()

    def info(self, text: str) -> None:
        if not self.quiet and not self.json_mode:
            self.err.print(text, markup=False)

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        if self.interactive:
            with self.err.status(text):
                yield
        else:
            yield

    @contextlib.contextmanager
    def progress(self, description: str, total: float | None = None) -> Iterator["ProgressHandle"]:
        """A progress bar on stderr (silent under --json or when stderr is not a terminal)."""
        if not self.interactive:
            yield ProgressHandle(None, None)
            return
        columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(bar_width=16),
                   TextColumn("{task.fields[info]}"), TimeRemainingColumn()]  # one line in 80 columns
        with Progress(*columns, console=self.err, transient=False) as progress:
            task = progress.add_task(description, total=total, info="")
            yield ProgressHandle(progress, task)


class ProgressHandle:
    def __init__(self, progress, task) -> None:
        self._progress = progress
        self._task = task

    def update(self, advance: float = 0, total: float | None = None, description: str | None = None, info: str | None = None, completed: float | None = None) -> None:
        if self._progress is None:
            return
        kwargs = {"advance": advance}
        if total is not None:
            kwargs["total"] = total
        if description is not None:
            kwargs["description"] = description
        if info is not None:
            kwargs["info"] = info
        if completed is not None:
            kwargs["completed"] = completed
        self._progress.update(self._task, **kwargs)


def print_error(message: str) -> None:
    """One line on stderr, never wrapped."""
    sys.stderr.write(f"edgemem: error: {' '.join(message.split())}\n")
    sys.stderr.flush()


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
