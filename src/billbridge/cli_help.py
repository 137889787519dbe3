"""How `billbridge ... --help` reads: usage lines as a person writes them, commands in the
order they are used, and examples.

Typer's own help shows Python types (`<list[Path]>`, `<int>`) and odd brackets
(`{FILE...}...`, `[[REPORT_ID]...]...`); these classes format click's parameters themselves.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

# Typer carries its own copy of click; its commands and parameters are of that copy's classes.
from typer import _click as click
from typer.core import TyperCommand, TyperGroup

COMMAND_ORDER = (
    "demo",
    "sandbox",
    "import",
    "pull",
    "map",
    "doctor",
    "plan",
    "export",
    "runs",
    "attention",
    "reconcile",
    "serve",
)
"""The order of use: try it, set up, check, plan, export, look back, run it as a service.
Commands not named here follow in the order they were added."""

_TYPE_LABEL = re.compile(r"<[^<>]*>")
_RANGE = re.compile(r"(?:;\s*|(?<=\[))(?:-?[\d.]+<=?)?x(?:[<>]=?-?[\d.]+)?(?=[;\]])")


def argument_usage(param: click.Parameter) -> str:
    """`FILE...`, `[REPORT_ID...]`, `[RUN]`: what a person writes in a usage line."""
    name = (param.metavar or (param.name or "").upper()).strip("[]{}").removesuffix("...")
    name = name.strip("[]{}")
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


def _option_record(param: click.Parameter, ctx: click.Context) -> tuple[str, str] | None:
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names, text = record
    text = _RANGE.sub("", text).replace("[; ", "[").replace("[]", "").rstrip()
    # A value named by its Python type (`<int>`) is named by the option instead: `--port PORT`.
    placeholder = (param.name or "value").upper()
    return _TYPE_LABEL.sub(placeholder, names), text


def _write_examples(formatter: click.HelpFormatter, epilog: str | None) -> None:
    """The epilog verbatim: example command lines must not be rewrapped."""
    if not epilog:
        return
    lines = epilog.strip("\n").splitlines()
    formatter.write_paragraph()
    if lines and lines[0].endswith(":") and not lines[0].startswith(" "):
        formatter.write_text(lines[0])
        lines = lines[1:]
    for line in lines:
        formatter.write(f"{'':>{formatter.current_indent}}  {line}\n" if line else "\n")


class PlainCommand(TyperCommand):
    """A command whose help names its arguments as a person would, without Python types."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces += [argument_usage(p) for p in self.get_params(ctx) if _is_argument(p)]
        return pieces

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_parameters(self, ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _write_examples(formatter, self.epilog)


class PlainGroup(TyperGroup):
    """A command group that lists its commands in the order of use, each with its first line of
    help in full, and gives its commands (other helpers' too) the same plain help."""

    lazy_commands: tuple[str, ...] = ()
    """Commands a subclass's `get_command` imports only when asked for (listed all the same)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return plain(command) if command is not None else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [*self.commands, *self.lazy_commands]
        known = [n for n in COMMAND_ORDER if n in names]
        return known + [n for n in names if n not in COMMAND_ORDER]

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces += [argument_usage(p) for p in self.get_params(ctx) if _is_argument(p)]
        return [*pieces, "COMMAND ..."]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_parameters(self, ctx, formatter)
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, first_line(command)))
        if rows:
            with formatter.section("Commands"):
                write_dl(formatter, rows, col_max=16)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _write_examples(formatter, self.epilog)


def plain(command: click.Command) -> click.Command:
    """Typer builds each command with its default class: the same state, with plainer help."""
    if type(command) is TyperCommand:
        command.__class__ = PlainCommand
    elif type(command) is TyperGroup:
        command.__class__ = PlainGroup
    return command


def first_line(command: click.Command) -> str:
    """The command's short help, or the first sentence of its help, never cut short."""
    if command.short_help:
        return command.short_help
    text = (command.help or "").strip().split("\n\n")[0]
    return " ".join(text.split())


def write_dl(
    formatter: click.HelpFormatter, rows: Sequence[tuple[str, str]], *, col_max: int
) -> None:
    """Two columns like click's, except that text wraps only at spaces (click splits
    `YYYY-MM-DD` at a hyphen)."""
    indent = " " * formatter.current_indent
    first = min(max((len(name) for name, _ in rows), default=0), col_max)
    width = max((formatter.width or 80) - len(indent) - first - 2, 20)
    for name, text in rows:
        wrapped = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
        if len(name) > first:
            formatter.write(f"{indent}{name}\n")
            lines = wrapped
        else:
            formatter.write(f"{indent}{name:<{first}}  {wrapped[0]}".rstrip() + "\n")
            lines = wrapped[1:]
        for line in lines:
            formatter.write(f"{indent}{'':<{first}}  {line}\n")


def _is_argument(param: click.Parameter) -> bool:
    return param.param_type_name == "argument"


def _format_parameters(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    params: Sequence[click.Parameter] = command.get_params(ctx)
    arguments = [
        (argument_usage(p), getattr(p, "help", None) or "")
        for p in params
        if _is_argument(p) and not getattr(p, "hidden", False)
    ]
    options = [
        record
        for p in params
        if p.param_type_name == "option"
        if (record := _option_record(p, ctx)) is not None
    ]
    if arguments:
        with formatter.section("Arguments"):
            write_dl(formatter, arguments, col_max=20)
    if options:
        with formatter.section("Options"):
            write_dl(formatter, options, col_max=24)
