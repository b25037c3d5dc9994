"""The error handling every command shares: exit codes and one-line errors."""

from __future__ import annotations

import functools
import os
import sys

import typer

from edgemem.errors import EdgememError, ExitCode
from edgemem.output import print_error


def handles_errors(command):
    """Turn EdgememError into one line on stderr and its exit code; anything else too, unless EDGEMEM_DEBUG=1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            code = command(*args, **kwargs)
        except typer.Exit:
            raise
        except EdgememError as exc:
            if os.environ.get("EDGEMEM_DEBUG") == "1":
                raise
            print_error(exc.one_line())
            raise typer.Exit(code=int(exc.exit_code)) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(code=130) from None
        except MemoryError:
            print_error("out of memory on this machine while running the command")
            raise typer.Exit(code=int(ExitCode.ERROR)) from None
        except Exception as exc:  # a bug: still one line, with the way to get the traceback
            if os.environ.get("EDGEMEM_DEBUG") == "1":
                raise
            print_error(f"internal error: {type(exc).__name__}: {exc} (run with EDGEMEM_DEBUG=1 for the traceback and report it)")
            raise typer.Exit(code=int(ExitCode.ERROR)) from None
        sys.stdout.flush()
        raise typer.Exit(code=int(code or 0))

    return wrapper
