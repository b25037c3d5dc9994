"""The typer application and the error handling every command shares."""

from __future__ import annotations

import functools
import os
import sys

import typer

from edgemem import __version__

EXIT_CODES_HELP = (
    "Exit codes: 0 ok (and within budget when one was given); 1 a known error (one line on stderr, "
    "traceback only with EDGEMEM_DEBUG=1); 2 usage error; 3 ran fine but over budget."
)

app = typer.Typer(
    name="edgemem",
    help="Get neural networks onto memory-starved edge devices and prove they fit.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgemem {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """edgemem: analyze, distill and bench neural networks for edge devices."""


def handles_errors(command):
    """Turn EdgememError into one line on stderr and its exit code; anything else too, unless EDGEMEM_DEBUG=1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from edgemem.errors import EdgememError, ExitCode
        from edgemem.output import print_error

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
