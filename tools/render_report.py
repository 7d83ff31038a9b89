#!/usr/bin/env python3
# tools/render_report.py - writes docs/performance.md and docs/performance.png from one run.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
"""Renders the performance report from the files tools/bench_report.sh leaves in build/perf:

  workloads.json  Google Benchmark's JSON from concur.bench.workloads (bench/bench_workloads.cpp)
  python.json     bench/py_side_by_side.py --json (Python's concurrent.futures beside concur)

Benchmarks are named BM_<Subject>_<Workload>[/<arg>]; with repetitions the median rows are used.
Anything missing shows as "—", and a target it decides shows as "n/a": the renderer never fails
because a peer was not built. The plot is drawn with gnuplot (pngcairo, else png); without
gnuplot the report says so and has no picture.

Usage: python3 tools/render_report.py [--workloads FILE] [--python FILE] [--markdown FILE]
           [--png FILE] [--build-dir DIR] [--command TEXT] [--elapsed SECONDS]
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys

# Subjects, in the order the tables list them, with what each one is.
SUBJECTS = {
    "Concur": "concur::ThreadPoolExecutor",
    "ConcurProcess": "concur::ProcessPoolExecutor",
    "Asio": "asio::thread_pool, post of a std::packaged_task",
    "TbbArena": "oneTBB task_arena, enqueue of a std::packaged_task",
    "TbbGroup": "oneTBB task_group (no futures)",
    "TbbParallelFor": "oneTBB parallel_for (no futures)",
    "ThreadPoolLib": "thread_pool::ThreadPool (libthread-pool-dev)",
    "StdAsync": "std::async, a thread per task",
    "Textbook": "mutex, condition variable, std::packaged_task",
    "PipePool": "floor: pre-forked children over socketpairs",
    "Semaphore": "floor: two binary semaphores, no queue, no future",
    "RawThreads": "control: two std::threads, no library",
    "Sequential": "baseline: one thread",
}
THREAD_FUTURE_PEERS_W1 = ["Asio", "TbbArena", "ThreadPoolLib", "StdAsync", "Textbook"]
THREAD_FUTURE_PEERS_W2 = ["TbbArena", "Asio", "ThreadPoolLib", "Textbook"]
PROCESS_SUBJECTS = {"ConcurProcess", "PipePool"}
NAME = re.compile(r"^BM_([A-Za-z0-9]+)_([A-Za-z0-9]+)$")
# Name parts Google Benchmark appends that are not arguments.
NOT_ARGS = re.compile(r"^(real_time|process_time|manual_time|min_time:.*|min_warmup_time:.*|"
                      r"repeats:.*|iterations:.*|threads:.*)$")
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
DASH = "—"


# ---------------------------------------------------------------------------------------------
# Reading the runs

class Results:
    """The benchmarks of one Google Benchmark JSON file, by (subject, workload, arg)."""

    def __init__(self, path):
        self.context = {}
        self.entries = {}  # (subject, workload, arg) -> dict(real_ns, ips, counters)
        self.path = path
        self.error = None
        if not path or not os.path.exists(path):
            self.error = f"{path} not found"
            return
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            self.error = f"{path}: {e}"
            return
        self.context = data.get("context", {})
        medians, singles = {}, {}
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                continue
            is_median = b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"
            if b.get("run_type") == "aggregate" and not is_median:
                continue
            key = self.parse_name(b.get("run_name") or b.get("name", ""))
            if key is None:
                continue
            record = {
                "real_ns": float(b.get("real_time", 0.0)) * TO_NS.get(b.get("time_unit", "ns"), 1),
                "ips": b.get("items_per_second"),
                "counters": {k: v for k, v in b.items() if isinstance(v, (int, float))},
            }
            if is_median:
                medians[key] = record
            else:
                singles.setdefault(key, []).append(record)
        for key, records in singles.items():  # repetitions without aggregates: their median
            if key not in medians:
                records.sort(key=lambda r: r["real_ns"])
                medians[key] = records[len(records) // 2]
        self.entries = medians

    @staticmethod
    def parse_name(name):
        parts = name.split("/")
        m = NAME.match(parts[0])
        if m is None:
            return None
        arg = "/".join(p for p in parts[1:] if not NOT_ARGS.match(p))
        return m.group(1), m.group(2), arg

    def all(self, subject, workload):
        """[(arg, record)] for one subject and workload, by numeric arg."""
        found = [(k[2], r) for k, r in self.entries.items() if k[0] == subject and k[1] == workload]
        return sorted(found, key=lambda x: (arg_number(x[0]) or 0, x[0]))

    def one(self, subject, workload, arg=None):
        """The record for subject/workload (with arg, or the only or largest arg), or None."""
        found = self.all(subject, workload)
        if arg is not None:
            found = [x for x in found if x[0] == arg or arg_number(x[0]) == arg_number(arg)]
        return found[-1][1] if found else None

    def subjects(self, workloads):
        names = {k[0] for k in self.entries if k[1] in workloads}
        order = list(SUBJECTS)
        return sorted(names, key=lambda s: (order.index(s) if s in order else len(order), s))


def arg_number(arg):
    m = re.search(r"(\d+)$", arg or "")
    return int(m.group(1)) if m else None


def per_item_ns(record, arg=""):
    """Nanoseconds per task or item: 1e9 / items_per_second, else real time / the arg."""
    if record is None:
        return None
    if record.get("ips"):
        return 1e9 / record["ips"]
    n = arg_number(arg)
    return record["real_ns"] / n if n else None


def load_json(path):
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Formatting

def fmt(value, digits=None):
    """A figure with sensible precision; "—" when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    a = abs(value)
    if digits is None:
        digits = 0 if a >= 1000 else 1 if a >= 100 else 2 if a >= 1 else 3
    return f"{value:,.{digits}f}"


