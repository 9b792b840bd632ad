"""The runner's outputs: the table of ratios (markdown), the raw JSON and the plot.

Every ratio is a speedup of cgrad (C backend): the other implementation's
median time divided by cgrad's median time, both from the same run. Above 1
cgrad is faster. For GEMM this equals cgrad's GFLOP/s over the other's.
The performance targets are restated in the same terms.
"""

# SPDX-License-Identifier: MIT
import json
import os

from .harness import IMPLS, LABELS

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# The targets, as (column, minimum speedup) or an absolute bound; float32, 2 threads
GEMM_TARGETS = {"1024^3": {"numpy": 1.30, "torch": 1.05}, "64^3": {"numpy": 1.0}}
MLP_TARGETS = {
    "tiny": {"numpy": 1.0},
    "small": {"numpy": 1.0},
    "mnist": {"torch": 1 / 0.6},
    "large": {"torch": 1 / 0.9},
}


def fmt_time(t):
    if t is None:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.2f} µs" if t < 1e-5 else f"{t * 1e6:.1f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def _speedup(row, other):
    t = row["time"]
    if "cgrad" not in t or other not in t:
        return None
    return t[other] / t["cgrad"]


def _fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}x"


def _verdict(checks):
    """checks: [(value, ok)] -> 'yes' / 'no' / ''"""
    if not checks:
        return ""
    return "yes" if all(ok for ok in checks) else "no"


def _targets(row):
    """(target text, verdict) for one row, or ("", "")."""
    wl, case = row["workload"], row["case"]
    if wl == "gemm" and row["dtype"] in ("float32", "float64") and row["threads"] == 2:
        tg = GEMM_TARGETS.get(case)
        if case.startswith(("A^T B", "A B^T")):
            return "as fast as A B", ""
        if tg:
            oks = [(_speedup(row, k) or 0) >= v for k, v in tg.items() if k in row["time"]]
            return ", ".join(f"≥ {v:.2f}x {k}" for k, v in tg.items()), _verdict(oks)
    if wl == "overhead":
        if case in ("add", "matmul", "relu"):
            return "≤ 1.2 µs", _verdict([row["time"]["cgrad"] <= 1.2e-6])
        if case == "chain150" and "torch" in row["time"]:
            return "≥ 3x torch", _verdict([_speedup(row, "torch") >= 3.0])
    if wl == "mlp":
        tg = MLP_TARGETS.get(case, {})
        oks = [(_speedup(row, k) or 0) >= v for k, v in tg.items() if k in row["time"]]
        return ", ".join(f"≥ {v:.2f}x {k}" for k, v in tg.items()), _verdict(oks)
    return "", ""


def table(rows, peaks=None):
    """One markdown table: per row the figure of each implementation and cgrad's speedups."""
    head = (
        "| workload | case | "
        + " | ".join(LABELS[k] for k in IMPLS)
        + " | vs NumPy backend | vs NumPy | vs torch | target | met |"
    )
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for row in rows:
        wl = row["workload"]
        if wl == "memory":
            continue
        if wl == "gemm":
            name = f"GEMM {row['dtype'][5:]}-bit, {row['threads']}T"
            cells = [f"{row['gflops'][k]:.1f} GF/s" if k in row["gflops"] else "—" for k in IMPLS]
            if peaks and row["threads"] in peaks:
                pk = peaks[row["threads"]][row["dtype"]]
                name += f" ({100 * row['gflops']['cgrad'] / pk:.0f}% of peak)"
        else:
            name = {"overhead": "per-op 8x8", "elementwise": "kernels", "mlp": "MLP step"}[wl]
            cells = [fmt_time(row["time"].get(k)) for k in IMPLS]
        label = row.get("label", row["case"])
        tgt, ok = _targets(row)
        lines.append(
            f"| {name} | {label} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(_fmt_ratio(_speedup(row, k)) for k in ("cgrad-numpy", "numpy", "torch"))
            + f" | {tgt} | {ok} |"
        )
    return "\n".join(lines)


