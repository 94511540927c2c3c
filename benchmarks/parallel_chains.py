"""Wall-clock speed-up of ``sample(..., cores=2)`` over ``cores=1``: 2 pCN chains on the
Schrödinger posterior (P1, unit square, N = 200 points), the same seed; prints the times, the
ratio and the load average (the machine may be shared: read the ratio with the load)."""

from __future__ import annotations

import os
import sys
import time

import bayesinv
from bayesinv.testing.schrodinger import schrodinger_posterior


def main(n: int = 32, steps: int = 600) -> None:
    post = schrodinger_posterior(n, 200, 1e-2)
    kw = {"beta": 0.1, "draws": steps, "chains": 2, "seed": 5, "diagnostics": False}
    bayesinv.sample(post, "pcn", **{**kw, "draws": 5})  # JIT
    times = {}
    for cores in (1, 2, 1, 2):
        t0 = time.perf_counter()
        idata = bayesinv.sample(post, "pcn", cores=cores, **kw)
        times.setdefault(cores, []).append(time.perf_counter() - t0)
    one, two = min(times[1]), min(times[2])
    print(f"{n}x{n}, 2 chains x {steps} pCN steps: cores=1 {one:.2f} s, cores=2 {two:.2f} s, "
          f"speed-up {one / two:.2f}x; load average {os.getloadavg()}; "
          f"forward solves {idata.attrs['num_forward_solves']}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