def ratio(value, base):
    if value is None or not base:
        return DASH
    return f"{value / base:.2f}×"


def table(header, rows, left=1):
    """A Markdown table; the first `left` columns are text (left-aligned), the rest figures."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def subject_cell(subject):
    return f"**{subject}**" if subject in ("Concur", "ConcurProcess") else subject


def describe(subject):
    return SUBJECTS.get(subject, "")


# ---------------------------------------------------------------------------------------------
# The workload tables

def w1_table(res):
    subjects = [s for s in res.subjects({"RoundTrip"}) if s not in PROCESS_SUBJECTS]
    base = res.one("Concur", "RoundTrip")
    base_us = base["real_ns"] / 1e3 if base else None
    rows = []
    for s in subjects:
        r = res.one(s, "RoundTrip")
        us = r["real_ns"] / 1e3 if r else None
        rows.append([subject_cell(s), describe(s), fmt(us), ratio(us, base_us)])
    return table(["subject", "what", "µs per round trip", "× Concur"], rows, 2) if rows else None


def w2_table(res):
    subjects = [s for s in res.subjects({"FanOut"}) if s not in PROCESS_SUBJECTS]
    rows = []
    base = None
    concur = res.all("Concur", "FanOut")
    if concur:
        base = per_item_ns(concur[-1][1], concur[-1][0])
    for s in subjects:
        for arg, r in res.all(s, "FanOut"):
            ns = per_item_ns(r, arg)
            n = arg_number(arg)
            rows.append([subject_cell(s), describe(s), f"{n:,}" if n else arg or DASH, fmt(ns),
                         ratio(ns, base)])
    return table(["subject", "what", "tasks", "ns per task", "× Concur"], rows, 2) if rows else None


MAP_WORKLOADS = ["Map", "MapSpans", "MapNoChunk", "MapBuffered", "MapChunked"]


def best_concur_map(res, workloads=("Map", "MapSpans")):
    """(label, ns per item) of the fastest Concur map with a chunksize (its results read one
    at a time, Map, or a run at a time, MapSpans), or (None, None)."""
    best = (None, None)
    for w in workloads:
        for arg, r in res.all("Concur", w):
            ns = per_item_ns(r, arg)
            if ns is not None and (best[1] is None or ns < best[1]):
                best = (f"{w}, {arg}" if arg else w, ns)
    return best


def w3_table(res):
    subjects = [s for s in res.subjects(set(MAP_WORKLOADS)) if s not in PROCESS_SUBJECTS]
    _, base = best_concur_map(res)
    rows = []
    for s in subjects:
        for w in MAP_WORKLOADS:
            for arg, r in res.all(s, w):
                ns = per_item_ns(r)
                label = w + (f" ({arg})" if arg else "")
                rows.append([subject_cell(s), label, fmt(ns), ratio(ns, base)])
    if not rows:
        return None
    return table(["subject", "benchmark", "ns per item", "× best Concur"], rows, 2)


def speedups(res):
    """{subject: (ms per 10 calls, speedup over Sequential)} for the Count workload."""
    seq = res.one("Sequential", "Count")
    out = {}
    for s in res.subjects({"Count"}):
        r = res.one(s, "Count")
        ms = r["real_ns"] / 1e6 if r else None
        out[s] = (ms, seq["real_ns"] / r["real_ns"] if seq and r and r["real_ns"] else None)
    return out


def w4_table(res):
    sp = speedups(res)
    if not sp:
        return None
    raw = sp.get("RawThreads", (None, None))[1]
    base = sp.get("Concur", (None, None))[1]
    rows = [[subject_cell(s), describe(s), fmt(ms), fmt(x, 2) + "×" if x else DASH,
             ratio(x, raw), ratio(x, base)] for s, (ms, x) in sp.items()]
    return table(["subject", "what", "ms per 10 calls", "speedup", "× RawThreads", "× Concur"],
                 rows, 2)


W5_WORKLOADS = ["AsCompleted", "Wait", "AsCompletedReady", "WaitReady", "Callbacks"]


def w5_table(res):
    """One row per benchmark; the "× Concur" column only when some peer has the workload."""
    rows = []
    for w in W5_WORKLOADS:
        for s in res.subjects({w}):
            for arg, r in res.all(s, w):
                base = res.one("Concur", w, arg)
                ns = per_item_ns(r, arg)
                base_ns = per_item_ns(base, arg) if base else None
                rows.append([subject_cell(s), w + (f"/{arg}" if arg else ""),
                             fmt(r["real_ns"] / 1e3), fmt(ns), ratio(ns, base_ns)])
    if not rows:
        return None
    header = ["subject", "benchmark", "µs per iteration", "ns per future or callback", "× Concur"]
    if all(r[0] == subject_cell("Concur") for r in rows):
        header, rows = header[:-1], [r[:-1] for r in rows]
    return table(header, rows, 2)


def w6_table(res):
    rows = []
    for w in ["Allocs", "AllocsRoundTrip"]:
        for s in res.subjects({w}):
            for arg, r in res.all(s, w):
                c = r["counters"]
                rows.append([subject_cell(s), w + (f"/{arg}" if arg else ""),
                             fmt(c.get("allocs_per_task"), 2), fmt(c.get("bytes_per_task"), 0)])
    if not rows:
        return None
    return table(["subject", "benchmark", "allocations per task", "bytes per task"], rows, 2)


# ---------------------------------------------------------------------------------------------
# Targets

def best_of(res, subjects, value):
    """(subject, value) with the smallest value among subjects present, or (None, None)."""
    found = [(s, value(s)) for s in subjects]
    found = [(s, v) for s, v in found if v is not None]
    return min(found, key=lambda x: x[1]) if found else (None, None)


def verdict(ok):
    return DASH + " (no data)" if ok is None else "**PASS**" if ok else "**FAIL**"


def targets(res, py=None):
    """[(target, measured, limit, verdict)] and the number of FAILs."""
    rows = []

    def rt_us(s):
        r = res.one(s, "RoundTrip")
        return r["real_ns"] / 1e3 if r else None

    concur_rt = rt_us("Concur")
    peer, peer_rt = best_of(res, THREAD_FUTURE_PEERS_W1, rt_us)
    limit = 0.5 * peer_rt if peer_rt is not None else None
    ok = concur_rt <= limit if concur_rt is not None and limit is not None else None
    rows.append(["W1 round trip ≤ 0.5 × best futures peer", f"{fmt(concur_rt)} µs",
                 f"{fmt(limit)} µs (0.5 × {peer or DASH})", verdict(ok)])
    sem = rt_us("Semaphore")
    limit = 5 * sem if sem is not None else None
    ok = concur_rt <= limit if concur_rt is not None and limit is not None else None
    rows.append(["W1 round trip ≤ 5 × Semaphore floor", f"{fmt(concur_rt)} µs",
                 f"{fmt(limit)} µs (5 × {fmt(sem)})", verdict(ok)])

    concur_fan = res.all("Concur", "FanOut")
    concur_ns = per_item_ns(concur_fan[-1][1], concur_fan[-1][0]) if concur_fan else None
    fan_arg = concur_fan[-1][0] if concur_fan else None

    def fan_ns(s):
        return per_item_ns(res.one(s, "FanOut", fan_arg), fan_arg or "")

    peer, peer_ns = best_of(res, THREAD_FUTURE_PEERS_W2, fan_ns)
    limit = 0.8 * peer_ns if peer_ns is not None else None
    ok = concur_ns <= limit if concur_ns is not None and limit is not None else None
    rows.append(["W2 fan-out ≤ 0.8 × best futures peer", f"{fmt(concur_ns)} ns/task",
                 f"{fmt(limit)} ns/task (0.8 × {peer or DASH})", verdict(ok)])

    arg, best_map = best_concur_map(res)
    tbb = per_item_ns(res.one("TbbParallelFor", "Map"))
    limit = 1.5 * tbb if tbb is not None else None
    ok = best_map <= limit if best_map is not None and limit is not None else None
    rows.append(["W3 best Concur map ≤ 1.5 × TbbParallelFor",
                 f"{fmt(best_map)} ns/item" + (f" ({arg})" if arg else ""),
                 f"{fmt(limit)} ns/item (1.5 × {fmt(tbb)})", verdict(ok)])
    # The same target for results read one at a time through the range's iterator.
    arg, one_by_one = best_concur_map(res, ("Map",))
    ok = one_by_one <= limit if one_by_one is not None and limit is not None else None
    rows.append(["W3 Concur map, results one at a time, ≤ 1.5 × TbbParallelFor",
                 f"{fmt(one_by_one)} ns/item" + (f" ({arg})" if arg else ""),
                 f"{fmt(limit)} ns/item (1.5 × {fmt(tbb)})", verdict(ok)])

    sp = speedups(res)
    raw = sp.get("RawThreads", (None, None))[1]
    for s in ("Concur", "ConcurProcess"):
        x = sp.get(s, (None, None))[1]
        limit = 0.95 * raw if raw is not None else None
        ok = x >= limit if x is not None and limit is not None else None
        rows.append([f"W4 {s} speedup ≥ 0.95 × RawThreads",
                     fmt(x, 2) + "×" if x is not None else DASH,
                     (fmt(limit, 2) + f"× (0.95 × {fmt(raw, 2)}×)") if limit else DASH,
                     verdict(ok)])

    allocs = [(w, r) for w in ("Allocs", "AllocsRoundTrip") for _, r in res.all("Concur", w)]
    if not allocs:
        rows.append(["W6 Concur allocations per task ≤ 1", DASH, "1", verdict(None)])
    for w, r in allocs:
        a = r["counters"].get("allocs_per_task")
        ok = a <= 1 if a is not None else None
        rows.append([f"W6 Concur allocations per task ≤ 1 ({w})", fmt(a, 2), "1", verdict(ok)])

    # The process pool's targets: against PipePool (the floor) and Python (side by side).
    (_, c_rt, floor_rt, py_rt), (_, c_fan, _, py_fan), (_, c_map, _, py_map) = \
        process_figures(res, py)
    limit = 1.3 * floor_rt if floor_rt is not None else None
    ok = c_rt <= limit if c_rt is not None and limit is not None else None
    rows.append(["Process round trip ≤ 1.3 × PipePool", f"{fmt(c_rt)} µs",
                 f"{fmt(limit)} µs (1.3 × {fmt(floor_rt)})", verdict(ok)])
    for label, c, p, times in (("Process round trip", c_rt, py_rt, 3),
                               ("Process fan-out", c_fan, py_fan, 50),
                               ("Process map (best chunking)", c_map, py_map, 50)):
        x = p / c if p is not None and c else None
        ok = x >= times if x is not None else None
        rows.append([f"{label} ≥ {times}× faster than Python",
                     fmt(x, 1) + "×" if x is not None else DASH, f"{times}×", verdict(ok)])
    return rows


# ---------------------------------------------------------------------------------------------
# Processes, Python

def python_figure(py, workload, metric):
    if not py:
        return None
    return (py.get("python_results") or {}).get(workload, {}).get(metric)


def process_figures(res, py):
    """[(label, concur, floor, python)] for the process pool: round trip (µs), fan-out (µs per
    task), map (ns per item, best chunking)."""
    def rt(s):
        r = res.one(s, "RoundTrip")
        return r["real_ns"] / 1e3 if r else None

    def fan(s):
        found = res.all(s, "FanOut")
        return per_item_ns(found[-1][1], found[-1][0]) if found else None

    def map_ns(s):
        found = [per_item_ns(r) for w in MAP_WORKLOADS for _, r in res.all(s, w)]
        found = [v for v in found if v is not None]
        return min(found) if found else None

    py_rt = python_figure(py, "round_trip", "processes_us")
    py_fan = python_figure(py, "fan_out", "processes_us_per_task")
    py_map = python_figure(py, "map", "processes_ns_per_item")
    return [
        ("round trip (µs)", rt("ConcurProcess"), rt("PipePool"), py_rt),
        ("fan-out (µs per task)", us(fan("ConcurProcess")), us(fan("PipePool")), py_fan),
        ("map x → 2x (ns per item, best chunking)", map_ns("ConcurProcess"), map_ns("PipePool"),
         py_map),
    ]


def process_table(res, py):
    sp = speedups(res)
    rows_in = process_figures(res, py)
    rows = []
    for label, c, floor, p in rows_in:
        rows.append([label, fmt(c), fmt(floor), fmt(p), ratio(c, floor), ratio(p, c)])
    x = sp.get("ConcurProcess", (None, None))[1]
    px = python_figure(py, "count", "processes_speedup")
    rows.append(["count, speedup over sequential", fmt(x, 2) + "×" if x else DASH, DASH,
                 fmt(px, 2) + "×" if px else DASH, DASH, DASH])
    if all(r[1] == DASH and r[2] == DASH and r[3] == DASH for r in rows):
        return None
    return table(["measure", "ConcurProcess", "PipePool (floor)", "Python ProcessPoolExecutor",
                  "concur / floor", "Python / concur"], rows)


def us(ns):
    return ns / 1e3 if ns is not None else None


def python_table(py):
    if not py or not py.get("rows"):
        return None
    rows = []
    for r in py["rows"]:
        digits = 0 if r["unit"] == "" else None
        rows.append([r["label"], r["unit"] or DASH, fmt(r.get("python"), digits),
                     fmt(r.get("concur"), digits),
                     f"{r['ratio']:.1f}×" if r.get("ratio") else DASH])
    return table(["workload", "unit", "Python", "concur", "Python / concur"], rows, 2)


# ---------------------------------------------------------------------------------------------
# Machine

def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def compiler(build_dir):
    """The C++ compiler of build_dir (from its CMakeCache.txt) and its version line."""
    path = None
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    path = line.split("=", 1)[1].strip()
    except OSError:
        pass
    path = path or shutil.which("g++") or "c++"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return path


def build_type(build_dir):
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.split("=", 1)[1].strip() or "none"
    except OSError:
        pass
    return "unknown"


# ---------------------------------------------------------------------------------------------
# The plot

PLOT_COLOURS = {"concur": "#1f77b4", "peer": "#999999", "floor": "#bbbbbb", "python": "#d62728"}


def plot_bars(res, py):
    """Two bar lists [(label, value, colour)]: W1 round trip (µs), W2 fan-out (ns per task);
    threads first, then processes, each group ending with Python."""
    w1, w2 = [], []

    def kind(s):
        return "concur" if s.startswith("Concur") else "floor" \
            if s in ("PipePool", "Semaphore", "RawThreads", "Sequential") else "peer"

    for processes in (False, True):
        for s in res.subjects({"RoundTrip"}):
            r = res.one(s, "RoundTrip")
            if r and (s in PROCESS_SUBJECTS) == processes:
                w1.append((s, r["real_ns"] / 1e3, kind(s)))
        v = python_figure(py, "round_trip", "processes_us" if processes else "threads_us")
        if v:
            w1.append(("Python processes" if processes else "Python threads", v, "python"))
        for s in res.subjects({"FanOut"}):
            found = res.all(s, "FanOut")
            ns = per_item_ns(found[-1][1], found[-1][0]) if found else None
            if ns and (s in PROCESS_SUBJECTS) == processes:
                w2.append((s, ns, kind(s)))
        v = python_figure(py, "fan_out",
                          "processes_us_per_task" if processes else "threads_us_per_task")
        if v:
            w2.append(("Python processes" if processes else "Python threads", v * 1e3, "python"))
    return w1, w2


def bar_label(value):
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}"


def gnuplot_terminal(gnuplot):
    try:
        out = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True,
                             timeout=20)
        text = out.stdout + out.stderr
    except (OSError, subprocess.SubprocessError):
        return None
    if re.search(r"^\s*pngcairo\s", text, re.M):
        return "pngcairo size 1100,480 font 'Sans,10'"
    if re.search(r"^\s*png\s", text, re.M):
        return "png size 1100,480"
    return None


def draw_plot(res, py, png, work_dir):
    """Writes png with gnuplot; returns None, or why there is no plot."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        return "gnuplot is not installed (apt-get install gnuplot-nox)"
    terminal = gnuplot_terminal(gnuplot)
    if terminal is None:
        return "this gnuplot has neither the pngcairo nor the png terminal"
    w1, w2 = plot_bars(res, py)
    if not w1 and not w2:
        return "no round-trip or fan-out figures to plot"
    os.makedirs(work_dir, exist_ok=True)
    panels = []
    for name, bars, title, ylabel in (
            ("w1", w1, "W1: one no-op round trip (lower is better)", "µs per round trip"),
            ("w2", w2, "W2: fan-out, then wait for all (lower is better)", "ns per task")):
        if not bars:
            continue
        data = os.path.join(work_dir, f"plot_{name}.dat")
        with open(data, "w", encoding="utf-8") as f:
            for i, (label, value, colour) in enumerate(bars):
                rgb = int(PLOT_COLOURS[colour][1:], 16)
                f.write(f'{i} {value:.6g} {rgb} "{label}" "{bar_label(value)}"\n')
        low = min(v for _, v, _ in bars)
        high = max(v for _, v, _ in bars)
        ymin = 10 ** math.floor(math.log10(low)) / 2 if low > 0 else 0.1
        ymax = 10 ** math.ceil(math.log10(high)) * 2 if high > 0 else 1
        panels.append(f"""
set format y "{'%.0f' if ymin >= 1 else '%g'}"
set title "{title}"
set ylabel "{ylabel} (log scale)"
set yrange [{ymin:g}:{ymax:g}]
set xrange [-0.6:{len(bars) - 0.4}]
plot "{data}" using 1:2:3:xtic(4) with boxes lc rgb variable notitle, \\
     "{data}" using 1:2:5 with labels offset 0,0.6 font ",8" notitle
""")
    script = os.path.join(work_dir, "performance.gp")
    with open(script, "w", encoding="utf-8") as f:
        f.write(f"""# Written by tools/render_report.py; run: gnuplot {script}
set terminal {terminal}
set output "{png}"
set multiplot layout 1,{len(panels)}
set logscale y
set style fill solid 0.85 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -40 scale 0 font ",9"
set bmargin 7
""")
        f.write("".join(panels))
        f.write("unset multiplot\n")
    done = subprocess.run([gnuplot, script], capture_output=True, text=True)
    if done.returncode != 0:
        return f"gnuplot failed: {done.stderr.strip()}"
    return None