def memory_table(rows):
    mem = [r for r in rows if r["workload"] == "memory"]
    if not mem:
        return ""
    lines = [
        "| implementation | tracemalloc peak, 100 steps | RSS peak above start, 100 steps "
        "| RSS step 100 → {} | growth | target ≤ 2% |".format(mem[0]["growth_steps"]),
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in mem:
        tm = r.get("tracemalloc_peak")
        lines.append(
            f"| {LABELS[r['impl']]} | {tm / 2**20:.2f} MiB | "
            if tm is not None
            else f"| {LABELS[r['impl']]} | (not traced) | "
        )
        lines[-1] += (
            f"{r['rss_peak_over_100'] / 2**20:.2f} MiB | "
            f"{r['rss_at_100'] / 2**20:.1f} → "
            f"{r['rss_at_' + str(r['growth_steps'])] / 2**20:.1f} MiB | "
            f"{r['rss_growth_pct']:+.2f}% | "
            f"{'yes' if abs(r['rss_growth_pct']) <= 2 else 'no'} |"
        )
    return "\n".join(lines)


def write_json(doc, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path


def plot(rows, peaks, path, note=None):
    """Left: MLP-step time per implementation and config. Right: GEMM GFLOP/s against n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"cgrad": "#d62728", "cgrad-numpy": "#ff9896", "numpy": "#1f77b4", "torch": "#7f7f7f"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))

    mlp = [r for r in rows if r["workload"] == "mlp"]
    impls = [k for k in IMPLS if any(k in r["time"] for r in mlp)]
    width = 0.8 / max(1, len(impls))
    for j, k in enumerate(impls):
        xs = [i + (j - (len(impls) - 1) / 2) * width for i in range(len(mlp))]
        ys = [r["time"].get(k, float("nan")) * 1e6 for r in mlp]
        bars = ax1.bar(xs, ys, width, label=LABELS[k], color=colors[k])
        for b, y in zip(bars, ys):
            if y == y:
                ax1.annotate(
                    f"{y:.0f}" if y >= 10 else f"{y:.1f}",
                    (b.get_x() + b.get_width() / 2, y),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    rotation=90,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(mlp)))
    ax1.set_xticklabels(
        [f"{r['case']}\nbatch {r['batch']}\n{'-'.join(map(str, r['sizes']))}" for r in mlp],
        fontsize=8,
    )
    ax1.set_ylabel("time per training step (µs, log scale; lower is better)")
    ax1.set_title("One MLP training step, float32, 2 threads (median)")
    ax1.legend(fontsize=8, loc="upper left")
    ax1.grid(axis="y", which="both", alpha=0.3)
    if mlp:
        lo, hi = ax1.get_ylim()
        ax1.set_ylim(lo, hi * 3)

    gemm = [
        r
        for r in rows
        if r["workload"] == "gemm" and r["case"].endswith("^3") and not r["case"].startswith("A")
    ]
    styles = {("float32", 2): "-", ("float64", 2): "--", ("float32", 1): ":"}
    from matplotlib.lines import Line2D

    style_handles = []
    for (dt, th), ls in styles.items():
        sel = sorted(
            (r for r in gemm if r["dtype"] == dt and r["threads"] == th), key=lambda r: r["M"]
        )
        if not sel:
            continue
        style_handles.append(
            Line2D([], [], color="black", ls=ls, label=f"{dt}, {th} thread{'s' * (th > 1)}")
        )
        for k in ("cgrad", "numpy", "torch"):
            if k not in sel[0]["gflops"]:
                continue
            ax2.plot(
                [r["M"] for r in sel],
                [r["gflops"][k] for r in sel],
                ls,
                marker="o",
                ms=4,
                color=colors[k],
            )
    impl_handles = [
        Line2D(
            [],
            [],
            color=colors[k],
            marker="o",
            ms=4,
            label={"numpy": "numpy.matmul (OpenBLAS)", "torch": "torch.matmul"}.get(k, LABELS[k]),
        )
        for k in ("cgrad", "numpy", "torch")
        if any(k in r["gflops"] for r in gemm)
    ]
    for th, dt, ls in ((2, "float32", "-"), (2, "float64", "--")):
        if peaks and th in peaks:
            ax2.axhline(peaks[th][dt], color="black", ls=ls, lw=0.8, alpha=0.6)
            ax2.annotate(
                f"measured FMA peak, {dt}, 2 threads: {peaks[th][dt]:.0f}",
                (1024, peaks[th][dt]),
                fontsize=7,
                va="bottom",
                ha="right",
            )
    ax2.set_xscale("log", base=2)
    ax2.set_xticks([16, 64, 256, 1024])
    ax2.set_xticklabels(["16", "64", "256", "1024"])
    ax2.set_xlabel("n (square n x n @ n x n)")
    ax2.set_ylabel("GFLOP/s (higher is better)")
    ax2.set_title("GEMM throughput against n (median)")
    ax2.grid(alpha=0.3)
    leg = ax2.legend(handles=impl_handles, fontsize=8, loc="upper left")
    ax2.add_artist(leg)
    ax2.legend(handles=style_handles, fontsize=8, loc="upper center")
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(0, hi * 1.25)
    if note:
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
