"""Workload 5: memory of mnist training steps (bench.mlp's "mnist" config).

Each measurement runs in a fresh Python process (`python -m bench.memory
IMPL`), so what earlier workloads allocated cannot hide or inflate it:
- peak: 100 steps under tracemalloc (which sees every NumPy array buffer,
  not torch's), reported as the traced peak above the level before the
  first step; and the peak RSS above the RSS before the first step,
  sampled after every step;
- growth: RSS after step 100 and after step 1000 (tracemalloc off). The
  tape frees itself after backward, so this must stay flat.
One thread (memory does not depend on it). Prints one JSON object.
"""

# SPDX-License-Identifier: MIT
import json
import os
import subprocess
import sys
import tracemalloc

from .harness import rss_bytes, set_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # so `-m bench.memory` imports


def measure_in_process(impl, peak_steps=100, growth_steps=1000):
    from . import mlp

    set_threads(1)  # memory does not depend on threads; one is fastest on a loaded machine
    cfg = mlp.BY_NAME["mnist"]
    step, enter, leave = mlp.build(cfg, impl)
    if enter:
        enter()
    try:
        out = {"impl": impl}
        rss0 = rss_bytes()
        if impl != "torch":
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        rss_peak = rss0
        for _ in range(peak_steps):
            step()
            rss_peak = max(rss_peak, rss_bytes())
        if impl != "torch":
            out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
        out["rss_before"] = rss0
        out["rss_peak_over_100"] = rss_peak - rss0
        # growth: a fresh count, tracemalloc off
        rss = {}
        for k in range(1, growth_steps + 1):
            step()
            if k in (100, growth_steps):
                rss[k] = rss_bytes()
        out["rss_at_100"] = rss[100]
        out[f"rss_at_{growth_steps}"] = rss[growth_steps]
        out["growth_steps"] = growth_steps
        out["rss_growth"] = rss[growth_steps] - rss[100]
        out["rss_growth_pct"] = 100.0 * (rss[growth_steps] - rss[100]) / rss[100]
        return out
    finally:
        if leave:
            leave()


def run(impls, growth_steps=1000, log=print):
    rows = []
    for impl in impls:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.memory", impl, str(growth_steps)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"bench.memory {impl} failed:\n{proc.stderr}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["workload"] = "memory"
        rows.append(r)
        tm = r.get("tracemalloc_peak")
        tm_mib = tm / 2**20 if tm is not None else float("nan")
        log(
            f"  {impl:12s} tracemalloc peak {tm_mib:7.2f} MiB"
            f"  RSS peak +{r['rss_peak_over_100'] / 2**20:6.2f} MiB"
            f"  RSS step 100 -> {growth_steps}: {r['rss_growth'] / 2**20:+.2f} MiB"
            f" ({r['rss_growth_pct']:+.2f}%)"
        )
    return rows


if __name__ == "__main__":
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    print(json.dumps(measure_in_process(sys.argv[1], growth_steps=steps)))
