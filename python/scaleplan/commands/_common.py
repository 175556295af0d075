"""What every subcommand shares: how it is added to the parser, and how errors become exit 2
with a one-line message naming the option."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaleplan.catalog import Model, register_model
from scaleplan.commands._parse import UsageError
from scaleplan.errors import CatalogError, ScaleplanError

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = Any

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_INFEASIBLE = 1
EXIT_USAGE = 2


def option_name(field: str) -> str:
    """The command-line option of a façade argument: ``gen_tokens`` -> ``--gen-tokens``."""
    return "--" + field.replace("_", "-")


def describe(
    exc: ScaleplanError,
    options: Mapping[str, str] | None = None,
    known: Collection[str] | None = None,
) -> str:
    """The one-line message of a façade error, built from its data (docs/limits.md, "Errors"):
    the option the field came from (``gen_tokens`` -> ``--gen-tokens``; ``options`` overrides
    the default rule), the file and row of an input file. A field with no such option among
    ``known`` (the command's options; a model's ``head_dim`` read from a catalog file) keeps its
    own name: no message names an option the command does not have. A batch element index is
    not shown: it indexes the flattened grid, which the user never sees, and the reason already
    quotes the offending value."""
    if isinstance(exc, CatalogError):
        return exc.message  # "catalog <file>: [<entry>: <field>: ]<reason>"
    reason = exc.reason
    field = exc.field
    if exc.file is not None:
        # A column of an input file: name it as the file does ("rows.n" is column n).
        where = f"{exc.file} row {exc.row}" if exc.row is not None else exc.file
        column = field.removeprefix("rows.")
        return (
            f"{where}: {column}: {reason}" if field and column != "rows" else f"{where}: {reason}"
        )
    if not field:
        return reason
    option = (options or {}).get(field)
    if option is None:
        option = option_name(field)
        if known is not None and option not in known:
            option = field
    return f"{option}: {reason}"


def fail(message: str) -> int:
    print(f"scaleplan: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def guarded(options: Mapping[str, str] | None = None) -> Callable[[Handler], Handler]:
    """Run a command: malformed values and façade errors print one line and exit 2; a closed
    pipe (``| head``) ends quietly. ``options`` maps façade field names to option names where the
    default ``--field-name`` rule does not hold; a handler may add ``args.option_map`` too."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def run(args: argparse.Namespace) -> int:
            try:
                add_model_configs(getattr(args, "model_config", None) or [])
                return handler(args)
            except UsageError as exc:
                return fail(str(exc))
            except ScaleplanError as exc:
                mapping = {**(options or {}), **getattr(args, "option_map", {})}
                parser = getattr(args, "command_parser", None)
                known = None if parser is None else set(parser._option_string_actions)
                return fail(describe(exc, mapping, known))
            except BrokenPipeError:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                return EXIT_OK

        return run

    return wrap


def add_command(
    sub: Subparsers, name: str, *, help: str, examples: list[str], description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with examples."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # So that an error names only options this command has (see describe).
    parser.set_defaults(command_parser=parser)
    parser.add_argument(
        "--model-config",
        action="append",
        metavar="[NAME=]PATH",
        help="read a Hugging Face config.json as a model named NAME (default: the name of the "
        "folder holding config.json, else the file's stem, lowercased) and add it to the catalog "
        "for this command, so --model/--models can name it; repeatable",
    )
    return parser


def add_model_configs(specs: list[str]) -> None:
    """Register each ``[NAME=]PATH`` of ``--model-config`` in the process-wide catalog."""
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path = spec
            file = Path(path)
            name = file.parent.resolve().name if file.name == "config.json" else file.stem
            name = "-".join(name.lower().split())
        try:
            register_model(Model.from_hf_config(path, name=name))
        except ScaleplanError as exc:
            message = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
            where = f"{spec}: {exc.field}" if exc.field and exc.field != "config" else spec
            raise UsageError("--model-config", f"{where}: {message}") from None


def add_format_options(parser: argparse.ArgumentParser, *, what: str = "rows") -> None:
    """``--json`` / ``--csv`` (a human table when neither is given)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--json",
        action="store_true",
        help=f"JSON lines, one object per {what.rstrip('s')}; field names are the Python API's, "
        "numbers in SI base units; infinite or not-applicable values are null",
    )
    group.add_argument(
        "--csv", action="store_true", help="CSV with a header row, the same fields as --json"
    )


def output_format(args: argparse.Namespace) -> str:
    return "json" if args.json else "csv" if args.csv else "table"
