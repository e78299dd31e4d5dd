"""Optional dependencies, imported where used with an error that says how to install them.

A leaf utility: nothing is imported until a function here is called.
"""

from __future__ import annotations

from typing import Any


def pandas() -> Any:
    """The pandas module, or an ImportError that says how to install it (the ``frames`` extra)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("DataFrames need pandas: pip install 'distsim[frames]'") from None
    return pd
