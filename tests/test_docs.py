"""Executable documentation: every ```python block of README.md and docs/*.md runs, and module doctests pass."""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks() -> list[tuple[str, list[str]]]:
    """Per page, its python blocks in order."""
    out = []
    for page in PAGES:
        blocks = [match.group(1) for match in BLOCK.finditer(page.read_text(encoding="utf-8"))]
        if blocks:
            out.append((page.relative_to(ROOT).as_posix(), blocks))
    return out


@pytest.mark.parametrize(("page", "blocks"), python_blocks(), ids=lambda v: v if isinstance(v, str) else "")
def test_python_blocks_run(page: str, blocks: list[str], tmp_path: Path) -> None:
    """A page's blocks run as a reader pastes them: in order, into one fresh Python started at the
    repository root, with nothing defined beforehand (no injected names, no state from other pages)."""
    script = tmp_path / "page.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{page}:\n{done.stderr[-3000:]}"


def test_readme_has_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```bash\n(.*?)```", text, re.S)
    assert first is not None
    commands = [line for line in first.group(1).splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["python3 tasks.py demo", "python3 tasks.py test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "tasks.py test" in ci


def test_module_doctests(monkeypatch: pytest.MonkeyPatch) -> None:
    import distsim.run

    monkeypatch.chdir(ROOT)
    result = doctest.testmod(distsim.run, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
    assert os.path.exists(ROOT / "scenarios" / "quickstart.yaml")


def test_no_doc_points_outside_the_repository() -> None:
    """Docs are complete in the repository: no path to a file outside it, and every relative link resolves."""
    pages = [*PAGES, *(p for p in (ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md") if p.exists())]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for outside in ("../shared", "/work/", "shared/SPEC", "papers/distprivacy"):
            assert outside not in text, f"{page.name} cites {outside!r}"
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{page.name}: broken link {target}"


def test_the_paper_is_cited_in_full() -> None:
    for page in (ROOT / "README.md", ROOT / "docs" / "model.md"):
        text = " ".join(page.read_text(encoding="utf-8").split())
        for part in ("Baccour", "Erbad", "Mohamed", "Hamdi", "Guizani", "DistPrivacy: Privacy-Aware Distributed"):
            assert part in text, (page.name, part)
