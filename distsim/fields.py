"""Constrained field types for every input schema (scenario, sweep, scheduler parameters).

One place decides what a number in a user's file may be, so that no field
lets NaN, infinity, ``true`` or a value that overflows int64 or memory into a
run. Use these types for every new numeric field instead of bare ``float``
or ``int``:

* numbers are numbers: a boolean (``true``) or text (``"5"``) is refused
  where a number is expected (:data:`Number`); an integer is accepted as a
  float, and an integral float (``2.0e8``) as an integer;
* floats are **finite** (NaN and infinity refused);
* integers are **bounded above**, so counts cannot exhaust memory and
  budgets cannot overflow int64 arithmetic (sums over a whole fleet stay
  below 2**63);
* booleans are strict (``1`` or ``"yes"`` is not a boolean).

The bounds below are documented in ``docs/scenarios.md`` ("Ranges"); raise
one here, in one place, if a real study needs more. A field needing other
bounds spells them the same way, e.g.
``Annotated[float, Number, Field(gt=0, le=1e7, allow_inf_nan=False)]``.
This module imports only pydantic, so schedulers' parameter models may use
it too.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

__all__ = [
    "MAX_BUDGET",
    "MAX_COUNT",
    "MAX_DEVICES",
    "MAX_DURATION_S",
    "MAX_RATE",
    "MAX_REQUESTS",
    "MAX_SEED",
    "MAX_SPEED",
    "Budget",
    "Count",
    "DeviceCount",
    "DurationS",
    "FiniteFloat",
    "Fraction",
    "InputModel",
    "NonNegativeFloat",
    "NonNegativeInt",
    "Number",
    "PositiveFloat",
    "PositiveInt",
    "Rate",
    "RequestCount",
    "Seed",
    "Speed",
    "StrictBool",
    "UnitInterval",
]

#: Devices in one group, and in a whole fleet (sources + participants).
MAX_DEVICES = 100_000
#: Requests of one run (records of a run are kept in memory unless streamed).
MAX_REQUESTS = 10_000_000
#: Other counts (attempts, cores, workers, replications...).
MAX_COUNT = 1_000_000
#: Budgets and sizes (multiplications, bytes): 5e13, so that a sum over a
#: whole fleet of MAX_DEVICES devices (5e18) still fits in int64 (9.2e18).
MAX_BUDGET = 5 * 10**13
#: Speeds (multiplications per second, bits per second): at most 1e15.
MAX_SPEED = 1e15
#: Durations (windows, intervals, time limits), s: at most about 31.7 years.
MAX_DURATION_S = 1e9
#: Rates (requests per second).
MAX_RATE = 1e9
#: Seeds: non-negative int64.
MAX_SEED = 2**63 - 1


def _number(value: Any) -> Any:
    """Refuse booleans and text where a number is expected (pydantic's lax mode would convert them)."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


def _integer(value: Any) -> Any:
    """Refuse booleans and text where an integer is expected."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite integer, got {value!r}")
    return value


#: A number, not a boolean or text; then pydantic's usual conversion.
Number = BeforeValidator(_number)
#: An integer, not a boolean or text; an integral float such as ``2.0e8`` is
#: accepted (YAML writers often produce them), ``2.5`` is not.
Integer = BeforeValidator(_integer)

FiniteFloat = Annotated[float, Number, Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, Number, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Number, Field(ge=0, allow_inf_nan=False)]
#: (0, 1]: tolerated SSIM, MAC efficiency.
Fraction = Annotated[float, Number, Field(gt=0, le=1, allow_inf_nan=False)]
#: [0, 1]: probabilities.
UnitInterval = Annotated[float, Number, Field(ge=0, le=1, allow_inf_nan=False)]
#: (0, MAX_DURATION_S] seconds.
DurationS = Annotated[float, Number, Field(gt=0, le=MAX_DURATION_S, allow_inf_nan=False)]
#: (0, MAX_RATE] per second.
Rate = Annotated[float, Number, Field(gt=0, le=MAX_RATE, allow_inf_nan=False)]
#: (0, MAX_SPEED]: multiplications per second, bits per second.
Speed = Annotated[float, Number, Field(gt=0, le=MAX_SPEED, allow_inf_nan=False)]

PositiveInt = Annotated[int, Integer, Field(ge=1, le=MAX_COUNT)]
NonNegativeInt = Annotated[int, Integer, Field(ge=0, le=MAX_COUNT)]
#: [1, MAX_COUNT]: attempts, cores, workers.
Count = PositiveInt
#: [0, MAX_DEVICES] devices.
DeviceCount = Annotated[int, Integer, Field(ge=0, le=MAX_DEVICES)]
#: [1, MAX_REQUESTS] requests.
RequestCount = Annotated[int, Integer, Field(ge=1, le=MAX_REQUESTS)]
#: [0, MAX_BUDGET] multiplications or bytes.
Budget = Annotated[int, Integer, Field(ge=0, le=MAX_BUDGET)]
#: [0, MAX_SEED].
Seed = Annotated[int, Integer, Field(ge=0, le=MAX_SEED)]


class InputModel(BaseModel):
    """Base of every user-facing schema section: unknown fields are errors, instances frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)
