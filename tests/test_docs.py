"""Executable documentation: every ```python block of README.md and docs/*.md runs, and module doctests pass."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks() -> list[tuple[str, int, str]]:
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for k, match in enumerate(BLOCK.finditer(text)):
            out.append((page.relative_to(ROOT).as_posix(), k, match.group(1)))
    return out


@pytest.mark.parametrize(("page", "index", "code"), python_blocks(), ids=lambda v: str(v)[:40])
def test_python_blocks_run(page: str, index: int, code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": f"doc_{index}", "TMP": tmp_path}
    exec(compile(code, f"{page}[{index}]", "exec"), namespace)


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
