#!/usr/bin/env python3
"""Set-up and entry points that need nothing but Python 3.11.

    python3 tasks.py demo    # create .venv, install distsim, simulate scenarios/paper.yaml
    python3 tasks.py test    # create .venv, install distsim with test tools, run every check (below) and pytest
    python3 tasks.py check   # the static checks alone: ruff, ruff format --check, complexity ceiling, mypy
    python3 tasks.py bench   # create .venv, run the benchmark suite

``test`` runs, in order, stopping at the first failure: ``ruff check``;
``ruff format --check``; the complexity ceiling (ruff's C901 at the
``max-complexity`` of pyproject.toml, every function over it listed with its
reason under ``[tool.distsim.complexity-exceptions]``); ``mypy`` (with the
pydantic plugin, over ``distsim/`` and what it imports); then pytest with
coverage of ``distsim/`` and the floor ``fail_under`` of
``[tool.coverage.report]``. The import-contract test is part of pytest
(``tests/test_import_contract.py``). Arguments after ``test`` go to pytest.

The virtual environment is rebuilt only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def _python() -> str:
    return str(BIN / "python")


def ensure_venv() -> None:
    """Create .venv and install distsim with its test extras, once per pyproject.toml version."""
    if sys.version_info < (3, 11):  # noqa: UP036  # tasks.py may be started by an older python3
        sys.exit(f"distsim needs Python >= 3.11, this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing distsim and its dependencies into .venv ...", flush=True)
    subprocess.run([_python(), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([_python(), "-m", "pip", "install", "--quiet", "-e", ".[test]"], check=True, cwd=ROOT)
    STAMP.write_text(digest)


def run(*args: str) -> int:
    return subprocess.run(list(args), cwd=ROOT).returncode


#: What the static checks look at.
LINTED = ("distsim", "tests", "benchmarks", "examples", "tasks.py")


def complexity() -> int:
    """Fail when a function is over the ceiling and not a listed exception, or an exception is stale."""
    import tomllib  # here, not at the top: the version check above must run on any Python 3

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ceiling = config["tool"]["ruff"]["lint"]["mccabe"]["max-complexity"]
    allowed: dict[str, str] = config["tool"]["distsim"]["complexity-exceptions"]
    out = subprocess.run(
        [str(BIN / "ruff"), "check", "--select", "C901", "--output-format", "json", "--exit-zero", *LINTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, str] = {}
    for item in json.loads(out.stdout):
        function = item["message"].split("`")[1]
        key = f"{Path(item['filename']).resolve().relative_to(ROOT).as_posix()}::{function}"
        found[key] = item["message"]
    status = 0
    for key in sorted(set(found) - set(allowed)):
        print(f"complexity: {key}: {found[key]}; split it, or list it with a reason under", end=" ")
        print("[tool.distsim.complexity-exceptions] in pyproject.toml")
        status = 1
    for key in sorted(set(allowed) - set(found)):
        print(f"complexity: {key} is listed as an exception but is not over {ceiling} (any more): remove the entry")
        status = 1
    return status


def check() -> int:
    """The static checks, in order, stopping at the first that fails."""
    steps = (
        lambda: run(str(BIN / "ruff"), "check", *LINTED),
        lambda: run(str(BIN / "ruff"), "format", "--check", *LINTED),
        complexity,
        lambda: run(str(BIN / "mypy")),
    )
    for step in steps:
        status = step()
        if status != 0:
            return status
    return 0


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "test"
    rest = argv[1:]
    ensure_venv()
    if task == "demo":
        return run(str(BIN / "distsim"), "run", "scenarios/paper.yaml", *rest)
    if task == "check":
        return check()
    if task == "test":
        status = check()
        if status != 0:
            return status
        return run(_python(), "-m", "pytest", "--cov=distsim", "--cov-report=term:skip-covered", *rest)
    if task == "bench":
        return run(_python(), "-m", "distsim.benchmarks", *rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
