"""``python -m distsim.benchmarks WHAT [--quick] [--out DIR]``: exactly ``distsim bench WHAT ...``.

Both go through the one ``bench`` parser (:mod:`distsim.commands.bench`), so
they offer the same suites, options and error handling.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``distsim bench`` with ``argv`` (default: the process arguments); returns the exit status."""
    from distsim.cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
