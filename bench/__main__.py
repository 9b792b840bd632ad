"""The benchmark runner: `python -m bench` (under 5 minutes) or
`python -m bench --quick` (under a minute, for development).

Runs every workload (gemm, overhead, elementwise, mlp, memory), prints one
table of cgrad's speedups (ratios of medians from this run), writes the raw
figures to bench/results/<date>-<time>-<host>.json and, for a full run, draws
bench/results/latest.png. `make bench` runs it with the OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE overrides of these machines unset, so NumPy runs its best
OpenBLAS kernel.
"""

# SPDX-License-Identifier: MIT
import argparse
import datetime
import os
import sys
import time

from . import elementwise, gemm, memory, mlp, overhead, report
from .harness import IMPLS, Settings, load_average, machine_info, set_threads, torch

WORKLOADS = ("gemm", "overhead", "elementwise", "mlp", "memory")


def settings(quick):
    """Per-workload timing settings (see harness.measure)."""
    if quick:
        base = dict(rounds=3, per_round=1, idle=0.05)
        return {
            "gemm": Settings(target=0.003, **base),
            "overhead": Settings(target=0.003, **base),
            "elementwise": Settings(target=0.004, **base),
            "mlp": Settings(target=0.005, **base),
        }
    return {
        "gemm": Settings(rounds=5, per_round=2, target=0.012, idle=0.08),
        "overhead": Settings(rounds=7, per_round=3, target=0.01, idle=0.08),
        "elementwise": Settings(rounds=7, per_round=3, target=0.015, idle=0.08),
        "mlp": Settings(rounds=7, per_round=3, target=0.02, idle=0.08),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases and rounds (under a minute)")
    ap.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help="comma-separated subset of: " + ", ".join(WORKLOADS),
    )
    ap.add_argument("--no-plot", action="store_true", help="do not draw latest.png")
    ap.add_argument(
        "--out", default=None, help="JSON path (default bench/results/<date>-<host>.json)"
    )
    args = ap.parse_args(argv)
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    bad = [w for w in only if w not in WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {', '.join(WORKLOADS)}")

    t_start = time.perf_counter()
    started = datetime.datetime.now()
    info = machine_info()
    st = settings(args.quick)
    print(f"cgrad benchmark suite ({'quick' if args.quick else 'full'}), {started:%Y-%m-%d %H:%M}")
    command = [os.path.basename(sys.executable), "-m", "bench"]
    command += argv if argv is not None else sys.argv[1:]
    print(f"  command : {' '.join(command)}")
    print(
        f"  machine : {info['host']}, {info['cpu']}, {info['cpus']} CPUs, "
        f"load average {info['load_average']}"
    )
    print(
        f"  versions: python {info['python']}, cgrad {info['cgrad']} ({info['cgrad_git']}, "
        f"simd {info['cgrad_simd']}, openmp {info['cgrad_openmp']}), numpy {info['numpy']} "
        f"[{'; '.join(info['blas']) or 'BLAS not found by threadpoolctl'}], "
        f"torch {info['torch'] or 'not installed (skipped)'}"
    )
    if info["env"]:
        print(f"  env     : {info['env']}")
    print(
        "  method  : median over interleaved rounds (order rotated each round, "
        "idle sleep between libraries); ratios = other time / cgrad time, same run"
    )
    if torch is None:
        print("  torch is not importable: its columns are skipped")

    rows, peaks, durations, threads, loads = [], {}, {}, {}, {}
    for wl in only:
        t0 = time.perf_counter()
        if wl == "gemm":
            print("[gemm] GFLOP/s, cgrad kernel vs numpy.matmul vs torch.matmul (out= buffers)")
            r, peaks = gemm.run(st["gemm"], quick=args.quick)
            rows += r
        elif wl == "memory":
            impls = (
                ("cgrad",)
                if args.quick
                else tuple(k for k in IMPLS if k != "torch" or torch is not None)
            )
            steps = 400 if args.quick else 1000
            print(
                f"[memory] mnist steps, one fresh process per implementation, 1 thread; "
                f"RSS growth from step 100 to {steps}"
            )
            rows += memory.run(impls, growth_steps=steps)
        else:
            threads[wl] = set_threads(2)
            st[wl].threads = 2
            print(f"[{wl}] threads {threads[wl]}")
            mod = {"overhead": overhead, "elementwise": elementwise, "mlp": mlp}[wl]
            rows += mod.run(st[wl])
        durations[wl] = time.perf_counter() - t0
        loads[wl] = load_average()
        print(f"  ({wl}: {durations[wl]:.1f} s; load average after it {loads[wl]})")

    print()
    print(
        "cgrad speedup = other median time / cgrad median time (above 1: cgrad faster). "
        "GEMM cells are GFLOP/s; 'vs NumPy' for GEMM is numpy.matmul."
    )
    print(report.table(rows, peaks))
    mt = report.memory_table(rows)
    if mt:
        print()
        print(mt)

    host = info["host"].split(".")[0] or "host"
    stamp = started.strftime("%Y-%m-%d-%H%M%S")
    path = args.out or os.path.join(
        report.RESULTS_DIR, f"{stamp}-{host}{'-quick' if args.quick else ''}.json"
    )
    total = time.perf_counter() - t_start
    info["load_average_end"] = load_average()
    doc = {
        "info": info,
        "quick": args.quick,
        "started": started.isoformat(timespec="seconds"),
        "argv": sys.argv,
        "threads": threads,
        "settings": {k: vars(v) for k, v in st.items()},
        "peaks": {str(k): v for k, v in peaks.items()},
        "rows": rows,
        "durations": durations,
        "load_after": loads,
        "total_seconds": total,
    }
    print()
    print(f"raw figures: {report.write_json(doc, path)}")
    if not args.no_plot and not args.quick and "mlp" in only and "gemm" in only:
        note = (
            f"{started:%Y-%m-%d %H:%M}, {info['host']}, {info['cpu']} ({info['cpus']} CPUs), "
            f"load average {info['load_average']} -> {info['load_average_end']}"
        )
        png = report.plot(rows, peaks, os.path.join(report.RESULTS_DIR, "latest.png"), note)
        print(f"plot: {png}")
    print(f"total {total:.1f} s; load average at the end {info['load_average_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
