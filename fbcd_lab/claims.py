"""What a notebook's text claims about its trained models, asserted with a measured margin.

Training amplifies the last bits of floating-point arithmetic, which differ between CPUs (their
instruction sets pick other kernels) and precisions (bf16 autocast): the digits a run prints are
not the same on another machine. So the notebooks' checks never compare those digits; each
asserts what the text says instead, as a value above or below a bound, e.g. "FBH + CDH lifts
few-shot recall over CE": ``claim("few: fbcd - ce", fbcd_few - ce_few, above=0.05)``. The
bounds rest on the spread that ``bench/notebook_claims.py`` measures over seeds, precisions and
instruction sets (BENCHMARKS.md).

With ``FBCD_CLAIMS_LOG`` naming a file, every claim is appended to it as a JSON line and a
failing claim does not raise: that is how the benchmark measures the margins.
"""

from __future__ import annotations

import json
import math
import os

LOG_VAR = "FBCD_CLAIMS_LOG"


class ClaimError(AssertionError):
    """A notebook's claim that its own run does not bear out."""


def claim(name: str, value: float, *, above: float | None = None, below: float | None = None) -> None:
    """Assert ``above < value < below`` (either bound may be absent) for the claim ``name``."""
    if above is None and below is None:
        raise ValueError(f"claim {name!r} needs a bound: above=..., below=... or both")
    value = float(value)
    failed = not math.isfinite(value) or (above is not None and not value > above) or \
        (below is not None and not value < below)
    log = os.environ.get(LOG_VAR)
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps({"claim": name, "value": value, "above": above, "below": below,
                                  "held": not failed}) + "\n")
    elif failed:
        bounds = " and ".join(f"{word} {bound:g}" for word, bound in (("above", above), ("below", below))
                              if bound is not None)
        raise ClaimError(f"claim {name!r} does not hold: {value:.4g} is not {bounds}")
