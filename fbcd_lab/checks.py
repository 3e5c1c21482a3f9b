"""The one check of every numeric parameter, shared by the library and the command line.

A parameter's rule (type and range) is written once in :data:`PARAMETERS`; the configuration
dataclasses, the functions that take the value directly and the command line's option parser all
call :func:`check`, so a value refused in one place is refused with the same words everywhere.
Integers must be integers (a float count is refused, not truncated) and reals must be finite.
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
    return "2**32" if x == 2**32 else f"{x:g}"


SEED = Rule(int, 0, 2**32, high_open=True)
PARAMETERS: dict[str, Rule] = {
    "u": Rule(int, 1),
    "lam": Rule(float, 0),
    "alpha": Rule(float, 0, 1, low_open=True),
    "kernel_size": Rule(int, 1),
    "channels_per_class": Rule(int, 1),
    "cluster_pca": Rule(int, 1),
    "seed": SEED,
    "subset_seed": SEED,
    "epochs": Rule(int, 1),
    "batch_size": Rule(int, 1),
    "warmup_epochs": Rule(int, 0),
    "lr": Rule(float, 0, 1e30, low_open=True),  # float32 in the optimiser: 1e308 overflowed there
    "momentum": Rule(float, 0, 1, high_open=True),
    "weight_decay": Rule(float, 0, 1e30),  # as lr
    "imbalance_ratio": Rule(float, 1),
    "n_max": Rule(int, 1),
    "num_classes": Rule(int, 2),
    "val_per_class": Rule(int, 0),
    "image_size": Rule(int, 1),
    "workers": Rule(int, 0),
    "processes": Rule(int, 1),
    "count": Rule(int, 1),
    "mixup_alpha": Rule(float, 0, low_open=True),
    "focal_gamma": Rule(float, 0),
    "la_tau": Rule(float, 0),
    "ldam_max_margin": Rule(float, 0, low_open=True),
    "ldam_scale": Rule(float, 0, low_open=True),
    "cb_beta": Rule(float, 0, 1, high_open=True),
    "deferred_epoch": Rule(int, 0),
}


def check(name: str, value, rule: Rule | None = None) -> int | float:
    """``value`` as the type of ``name``'s rule, or a ValueError naming ``name`` and the rule.

    ``rule`` overrides the entry of :data:`PARAMETERS` (for a parameter with a context-dependent range).
    """
    rule = rule or PARAMETERS[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {rule.describe()}, got {value!r}")
    if rule.kind is int:
        if not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be {rule.describe()}, got {value!r} (not an integer)")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be {rule.describe()}, got {value!r}")
    too_low = rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low)
    too_high = rule.high is not None and (value >= rule.high if rule.high_open else value > rule.high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {rule.describe()}, got {value!r}")
    return value


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
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
