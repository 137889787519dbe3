"""The layering of docs/design.md, enforced: the FAQ's rules in domain/, Autotask's HTTP in
autotask/, the sandbox on its own, and nothing of either where it does not belong.

Every top-level module and package of billbridge has a rule; a new one fails the suite until it
is given one here (and in docs/design.md's table), so that no module grows dependencies unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "billbridge"


def top_level_modules() -> set[str]:
    """The names of billbridge's top-level modules and packages, as found on disk."""
    found = {path.stem for path in PACKAGE.glob("*.py")}
    found |= {
        path.name
        for path in PACKAGE.iterdir()
        if path.is_dir() and any(path.rglob("*.py")) and path.name != "__pycache__"
    }
    return found


EVERYTHING = frozenset(top_level_modules())

# What each module may import of billbridge, besides itself (docs/design.md "The shape"). `config`
# (the settings model) is allowed where the orchestration reads settings. A rule for a module
# that another branch is adding (microsoft/) is harmless here and ready when it lands.
ALLOWED: dict[str, frozenset[str]] = {
    "__init__": frozenset(),
    "__main__": frozenset({"cli"}),
    "domain": frozenset(),
    "sources": frozenset({"domain"}),
    "store": frozenset({"domain"}),
    "autotask": frozenset(),
    "sandbox": frozenset(),
    # The Microsoft client streams into the Partner Center reader; nothing of Autotask.
    "microsoft": frozenset({"sources", "domain", "hosts"}),
    # What a URL's host may look like: config checks URLs by it, microsoft/ redacts them.
    "hosts": frozenset(),
    "config": frozenset({"domain", "hosts"}),
    "importing": frozenset({"sources", "store", "domain"}),
    "export": frozenset({"domain", "store", "autotask", "config"}),
    # The CLI's tables and lines: what a run did, never how it was done.
    "render": frozenset({"domain", "export", "store"}),
    "money_render": frozenset({"domain", "export", "store"}),
    "cli_help": frozenset(),
    # Pulling from Microsoft: the orchestration around microsoft/, as export/ is around autotask/.
    "pulling": frozenset({"config", "importing", "microsoft", "sources", "store", "domain"}),
    "preview": frozenset({"config", "microsoft", "pulling", "sources", "domain"}),
    "pull_output": frozenset(
        {"config", "microsoft", "preview", "pulling", "render", "store", "domain"}
    ),
    # The daily check of `serve` pulls before it exports.
    "web": frozenset({"export", "store", "domain", "config", "pulling"}),
    # The demo drives the product end to end, as the CLI does, but has no pages of its own.
    "demo": EVERYTHING - {"cli", "web", "__main__", "__init__"} | {"microsoft"},
    "cli": EVERYTHING | {"microsoft"},
}


def billbridge_imports(path: Path) -> set[str]:
    """The top-level billbridge modules a file imports (`billbridge.store.runs` -> `store`)."""
    return imports_in(path.read_text(encoding="utf-8"), importer_of(path))


def importer_of(path: Path) -> list[str]:
    """The package a file's relative imports start from: `store/runs.py` -> `billbridge.store`."""
    parts = ["billbridge", *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1]


def imports_in(text: str, importer: list[str]) -> set[str]:
    """The top-level billbridge modules `text` imports, relative imports taken from `importer`.

    Counts imports anywhere (inside functions too: a lazy import is still a dependency) and
    `from billbridge import store`.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = importer[: len(importer) - node.level + 1] if node.level else []
            absolute = base + (node.module.split(".") if node.module else [])
            if absolute == ["billbridge"]:
                names = [f"billbridge.{alias.name}" for alias in node.names]
            else:
                names = [".".join(absolute)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "billbridge" and len(parts) > 1 and parts[1] in EVERYTHING:
                found.add(parts[1])
    return found


def files_of(module: str) -> list[Path]:
    root = PACKAGE / module
    return sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{module}.py"]


def test_every_module_has_a_rule() -> None:
    missing = sorted(EVERYTHING - set(ALLOWED))
    assert not missing, (
        f"billbridge modules without a layering rule: {missing}; say in ALLOWED (and in"
        " docs/design.md) what each may import"
    )


@pytest.mark.parametrize("module", sorted(EVERYTHING))
def test_layers_import_only_what_design_md_allows(module: str) -> None:
    allowed = ALLOWED.get(module, frozenset())
    wrong = {
        f"{path.relative_to(PACKAGE)} imports billbridge.{imported}"
        for path in files_of(module)
        for imported in billbridge_imports(path) - allowed - {module}
    }
    assert not wrong, sorted(wrong)


def test_the_checker_sees_imports_in_every_form() -> None:
    text = """
import billbridge.sandbox.app
from billbridge import web
from ..render import x
from . import apply
from .engine import y


def later():
    from billbridge.importing import z
"""
    found = imports_in(text, importer_of(PACKAGE / "export" / "engine.py"))
    assert found == {"sandbox", "web", "render", "export", "importing"}
    assert imports_in("from . import cli", importer_of(PACKAGE / "__main__.py")) == {"cli"}


def test_the_domain_does_no_io_and_reads_no_clock() -> None:
    banned = {"httpx", "sqlalchemy", "os", "pathlib", "time", "logging", "threading"}
    for path in (PACKAGE / "domain").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not imported & banned, f"{path.name} imports {imported & banned}"
        assert "datetime.now" not in text and "date.today" not in text, path.name
