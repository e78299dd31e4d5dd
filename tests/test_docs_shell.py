"""Executable documentation, shell part: every ```bash / ```sh block of README.md and docs/*.md runs as pasted.

A page's shell blocks run in order, each with ``bash -euo pipefail``, in one
temporary copy of the repository (the files git tracks, or the working tree
without results and caches when git is missing), with the virtual environment
that runs the tests linked in as ``.venv`` and its ``bin`` first on ``PATH``, so
both ``distsim ...`` and ``.venv/bin/distsim ...`` work as they do for a reader
at the repository root. Nothing is injected and nothing in the commands is
rewritten.

A block that cannot run here says so in the page, on the line just above its
fence, with an HTML comment (invisible on GitHub) that must give a reason:

- ``<!-- docs-test: slow REASON -->``: runs only when ``DISTSIM_DOCS_SLOW=1``
  (long sweeps and benchmarks; the default suite stays fast). Skipped
  otherwise, with the reason in the skip message.
- ``<!-- docs-test: skip REASON -->``: never runs (it needs the network, a
  placeholder stands for the reader's own file or package, or it is the test
  command itself).

Any other ``docs-test`` comment, or one without a reason, fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(bash|sh|shell)[ \t]*\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!--\s*docs-test:(.*?)-->", re.S)
MODES = ("slow", "skip")
#: Folders of the working tree a copy leaves out when git is not available.
NOT_COPIED = {".git", ".venv", "results", "build", "dist", ".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__"}


@dataclass(frozen=True)
class Block:
    """One shell block of a page.

    Attributes:
        page: the page, relative to the repository root.
        line: 1-based line of the opening fence.
        code: the block's text.
        mode: "run", "slow" or "skip".
        reason: why the block is slow or skipped ("" for "run").
    """

    page: str
    line: int
    code: str
    mode: str
    reason: str


def _marker_before(text: str, start: int) -> tuple[str, str]:
    """The (mode, reason) of the marker on the last non-blank line before offset ``start``, else ("run", "")."""
    lines = text[:start].rstrip("\n").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    found = MARKER.fullmatch(lines[-1].strip()) if lines else None
    if found is None:
        return "run", ""
    mode, _, reason = found.group(1).strip().partition(" ")
    return mode, reason.strip()


def shell_blocks() -> list[Block]:
    """Every shell block of every page, in page order."""
    blocks = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            mode, reason = _marker_before(text, match.start())
            line = text.count("\n", 0, match.start()) + 1
            blocks.append(Block(page.relative_to(ROOT).as_posix(), line, match.group(2), mode, reason))
    return blocks


def test_every_marker_is_known_has_a_reason_and_sits_on_a_block() -> None:
    blocks = shell_blocks()
    assert blocks, "no shell blocks found"
    for block in blocks:
        assert block.mode == "run" or (block.mode in MODES and block.reason), (block.page, block.line, block.mode)
    marked = {(b.page, b.line) for b in blocks if b.mode != "run"}
    count = sum(len(MARKER.findall(page.read_text(encoding="utf-8"))) for page in PAGES)
    assert count == len(marked), "a docs-test marker that is not just above a shell block"


def test_the_marker_grammar_can_fail() -> None:
    text = "<!-- docs-test: skip needs a cluster -->\n\n```bash\nx\n```\n"
    assert _marker_before(text, text.index("```")) == ("skip", "needs a cluster")
    assert _marker_before("<!-- docs-test: slowly -->\n```", 27) == ("slowly", "")
    assert _marker_before("text\n```", 5) == ("run", "")


def copy_repository(dest: Path) -> Path:
    """A copy of the repository at ``dest`` (tracked files), with ``.venv`` linked to the running environment."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            source = ROOT / name
            if name and source.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
    else:
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*NOT_COPIED), dirs_exist_ok=True)
    (dest / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return dest


def _env() -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def copies() -> dict[str, Path]:
    """One repository copy per page, shared by that page's blocks (a later block may use an earlier one's output)."""
    return {}


@pytest.mark.parametrize("block", shell_blocks(), ids=lambda b: f"{b.page}:{b.line}")
def test_shell_block_runs_as_pasted(
    block: Block, copies: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if block.mode == "skip":
        pytest.skip(f"docs-test: skip: {block.reason}")
    if block.mode == "slow" and os.environ.get("DISTSIM_DOCS_SLOW") != "1":
        pytest.skip(f"docs-test: slow: {block.reason} (DISTSIM_DOCS_SLOW=1 runs it)")
    if block.page not in copies:
        copies[block.page] = copy_repository(tmp_path_factory.mktemp("repo"))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=copies[block.page],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=3600 if block.mode == "slow" else 300,
    )
    assert done.returncode == 0, f"{block.page}:{block.line} exited {done.returncode}:\n{done.stderr[-3000:]}"
