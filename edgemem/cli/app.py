"""The typer application: every command registered here, explicitly, with its help."""

from __future__ import annotations

import sys
from importlib import import_module

import typer
from typer.core import TyperGroup

from edgemem import __version__
from edgemem.errors import ExitCode
from edgemem.output import print_error

try:  # typer >= 0.2x carries its own click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on the real click
    from click import exceptions as click_errors

EXIT_CODES_HELP = (
    "Exit codes: 0 ok (and within budget when one was given); 1 a known error (one line on stderr, "
    "traceback only with EDGEMEM_DEBUG=1); 2 usage error; 3 ran fine but over budget."
)

COMMANDS = {  # name -> module holding the command function (of the same name) and its HELP
    "analyze": "edgemem.cli.analyze",
    "distill": "edgemem.cli.distill",
    "bench": "edgemem.cli.bench",
    "verify": "edgemem.cli.verify",
}


class OneLineErrors(TyperGroup):
    """click's usage errors (a bad flag value, a missing argument) as one line on stderr, exit 2.

    Commands are imported when they are looked up, so `edgemem analyze` never imports the
    modules (and their tables) of distill, bench and verify.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.commands)

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, cmd_name: str):
        return self.commands.get(cmd_name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click_errors.ClickException as exc:
            command = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "edgemem"
            print_error(f"{exc.format_message()} (see {command} --help)")
            code = exc.exit_code
        except typer.Abort:
            print_error("interrupted")
            code = 130
        code = int(code or ExitCode.OK) if isinstance(code, int) or code is None else ExitCode.OK
        if standalone_mode:
            sys.exit(code)
        return code


class LazyCommands(dict):
    """The group's name -> click command table, each of COMMANDS built on first lookup (listing
    the table builds them all), so code that reads ``group.commands`` sees every command."""

    def __missing__(self, name: str):
        if name not in COMMANDS:
            raise KeyError(name)
        self[name] = command(name)
        return dict.__getitem__(self, name)

    def get(self, name: str, default=None):
        return self[name] if name in self else default

    def __contains__(self, name) -> bool:
        return name in COMMANDS or dict.__contains__(self, name)

    def _all(self) -> None:
        for name in COMMANDS:
            self[name]  # noqa: B018 - builds it

    def __iter__(self):
        self._all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._all()
        return dict.__len__(self)

    def keys(self):
        self._all()
        return dict.keys(self)

    def values(self):
        self._all()
        return dict.values(self)

    def items(self):
        self._all()
        return dict.items(self)


app = typer.Typer(
    cls=OneLineErrors,
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


def command(name: str):
    """The click command of one of COMMANDS, built by typer from its module's function."""
    module = import_module(COMMANDS[name])
    single = typer.Typer(pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None)
    single.command(name, help=module.HELP)(getattr(module, name))
    return typer.main.get_command(single)
