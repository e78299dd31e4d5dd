"""Strict JSON everywhere (issue 17.4): every JSON file distsim writes parses with a strict parser.

The commands below produce every JSON output distsim has: a run folder
(``summary.json``, ``manifest.json``), ``--trace`` (Chrome trace JSON),
``--placements`` (JSON lines), a sweep folder (``sweep.json``, ``runs/*.json``
and any manifest), and a saved policy file. Each file is parsed with
:func:`strict_loads`, which refuses the non-standard tokens ``NaN``,
``Infinity`` and ``-Infinity`` that Python's ``json`` writes and reads by
default. The runs include the cases where a value is undefined (a run that
served nothing has no latency statistics), which must be ``null``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from distsim.cli import main
from tests.conftest import scenario_dict


def _refuse(token: str) -> Any:
    raise ValueError(f"non-standard JSON token {token}")


def strict_loads(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and ``-Infinity``."""
    return json.loads(text, parse_constant=_refuse)


def strict_file(path: Path) -> list[Any]:
    """Every JSON document of ``path``: one, or one per line for JSON lines."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl" or path.name.startswith("placements"):
        return [strict_loads(line) for line in text.splitlines() if line.strip()]
    return [strict_loads(text)]


def test_the_strict_parser_refuses_the_tokens() -> None:
    for bad in ('{"a": NaN}', "[Infinity]", '{"b": -Infinity}'):
        with pytest.raises(ValueError, match="non-standard"):
            strict_loads(bad)
    assert strict_loads('{"a": null, "b": 1e308}') == {"a": None, "b": 1e308}


def _write(path: Path, data: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 0, err


def test_every_json_output_is_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    served = _write(tmp_path / "served.yaml", {**scenario_dict(), "simulation": {"seed": 3, "timing": "contention"}})
    # One participant cannot take any request: every latency statistic of the run is undefined.
    starved = _write(tmp_path / "starved.yaml", scenario_dict(participants={"total": 1}))
    trace, placements = str(tmp_path / "trace.json"), str(tmp_path / "placements.jsonl")
    _run(["run", served, "--out", str(tmp_path / "run"), "--trace", trace, "--placements", placements], capsys)
    _run(["run", starved, "--out", str(tmp_path / "starved")], capsys)
    sweep = {"base": scenario_dict(), "grid": {"participants.total": [1, 12]}, "keep_latencies": True}
    _run(["sweep", _write(tmp_path / "sweep.yaml", sweep), "--jobs", "1", "--out", str(tmp_path / "sweep")], capsys)

    from distsim.rl.policy import save_policy

    save_policy(tmp_path / "policy" / "policy.json", {"kind": "distprivacy", "alpha": 0.7, "beta": 0.3})

    files = sorted(p for p in tmp_path.rglob("*") if p.suffix in (".json", ".jsonl"))
    names = {p.relative_to(tmp_path).as_posix() for p in files}
    expected = {"run/summary.json", "run/manifest.json", "trace.json", "placements.jsonl", "starved/summary.json"}
    assert expected | {"sweep/sweep.json", "policy/policy.json"} <= names, names
    assert {"sweep/runs/p0000-r000.json", "sweep/runs/p0001-r000.json"} <= names, names
    documents = {name: strict_file(tmp_path / name) for name in sorted(names)}
    assert all(documents.values()), "every file holds at least one document"
    # The undefined statistics are null, not NaN, in the run folder and in the sweep's run record;
    # the served runs have them.
    assert documents["starved/summary.json"][0]["latency_mean_s"] is None
    assert documents["sweep/runs/p0000-r000.json"][0]["summary"]["latency_p99_s"] is None
    assert documents["sweep/runs/p0001-r000.json"][0]["summary"]["latency_p99_s"] > 0
    assert documents["run/summary.json"][0]["latency_mean_s"] > 0
