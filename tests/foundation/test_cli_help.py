"""`--help` reads as a person writes: usage without Python types, commands in the order of
use, examples, and every line within 80 columns."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from billbridge.cli import app

COMMANDS = [
    [],
    ["demo"],
    ["sandbox"],
    ["sandbox", "approve-and-post"],
    ["import"],
    ["import", "organizations"],
    ["import", "price-list"],
    ["import", "reports"],
    ["import", "partner-center"],
    ["map"],
    ["doctor"],
    ["plan"],
    ["export"],
    ["runs"],
    ["serve"],
]
PYTHON_TYPES = re.compile(r"<[a-z_\[\] ]+>|\b(?:TEXT|INTEGER|PATH|FLOAT)\b|\[\[|\{[A-Z_.]+\}")


def help_of(command: list[str]) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "billbridge")
def test_every_help_fits_80_columns_without_python_types(command: list[str]) -> None:
    text = help_of(command)
    assert text.startswith(f"Usage: billbridge {' '.join(command)}".rstrip() + " ")
    assert not PYTHON_TYPES.search(text), PYTHON_TYPES.search(text)
    assert all(len(line) <= 80 for line in text.splitlines()), text


def test_commands_are_listed_in_the_order_of_use_with_examples() -> None:
    text = help_of([])
    listed = re.findall(r"^  ([a-z-]+)  ", text.split("Commands:")[1].split("Examples:")[0], re.M)
    order = ["demo", "sandbox", "import", "map", "doctor", "plan", "export", "runs", "serve"]
    assert [name for name in listed if name in order] == order
    assert "  billbridge export --due            export what is due today" in text


def test_usage_lines_name_the_arguments_plainly() -> None:
    assert "Usage: billbridge plan [OPTIONS] [REPORT_ID...]\n" in help_of(["plan"])
    assert "Usage: billbridge import reports [OPTIONS] FILE...\n" in help_of(["import", "reports"])
    assert "Usage: billbridge runs [OPTIONS] [RUN]\n" in help_of(["runs"])
    assert "Usage: billbridge map [OPTIONS] [ORG_ID] [COMPANY_ID]\n" in help_of(["map"])
    serve = help_of(["serve"])
    assert "--port PORT" in serve and "[default: 8080]" in serve and "<=" not in serve
    assert "--through YYYY-MM-DD " in help_of(["sandbox", "approve-and-post"])  # no cut at a hyphen


def test_a_port_out_of_range_is_refused_plainly() -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2 and "70000 is not a port (1 to 65535)" in result.output
