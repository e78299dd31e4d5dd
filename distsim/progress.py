"""Progress of long runs and sweeps: a tqdm bar with ETA on a terminal, a periodic line otherwise.

:class:`Progress` counts finished units (requests of a run, runs of a
sweep). On a terminal it draws a `tqdm <https://tqdm.github.io>`_ bar with
rate and ETA; when the stream is not a terminal (a log file, CI, a pipe) it
writes one plain line every ``every_s`` seconds and a last one at the end,
so a long job in the background still says how far it got; ``enabled=False``
(``--no-progress``, ``-q``) draws nothing. tqdm is imported only when a bar
is drawn. A leaf utility: stdlib only at import time.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

#: Seconds between two plain progress lines off a terminal.
EVERY_S = 30.0


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class Progress:
    """Count ``total`` units of work (``done`` already finished), shown as a bar or as periodic lines.

    Args:
        total: units in all.
        done: units already finished (a resumed sweep); they do not count towards the rate.
        unit: what a unit is, for the text (``runs``, ``requests``).
        desc: a short label in front.
        stream: where to write (default: standard error).
        enabled: True: always; False: never; None: a bar on a terminal, periodic lines otherwise,
            except for jobs that finish within ``every_s`` (nothing is printed for them off a terminal).
        every_s: seconds between plain lines off a terminal.
    """

    def __init__(
        self,
        total: int,
        done: int = 0,
        *,
        unit: str = "runs",
        desc: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        every_s: float = EVERY_S,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.done, self.unit, self.desc = total, done, unit, desc
        self.every_s = every_s
        self._start_done = done
        self._started = time.monotonic()
        self._last_line = self._started
        self._printed = False
        self.enabled = enabled is not False
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: Any = None
        if self.enabled and tty:
            from tqdm import tqdm  # type: ignore[import-untyped]

            self._bar = tqdm(
                total=total,
                initial=done,
                unit=unit.rstrip("s") or unit,
                desc=desc or None,
                file=self.stream,
                dynamic_ncols=True,
                leave=True,
            )

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more finished units."""
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last_line >= self.every_s:
            self._last_line = now
            self._write(now)

    def line(self, now: float | None = None) -> str:
        """The plain text: ``12/40 runs (30.0%), elapsed 01:02, ETA 02:25``."""
        now = time.monotonic() if now is None else now
        elapsed = now - self._started
        fresh = self.done - self._start_done
        eta = elapsed / fresh * (self.total - self.done) if fresh > 0 else math.nan
        pct = 100.0 * self.done / self.total if self.total else 100.0
        head = f"{self.desc}: " if self.desc else ""
        return f"{head}{self.done}/{self.total} {self.unit} ({pct:.1f}%), elapsed {_clock(elapsed)}, ETA {_clock(eta)}"

    def _write(self, now: float) -> None:
        self._printed = True
        self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Finish the bar, or write the last line if periodic lines were written."""
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self._printed:
            self._write(time.monotonic())
