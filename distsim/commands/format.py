"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from distsim.engine.records import Summary


def table(rows: Iterable[Mapping[str, object]], columns: Sequence[str] | None = None) -> str:
    """Left-aligned text table of ``rows`` (first row's keys unless ``columns``)."""
    data = list(rows)
    if not data:
        return "(no rows)"
    cols = list(columns or data[0].keys())
    cells = [[str(row.get(c, "")) for c in cols] for row in data]
    widths = [max(len(c), *(len(r[k]) for r in cells)) for k, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _num(value: float, unit: str = "", digits: int = 3) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def _bytes(value: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:.0f} B"


def summary_table(s: Summary) -> str:
    """The run summary as a two-column table."""
    rows = [
        ("scenario", f"{s.scenario} (seed {s.seed}, {s.scheduler}, {s.timing}, max_ssim {s.max_ssim})"),
        ("participants", str(s.participants)),
        ("requests", f"{s.requests} arrived, {s.served} served, {s.dropped} dropped"),
        (
            "  dropped",
            f"{s.dropped_fleet_too_small} fleet_too_small, "
            + (f"{s.dropped_unreachable} unreachable, " if s.dropped_unreachable else "")
            + f"{s.dropped_max_attempts} after max attempts",
        ),
        (
            "rejected (1st attempt)",
            f"{s.rejected_first_attempt} ({100 * s.rejection_rate:.1f}%; "
            f"under load {100 * s.load_rejection_rate:.1f}%)",
        ),
        ("attempts per request", _num(s.attempts_mean, digits=2)),
        ("latency mean", _num(s.latency_mean_s, " s")),
        (
            "latency p50 / p95 / p99",
            " / ".join(_num(v, " s") for v in (s.latency_p50_s, s.latency_p95_s, s.latency_p99_s)),
        ),
        ("latency max", _num(s.latency_max_s, " s")),
        (
            "exposure mean / max",
            f"{_num(s.exposure_mean, digits=3)} / {_num(s.exposure_max, digits=3)} SSIM "
            + ("(white-box, noisy output; " if s.exposure_attack == "whitebox_noisy_output" else "(")
            + f"{100 * s.exposure_above_tau_share:.1f}% above {s.max_ssim}; {s.mechanism}, "
            f"{s.colluders} colluder{'s' if s.colluders != 1 else ''})",
        ),
        *(
            [("accuracy mean", _num(s.accuracy_mean_pct, " %", 2))]
            if s.accuracy_mean_pct == s.accuracy_mean_pct
            else []
        ),
        ("total latency", _num(s.total_latency_s, " s", 2)),
        ("shared data", f"{_bytes(s.shared_bytes)} ({_bytes(s.shared_bytes_per_request)} per served request)"),
        ("throughput", _num(s.throughput_per_s, " req/s")),
        ("makespan", _num(s.makespan_s, " s", 2)),
        (
            "energy",
            f"{_num(s.energy_j, ' J', 1)} in all; {_num(s.energy_per_served_j, ' J', 3)} above idle per served request",
        ),
    ]
    if not s.complete:
        in_flight = s.requests - s.served - s.dropped - s.failed
        rows.append(("INCOMPLETE", f"stopped by simulation.max_wall_s; {in_flight} requests were in flight"))
    if s.failed or s.restarts or s.availability_mean < 1.0:
        rows.append(("failed / restarts", f"{s.failed} failed, {s.restarts} restarted"))
        rows.append(("fleet availability", f"{100 * s.availability_mean:.1f}% of participant time up"))
    if s.battery_deaths or not math.isnan(s.first_death_at):
        rows.append(
            (
                "battery deaths",
                f"{s.battery_deaths}; first at {_num(s.first_death_at, ' s', 2)}, "
                f"lifetime (fraction dead) at {_num(s.lifetime_at, ' s', 2)}",
            )
        )
    if s.extrapolated_limits:
        rows.append(("note", "some limits are extrapolated (policy finest): the table certifies no split there"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
