"""Start-up cost: a command pays only for the libraries it uses.

Every billbridge command is a new process, so what the CLI imports before it does anything is
paid by each `export`, `plan` and `runs`, including an export with nothing due. The sandbox's
web stack belongs to `billbridge sandbox` (and the demo); Alembic to a store an older
billbridge left, which needs a migration.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.store import Store

HEAVY = ("billbridge.sandbox", "fastapi", "uvicorn", "starlette", "alembic", "sqlalchemy")


def loaded_after(code: str) -> set[str]:
    """The HEAVY modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(ran.stdout.splitlines()[-1])
    return {name for name in HEAVY if name in modules}


def test_the_cli_and_a_current_store_import_no_web_server_and_no_alembic(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store(url).close()  # created and migrated here, so the probe opens a current store
    code = (
        "import billbridge.cli, billbridge.export.engine, billbridge.render\n"
        f"from billbridge.store import Store\nStore({url!r}).close()"
    )
    assert loaded_after(code) == {"sqlalchemy"}


def test_the_import_commands_start_reading_before_sqlalchemy_is_loaded() -> None:
    # `import partner-center` opens the store in a thread while polars reads the file (which
    # releases the GIL), so SQLAlchemy's import is hidden behind the reading too
    assert loaded_after("import billbridge.cli, billbridge.importing") == set()


def test_a_new_store_is_created_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    code = f"from billbridge.store import Store\nStore({url!r}).close()"
    assert loaded_after(code) == {"sqlalchemy"}
    with Store(url).transaction() as uow:
        assert uow.connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def test_the_sandbox_command_is_still_there() -> None:
    result = CliRunner().invoke(app, ["sandbox", "--help"])
    assert result.exit_code == 0, result.output
    assert "--latency-ms" in result.output
    assert "approve-and-post" in result.output
    listed = CliRunner().invoke(app, ["--help"])
    assert "sandbox" in listed.output


def billbridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billbridge", *args], capture_output=True, text=True, timeout=60
    )


def test_the_process_leaves_with_the_commands_status_and_all_it_printed(tmp_path: Path) -> None:
    # The CLI leaves without tearing the interpreter down (os._exit): what it printed to a
    # pipe must still arrive, and the exit status must be the command's.
    config = tmp_path / "billbridge.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "state.db"}"\n')
    helped = billbridge("--help")
    assert helped.returncode == 0
    assert helped.stdout.rstrip().endswith("web admin and daily check")
    missing = tmp_path / "missing.csv"
    refused = billbridge("--config", str(config), "import", "organizations", str(missing))
    assert refused.returncode == 2
    assert f"{missing}: cannot be read" in refused.stderr
    assert "nothing was imported" in refused.stderr
    listed = billbridge("--config", str(config), "runs", "--json")
    assert listed.returncode == 0
    assert json.loads(listed.stdout) == {"runs": []}
