"""``python -m benchmarks WHAT [--quick] [--out DIR]`` from a checkout: exactly ``distsim bench WHAT ...``.

The suites live in :mod:`distsim.benchmarks` (shipped in the wheel); this
folder is not packaged and only keeps the short spelling working from the
repository root.
"""

from __future__ import annotations

import sys

from distsim.benchmarks.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
