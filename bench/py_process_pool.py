#!/usr/bin/env python3
# bench/py_process_pool.py - Python's ProcessPoolExecutor on concur's process-pool benchmarks.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
"""Measures concurrent.futures.ProcessPoolExecutor the way bench/bench_process_pool.cpp measures
concur's ProcessPoolExecutor, and prints the two side by side.

  round trip   submit one no-op call, wait for its result; 1 and 2 workers
  pipelined    submit 1000 no-op calls, then wait for all of them; 1 and 2 workers
  map          map(x -> 2x) over 100,000 ints with chunksize 1000; 2 workers

Each figure is the median of several timed batches. If the C++ benchmark binary exists, it is
run with --benchmark_filter=RoundTrip (--all: every benchmark in it) and its medians are printed
beside Python's.

Usage: python3 bench/py_process_pool.py [BINARY] [--all] [--quick]
  BINARY   default: build/release-gcc/bench/concur.bench.process_pool (from the repository root;
           build it with `cmake --workflow --preset release-gcc`)
  --all    compare every benchmark, not only the round trip
  --quick  fewer repetitions (a smoke test; the numbers are noisier)
"""

import concurrent.futures as cf
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time

PIPELINED_TASKS = 1000
MAP_ITEMS = 100_000
MAP_CHUNKSIZE = 1000


def noop():
    return 1


def twice(x):
    return 2 * x


def median_of(batches, run):
    """Runs run() `batches` times and returns the median of its wall times, in seconds."""
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def py_round_trip_us(workers, batches, calls):
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        for _ in range(100):  # start the workers and warm up before timing
            pool.submit(noop).result()

        def batch():
            for _ in range(calls):
                pool.submit(noop).result()

        return median_of(batches, batch) / calls * 1e6


def py_pipelined_us(workers, batches):
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        pool.submit(noop).result()

        def batch():
            futures = [pool.submit(noop) for _ in range(PIPELINED_TASKS)]
            cf.wait(futures)
            assert sum(f.result() for f in futures) == PIPELINED_TASKS

        return median_of(batches, batch) / PIPELINED_TASKS * 1e6


def py_map_ms(workers, batches):
    items = range(MAP_ITEMS)
    expected = MAP_ITEMS * (MAP_ITEMS - 1)
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        pool.submit(noop).result()

        def batch():
            assert sum(pool.map(twice, items, chunksize=MAP_CHUNKSIZE)) == expected

        return median_of(batches, batch) * 1e3


def cpp_medians(binary, benchmark_filter, repetitions):
    """Runs the Google Benchmark binary; returns {run_name: median real time in µs}."""
    command = [binary, f"--benchmark_filter={benchmark_filter}",
               f"--benchmark_repetitions={repetitions}",
               "--benchmark_report_aggregates_only=true", "--benchmark_format=json"]
    print("running: " + " ".join(command), flush=True)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    to_us = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
    medians = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            medians[b["run_name"]] = b["real_time"] * to_us[b["time_unit"]]
    return medians


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    unknown = flags - {"--all", "--quick"}
    if unknown or len(args) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = args[0] if args else os.path.join(
        root, "build", "release-gcc", "bench", "concur.bench.process_pool")
    compare_all = "--all" in flags
    quick = "--quick" in flags
    batches = 5 if quick else 15
    calls = 50 if quick else 200

    print(f"Python {platform.python_version()} concurrent.futures.ProcessPoolExecutor "
          f"(start method {multiprocessing.get_start_method()}), {os.cpu_count()} CPUs; "
          f"median of {batches} batches", flush=True)
    # (label, Python figure, C++ run name, how to turn the C++ median into the same unit)
    rows = []
    for workers in (1, 2):
        us = py_round_trip_us(workers, batches, calls)
        rows.append((f"round trip, {workers} worker{'s' if workers > 1 else ''} (µs per call)", us,
                     f"BM_ProcessPool_SubmitRoundTrip/workers:{workers}/real_time", 1.0))
        print(f"  {rows[-1][0]}: {us:.1f}", flush=True)
    for workers in (1, 2):
        us = py_pipelined_us(workers, batches)
        rows.append((f"pipelined, {workers} worker{'s' if workers > 1 else ''} (µs per call)", us,
                     f"BM_ProcessPool_SubmitPipelined/workers:{workers}/real_time",
                     1.0 / PIPELINED_TASKS))
        print(f"  {rows[-1][0]}: {us:.2f}", flush=True)
    ms = py_map_ms(2, max(3, batches // 3))
    rows.append(("map 100k ints, chunksize 1000, 2 workers (ms)", ms,
                 "BM_ProcessPool_MapChunked/workers:2/real_time", 1e-3))
    print(f"  {rows[-1][0]}: {ms:.1f}", flush=True)

    if not os.path.exists(binary):
        print(f"\nno C++ benchmark at {binary}: build it with `cmake --workflow --preset "
              "release-gcc`, or pass its path")
        return 0
    print()
    medians = cpp_medians(binary, "." if compare_all else "RoundTrip", 3 if quick else 5)
    if not compare_all:
        rows = [r for r in rows if r[0].startswith("round trip")]
    print(f"\n{'':48} {'Python':>10} {'concur':>10} {'Python/concur':>14}")
    for label, py, run_name, scale in rows:
        if run_name not in medians:
            print(f"{label:48} {py:10.2f} {'-':>10}")
            continue
        cpp = medians[run_name] * scale
        print(f"{label:48} {py:10.2f} {cpp:10.2f} {py / cpp:13.1f}x")
    floor = medians.get("BM_PipePingPong/real_time")
    if floor is not None:
        print(f"{'floor: raw pipe ping-pong with a forked child (µs)':48} {'':>10} {floor:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
