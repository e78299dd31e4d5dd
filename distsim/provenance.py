"""Where a result came from: distsim's version, the git commit, dependency versions, input file hashes.

Every run and sweep folder records :func:`provenance` in its manifest, so a
referee can tell which code and which inputs produced it. The resume key of a
sweep run (:func:`distsim.experiments.runner.task_key`) includes
:func:`distsim_version` and the SHA-256 of every file the run reads, so a
changed table or a new release never reuses a stale result.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from distsim.io import sha256_file

#: Distributions whose versions every manifest records (those absent are left out).
DEPENDENCIES = (
    "simpy",
    "numpy",
    "networkx",
    "pydantic",
    "pyyaml",
    "matplotlib",
    "ortools",
    "numba",
    "scipy",
    "pandas",
    "pyarrow",
    "dask",
    "distributed",
    "gymnasium",
)


@functools.cache
def distsim_version() -> str:
    """The installed distsim version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return metadata.version("distsim")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def package_versions() -> dict[str, str]:
    """Versions of distsim, Python and the dependencies that are installed."""
    out = {"distsim": distsim_version(), "python": platform.python_version()}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@functools.cache
def git_commit() -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the checkout distsim's code is imported from, or None.

    None when distsim is not imported from a git checkout (an installed wheel)
    or git is unavailable. ``dirty`` is True when tracked files differ from the
    commit, so the commit alone does not reproduce the code.
    """
    here = Path(__file__).resolve().parent
    if not any((parent / ".git").exists() for parent in (here, *here.parents)):
        return None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())} if commit else None


def file_record(path: str | Path) -> dict[str, Any]:
    """``{"path": absolute path, "sha256": hex}`` of an input file."""
    resolved = Path(path).resolve()
    return {"path": str(resolved), "sha256": sha256_file(resolved)}


def provenance(seed: int | None, inputs: dict[str, str | Path]) -> dict[str, Any]:
    """What a manifest records: versions, git commit, seed and ``{role: {"path", "sha256"}}`` of the inputs read."""
    return {
        "distsim_version": distsim_version(),
        "git": git_commit(),
        "versions": package_versions(),
        "seed": seed,
        "inputs": {role: file_record(path) for role, path in sorted(inputs.items())},
    }
