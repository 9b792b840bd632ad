"""Memory of mnist steps (bench/memory.py): the RSS stays flat as the tape frees
itself. Runs in-process with fewer steps than the runner (it is a test)."""

# SPDX-License-Identifier: MIT
from bench import memory


def test_memory_flat_cgrad():
    r = memory.measure_in_process("cgrad", peak_steps=20, growth_steps=200)
    assert r["tracemalloc_peak"] > 0
    assert abs(r["rss_growth_pct"]) <= 2.0, r
