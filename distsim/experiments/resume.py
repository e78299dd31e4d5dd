"""Resume keys of sweep runs: what determines a run's result, hashed, and why a stored run is stale.

A run's result is determined by its *fingerprint*: the SHA-256 of the point's
resolved scenario (every default filled in; the path of each referenced file
replaced by a placeholder, so moving a table keeps the key), the SHA-256 of
the bytes of every referenced file by field path (``privacy.ssim_table``: one
changed byte changes the key), the distsim version, the run seed and
``keep_latencies``. The resume key is the SHA-256 of the fingerprint's
canonical JSON. A stored run whose key equals a task's is that task's result,
wherever it is stored; any other stored run is stale, and
:func:`stale_reasons` says which part of the fingerprint changed.

Not covered: the code of a scheduler given by import path outside distsim
(only distsim's own version is in the key); rerun such sweeps into a fresh
folder after changing that code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from distsim.io import sha256_file
from distsim.provenance import distsim_version
from distsim.scenario import referenced_files, scenario_from_dict, with_file_references


def canonical_sha256(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data`` (sorted keys, no spaces)."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """What determines a sweep run's result (see the module docstring).

    Attributes:
        scenario_sha256: SHA-256 of the resolved scenario with each referenced file's path replaced by
            the placeholder ``<file>`` (its contents are in ``inputs``).
        inputs: field path of each referenced file -> SHA-256 of its bytes.
        distsim_version: the distsim version that runs it.
        seed: the run seed.
        keep_latencies: whether the run keeps per-request latencies.
    """

    scenario_sha256: str
    inputs: dict[str, str]
    distsim_version: str
    seed: int
    keep_latencies: bool

    @property
    def key(self) -> str:
        """The resume key: SHA-256 of the fingerprint's canonical JSON."""
        return canonical_sha256(asdict(self))

    def as_record(self) -> dict[str, Any]:
        """The fingerprint as stored in a run file (``fingerprint``)."""
        return asdict(self)


class FileHashes:
    """SHA-256 of input files, each file read once per sweep (a table shared by 400 runs is hashed once)."""

    def __init__(self) -> None:
        self._known: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        """Hex SHA-256 of ``path``'s bytes (``OSError`` when unreadable)."""
        resolved = path.resolve()
        if resolved not in self._known:
            self._known[resolved] = sha256_file(resolved)
        return self._known[resolved]


#: What a referenced file's path is replaced by in the hashed scenario.
FILE_PLACEHOLDER = "<file>"


def fingerprint(resolved: Mapping[str, Any], seed: int, keep_latencies: bool, hashes: FileHashes) -> Fingerprint:
    """The fingerprint of one run of the resolved scenario mapping ``resolved`` (a :attr:`Point.scenario`)."""
    scenario = scenario_from_dict(dict(resolved))
    inputs = {field: hashes(path) for field, path in sorted(referenced_files(scenario).items())}
    pathless = with_file_references(scenario, {field: FILE_PLACEHOLDER for field in inputs})
    return Fingerprint(
        canonical_sha256(pathless.model_dump(mode="json")), inputs, distsim_version(), seed, keep_latencies
    )


def stale_reasons(stored: Mapping[str, Any] | None, wanted: Fingerprint) -> list[str]:
    """Why a stored run record does not answer ``wanted``: one short phrase per changed part.

    ``["new"]`` when nothing was stored; ``["unknown"]`` when the stored record has no
    readable fingerprint (written by an older distsim).
    """
    if stored is None:
        return ["new"]
    old = stored.get("fingerprint")
    if not isinstance(old, dict):
        return ["unknown"]
    reasons = []
    if old.get("distsim_version") != wanted.distsim_version:
        reasons.append(f"distsim version {old.get('distsim_version')} -> {wanted.distsim_version}")
    raw = old.get("inputs")
    old_inputs: dict[str, Any] = raw if isinstance(raw, dict) else {}
    changed = [f for f in wanted.inputs if f in old_inputs and old_inputs[f] != wanted.inputs[f]]
    reasons.extend(f"{field} contents changed" for field in changed)
    if old.get("seed") != wanted.seed:
        reasons.append("seed changed")
    if old.get("keep_latencies") != wanted.keep_latencies:
        reasons.append("keep_latencies changed")
    if old.get("scenario_sha256") != wanted.scenario_sha256:
        reasons.append("scenario changed")
    return reasons or ["unknown"]


def describe_stale(reasons: Iterable[list[str]]) -> str:
    """``"3 new, 2 privacy.ssim_table contents changed"``: counts of reasons over stale runs, most frequent first."""
    counts: dict[str, int] = {}
    for group in reasons:
        for reason in group:
            counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
