"""The layering of DESIGN.md, enforced: the FAQ's rules in domain/, Autotask's HTTP in
autotask/, the sandbox on its own, and nothing of either where it does not belong."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "billbridge"

# What each package may import of billbridge, besides itself (DESIGN.md "The shape"). `config`
# (the settings model) is allowed where the orchestration reads settings.
ALLOWED = {
    "domain": set(),
    "sources": {"domain"},
    "store": {"domain"},
    "autotask": set(),
    "sandbox": set(),
    "export": {"domain", "store", "autotask", "config"},
    "web": {"export", "store", "domain", "config", "pulling"},  # the daily check pulls first
    "config": {"domain"},
    "microsoft": {"sources", "domain"},
}


def billbridge_imports(path: Path) -> set[str]:
    """The top-level billbridge modules a file imports (`billbridge.store.runs` -> `store`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "billbridge" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layers_import_only_what_design_md_allows(package: str) -> None:
    root = PACKAGE / package
    files = sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{package}.py"]
    assert files
    wrong = {
        f"{path.relative_to(PACKAGE)} imports billbridge.{module}"
        for path in files
        for module in billbridge_imports(path) - ALLOWED[package] - {package}
    }
    assert not wrong, sorted(wrong)


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