# ---------------------------------------------------------------------------------------------
# The report

def render(args):
    res = Results(args.workloads)
    py = load_json(args.python)
    md_dir = os.path.dirname(os.path.abspath(args.markdown))
    png_rel = os.path.relpath(os.path.abspath(args.png), md_dir)
    why_no_plot = draw_plot(res, py, os.path.abspath(args.png),
                            os.path.dirname(os.path.abspath(args.workloads)))

    ctx = res.context
    date = ctx.get("date") or datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    cpus = ctx.get("num_cpus") or os.cpu_count()
    mhz = ctx.get("mhz_per_cpu")
    load = ctx.get("load_avg")
    py_info = (py or {}).get("python", {})
    quick = bool((py or {}).get("quick"))
    out = []
    add = out.append

    add("# concur performance\n")
    add("<!-- Generated by tools/render_report.py from build/perf/*.json; do not edit by hand: "
        "run `bash tools/bench_report.sh`. -->\n")
    add("Figures from one run of `bash tools/bench_report.sh` on the machine below. It is a small "
        "virtual machine with two virtual cores shared with other work, so single figures move "
        "by 10–30 % between runs (the Count speedups, which are short, even more); read ratios "
        "rather than absolute values, and re-run before drawing conclusions from a close call.")
    if quick:
        add("\n**This is a `--quick` run** (short benchmark times, no repetitions, smaller Python "
            "sizes): a smoke test, not a measurement.")
    add("\n## Machine\n")
    machine = [
        ["CPU", cpu_model() + (f" ({mhz} MHz)" if mhz else "")],
        ["cores", f"{cpus} (as the benchmarks see them)"],
        ["kernel", f"{platform.system()} {platform.release()}"],
        ["OS", os_name()],
        ["compiler", f"{compiler(args.build_dir)}, CMake build type {build_type(args.build_dir)}"],
        ["Python", f"{py_info.get('implementation', 'CPython')} {py_info['version']}, "
                   f"start method {py_info.get('start_method', '?')}" if py_info else DASH],
        ["date", date],
        ["Google Benchmark", f"library build type \"{ctx.get('library_build_type', '?')}\", as "
         "it reports itself (the library's own code; the timed code is built as above)"
         if ctx else DASH],
        ["load average at start", ", ".join(f"{x:.2f}" for x in load) if load else DASH],
    ]
    add(table(["", "this run"], machine, 2))
    add("\n## How to reproduce\n")
    add("From the repository root:\n")
    add("```sh\nbash tools/bench_report.sh            # --quick: a smoke run of about a minute\n"
        "```\n")
    add("It installs what is missing (as root: Google Benchmark, Asio, oneTBB, thread_pool, "
        "gnuplot), configures the `release-gcc` preset and builds its two benchmark programs, "
        "runs "
        "`build/release-gcc/bench/concur.bench.workloads` (5 repetitions randomly interleaved with the other benchmarks, medians) into "
        "`build/perf/workloads.json`, runs `bench/py_side_by_side.py` (Python's "
        "`concurrent.futures` and `concur.bench.seed` on the same seed workloads) into "
        "`build/perf/python.json`, and renders this page and the plot with "
        "`tools/render_report.py`." +
        (f" This run: `{args.command}`, {minutes(args.elapsed)} up to this page."
         if args.command else ""))
    if res.error:
        add(f"\n**No Google Benchmark results**: {res.error}. The workload tables are empty.")

    add("\n## Workloads\n")
    add("Each benchmark is `BM_<Subject>_<Workload>[/<arg>]` in `bench/bench_workloads.cpp`; "
        "every pool has 2 workers; times are wall-clock (real time), medians of the repetitions. \"× Concur\" divides a "
        "subject's figure by concur's: above 1 means slower than concur (for speedups: faster).")
    sections = [
        ("W1: round trip", "Submit one no-op task, wait for its result, repeat.", w1_table(res)),
        ("W2: fan-out", "Submit N no-op tasks, then wait for every result.", w2_table(res)),
        ("W3: map", "x → 2x over 1,000,000 ints (MapNoChunk: 100,000), every result summed. "
         "Concur's map() with several chunk sizes, its results read one at a time (Map) or a "
         "ready run at a time through spans() (MapSpans), with one task per item (MapNoChunk) "
         "and with a bounded window (MapBuffered); peers with one future per 1000-item chunk "
         "(MapChunked); oneTBB's parallel_for as the no-futures reference.",
         w3_table(res)),
        ("W4: CPU-bound count", "Ten calls of the talks' count loop (10,000,000 steps each) "
         "on 2 workers; speedup over the sequential run, compared with two raw std::threads.",
         w4_table(res)),
        ("W5: waiting", "as_completed() and wait() over N futures (pending, or already "
         "done: *Ready*), and done-callbacks.", w5_table(res)),
        ("W6: allocations", "Heap allocations and bytes per task, counted by a replaced "
         "operator new.", w6_table(res)),
    ]
    for title, text, tab in sections:
        add(f"\n### {title}\n")
        add(text + "\n")
        add(tab if tab else f"{DASH} (no figures in this run)")

    add("\n## Targets\n")
    add("Computed from this run; a target whose figures are missing shows \"no data\".\n")
    target_rows = targets(res, py)
    add(table(["target", "measured", "limit", "result"], target_rows, 1))
    fails = sum(1 for r in target_rows if "FAIL" in r[3])
    passes = sum(1 for r in target_rows if "PASS" in r[3])
    add(f"\n{passes} pass, {fails} fail, {len(target_rows) - passes - fails} without data.")

    add("\n## Processes\n")
    add("concur's ProcessPoolExecutor against PipePool, the floor (pre-forked children answering "
        "over socketpairs: no futures, no serialisation, no manager thread), and Python's "
        "ProcessPoolExecutor (from the side-by-side run, which uses 2 workers and smaller "
        "batches: 2,000 fan-out tasks, 100,000 map items with chunksize 1000). PipePool's "
        "fan-out sends 100 requests per message, so it is the floor for batched submission, "
        "not for one message per task.\n")
    tab = process_table(res, py)
    add(tab if tab else f"{DASH} (no figures in this run)")

    add("\n## Python side by side\n")
    if py:
        sizes = py.get("sizes", {})
        add("`bench/py_side_by_side.py` runs the seed workloads with Python's "
            "`concurrent.futures` and runs `concur.bench.seed` (bench/seed_workloads.cpp) on the "
            "same workloads at the same sizes, in the same invocation. Ratio: Python time / "
            "concur time. Pools in sleep, order queue and count are built and shut down inside "
            "the timed region (the with-block); the others time a warmed-up pool of 2 workers, "
            "median of batches.")
        add(f"\nSizes: sleeps 0.5 … 0.1 s × {sizes.get('sleep_scale', DASH)}; order queue 10 "
            f"orders × {fmt(sizes.get('order_seconds'), 3)} s on 4 processes; count "
            f"{sizes.get('count_loops', 0):,} loops × 10 calls (best of "
            f"{sizes.get('count_runs', DASH)}); round trip {sizes.get('round_trip_thread_calls')}"
            f" (threads) / {sizes.get('round_trip_process_calls')} (processes) calls per batch; "
            f"fan-out {sizes.get('fan_out_thread_tasks', 0):,} / "
            f"{sizes.get('fan_out_process_tasks', 0):,} tasks; map "
            f"{sizes.get('map_items', 0):,} items, chunksize 1000. Python's ThreadPoolExecutor "
            "ignores chunksize (one future per item), which is most of the threads-map ratio; "
            "CPython's GIL lets one thread run Python code at a time, so threads cannot speed "
            "count up there: a threads speedup away from 1 is noise.\n")
        tab = python_table(py)
        add(tab if tab else f"{DASH} (no figures)")
        if not py.get("concur_results"):
            add("\nconcur.bench.seed did not run: the concur column is empty.")
    else:
        add(f"{DASH} (no build/perf/python.json: bench/py_side_by_side.py did not run)")
    add("\n## Plot\n")
    if why_no_plot:
        add(f"No plot: {why_no_plot}.")
    else:
        add(f"![W1 round trip and W2 fan-out per subject, log scale; concur in blue, peers in "
            f"grey, floors light grey, Python in red]({png_rel})")
        add("\nBlue: concur; grey: peer libraries; light grey: floors (no futures, or no "
            "library); red: Python's `concurrent.futures` (from the side-by-side run).")

    add("")

    os.makedirs(md_dir, exist_ok=True)
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print(f"wrote {args.markdown}" + ("" if why_no_plot else f" and {args.png}"))
    if why_no_plot:
        print(f"no plot: {why_no_plot}", file=sys.stderr)
    print("\n" + table(["target", "measured", "limit", "result"], target_rows))
    return 0


def os_name():
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def minutes(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} minutes"


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=os.path.join(root, "build/perf/workloads.json"))
    parser.add_argument("--python", default=os.path.join(root, "build/perf/python.json"))
    parser.add_argument("--markdown", default=os.path.join(root, "docs/performance.md"))
    parser.add_argument("--png", default=os.path.join(root, "docs/performance.png"))
    parser.add_argument("--build-dir", default=os.path.join(root, "build/release-gcc"))
    parser.add_argument("--command", default="", help="the command that made the run")
    parser.add_argument("--elapsed", type=float, default=0.0,
                        help="seconds the run took so far (shown as the time to expect)")
    return render(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
