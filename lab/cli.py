"""The ``lab`` command line: a click group whose commands come from plugins.

Every command, the built-in ones included, is contributed through ``lab_register_commands``.
Expected failures (:class:`lab.errors.LabError`) print one line, ``lab: error: ...``, and exit
with their code (2 for bad names or arguments); anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import sys

import click

from lab import __version__
from lab.errors import LabError


def make_cli() -> click.Group:
    """The ``lab`` group with every registered command."""
    from lab.host import get_host

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="lab")
    def cli() -> None:
        """Build, benchmark and compare low-level systems; fuzz, profile and report on them."""

    for command in get_host().collect("lab_register_commands"):
        cli.add_command(command)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    try:
        make_cli().main(args=argv, prog_name="lab", standalone_mode=False)
    except LabError as exc:
        click.echo(f"lab: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("lab: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
