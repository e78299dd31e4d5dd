#!/usr/bin/env python3
"""Set-up and entry points that need nothing but Python 3.11.

    python3 tasks.py demo    # create .venv, install distsim, simulate scenarios/paper.yaml
    python3 tasks.py test    # create .venv, install distsim with test tools, run ruff and pytest
    python3 tasks.py bench   # create .venv, run the benchmark suite

The virtual environment is rebuilt only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
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
    if sys.version_info < (3, 11):
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


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "test"
    rest = argv[1:]
    ensure_venv()
    if task == "demo":
        return run(str(BIN / "distsim"), "run", "scenarios/paper.yaml", *rest)
    if task == "test":
        status = run(str(BIN / "ruff"), "check", "distsim", "tests", "benchmarks")
        if status != 0:
            return status
        return run(_python(), "-m", "pytest", *rest)
    if task == "bench":
        return run(_python(), "-m", "distsim.benchmarks", *rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
