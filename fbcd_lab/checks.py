"""The one check of every numeric parameter, shared by the library and the command line.

A parameter's rule (type and range) is written once in :data:`PARAMETERS`; the configuration
dataclasses, the functions that take the value directly and the command line's option parser all
call :func:`check`, so a value refused in one place is refused with the same words everywhere.
Integers must be integers (a float count is refused, not truncated) and at most :data:`INT_MAX`, so
none reaches an allocation or a C conversion unchecked; reals must be finite.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """An integer or a finite real in [low, high], either end open or absent."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        """The rule in words, e.g. ``an integer >= 1`` or ``a number in (0, 1]``."""
        noun = "an integer" if self.kind is int else "a finite number"
        if self.low is not None and self.high is not None:
            return (f"{noun} in {'(' if self.low_open else '['}{_fmt(self.low)}, {_fmt(self.high)}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {_fmt(self.low)}"
        if self.high is not None:
            return f"{noun} {'<' if self.high_open else '<='} {_fmt(self.high)}"
        return noun


def _fmt(x: float) -> str:
    return "2**32" if x == 2**32 else str(x) if isinstance(x, int) else f"{x:g}"


INT_MAX = 2**31 - 1  # the largest C int: counts and sizes beyond it are typing errors, not runs
IMAGE_MAX = 1024  # pixels a side: ImageNet-LT trains at 224; a batch of larger images fills no memory
WORKERS_MAX = 256  # processes: more DataLoader or training workers than any machine's cores
SEED = Rule(int, 0, 2**32, high_open=True)
PARAMETERS: dict[str, Rule] = {
    "u": Rule(int, 1, INT_MAX),
    "lam": Rule(float, 0),
    "alpha": Rule(float, 0, 1, low_open=True),
    "kernel_size": Rule(int, 1, IMAGE_MAX),
    "channels_per_class": Rule(int, 1, INT_MAX),
    "cluster_pca": Rule(int, 1, INT_MAX),
    "seed": SEED,
    "subset_seed": SEED,
    "epochs": Rule(int, 1, INT_MAX),
    "batch_size": Rule(int, 1, INT_MAX),
    "warmup_epochs": Rule(int, 0, INT_MAX),
    "lr": Rule(float, 0, 1e30, low_open=True),  # float32 in the optimiser: 1e308 overflowed there
    "momentum": Rule(float, 0, 1, high_open=True),
    "weight_decay": Rule(float, 0, 1e30),  # as lr
    "imbalance_ratio": Rule(float, 1),
    "n_max": Rule(int, 1, INT_MAX),
    "num_classes": Rule(int, 2, INT_MAX),
    "val_per_class": Rule(int, 0, INT_MAX),
    "image_size": Rule(int, 1, IMAGE_MAX),
    "workers": Rule(int, 0, WORKERS_MAX),
    "processes": Rule(int, 1, WORKERS_MAX),
    "threads": Rule(int, 1, WORKERS_MAX),
    "count": Rule(int, 1, INT_MAX),
    "mixup_alpha": Rule(float, 0, low_open=True),
    "focal_gamma": Rule(float, 0),
    "la_tau": Rule(float, 0),
    "ldam_max_margin": Rule(float, 0, low_open=True),
    "ldam_scale": Rule(float, 0, low_open=True),
    "cb_beta": Rule(float, 0, 1, high_open=True),
    "deferred_epoch": Rule(int, 0, INT_MAX),
}


def check(name: str, value, rule: Rule | None = None) -> int | float:
    """``value`` as the type of ``name``'s rule, or a ValueError naming ``name`` and the rule.

    ``rule`` overrides the entry of :data:`PARAMETERS` (for a parameter with a context-dependent range).
    """
    rule = rule or PARAMETERS[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _refused(name, rule, value)
    if rule.kind is int:
        if not isinstance(value, numbers.Integral):
            raise _refused(name, rule, value, " (not an integer)")
        value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:  # an integer beyond any float
            raise _refused(name, rule, value) from None
        if not math.isfinite(value):
            raise _refused(name, rule, value)
    too_low = rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low)
    too_high = rule.high is not None and (value >= rule.high if rule.high_open else value > rule.high)
    if too_low or too_high:
        raise _refused(name, rule, value)
    return value


def _refused(name: str, rule: Rule, value, why: str = "") -> ValueError:
    return ValueError(f"{name} must be {rule.describe()}, got {shown(value)}{why}")


def shown(value, limit: int = 40) -> str:
    """``repr(value)`` for a one-line message: cut to ``limit`` characters, and an integer too long to
    write out (Python refuses over 4300 digits) given by its size."""
    try:
        text = repr(value)
    except ValueError:
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_optional(name: str, value, rule: Rule | None = None) -> int | float | None:
    """:func:`check`, letting None through (a parameter whose None means "choose for me")."""
    return None if value is None else check(name, value, rule)


def check_counts(name: str, counts: Sequence) -> list[int]:
    """Per-class sample counts: a non-empty sequence of integers >= 1 (floats are refused)."""
    counts = list(counts)
    if not counts:
        raise ValueError(f"{name} must not be empty")
    return [check(f"{name}[{i}]", n, PARAMETERS["count"]) for i, n in enumerate(counts)]


def check_choice(name: str, value, choices: Sequence) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming ``name`` and the choices."""
    if isinstance(value, (dict, list)) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {shown(value)}")
    return value


def check_distinct(name: str, values: Sequence) -> list:
    """``values`` as a list if none repeats, else a ValueError naming ``name`` and the repeated value
    (a seed or cell named twice is a typo, not a request to run it once)."""
    values = list(values)
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ValueError(f"{name} names {shown(value, 200)} twice")
    return values
