#!/usr/bin/env python3
# bench/py_side_by_side.py - the seed workloads with Python's concurrent.futures beside concur.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
"""Runs the seed workloads with Python's concurrent.futures, runs concur.bench.seed (the same
workloads with concur, built from bench/seed_workloads.cpp) in the same invocation, and prints
both with the ratio Python time / concur time.

  sleep        five tasks sleeping 0.5, 0.4, 0.3, 0.2, 0.1 s: serial, 5 threads, 5 processes
  order_queue  ten (number, text) orders on 4 worker processes, each sleeping 50 ms and
               answering with its worker's pid: time, distinct workers
  count        count(n): a loop of 10,000,000 steps returning 10,000,000 * n, for n in 1..10:
               sequential, 2 threads, 2 processes (best of 2 runs each)
  round_trip   submit one no-op, wait for its result, repeat (2 workers): median of batches
  fan_out      submit 10,000 no-ops (processes: 2,000), then wait for all (2 workers)
  map          map(x -> 2x) over 100,000 ints, chunksize 1000 (2 workers; Python's
               ThreadPoolExecutor ignores chunksize: one future per item)

Pools in sleep, order_queue and count are built and shut down inside the timed region (the
with-block); the other workloads time a warmed-up pool. SIZES below must match Sizes in
bench/seed_workloads.cpp.

Usage: python3 bench/py_side_by_side.py [--binary PATH] [--quick] [--json FILE]
  --binary PATH  default: build/release-gcc/bench/concur.bench.seed (from the repository root;
                 build it with `cmake --preset release-gcc && cmake --build --preset release-gcc`)
  --quick        a smoke run: sleeps and loops a tenth, fewer and smaller batches (< 60 s)
  --json FILE    also write both sets of figures and the ratios to FILE
"""

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time

# The same sizes as Sizes in bench/seed_workloads.cpp (full_sizes and quick_sizes).
SIZES = {
    "full": dict(sleep_scale=1.0, order_seconds=0.050, count_loops=10_000_000, count_runs=2,
                 round_trip_thread_calls=1000, round_trip_process_calls=200, round_trip_batches=11,
                 fan_out_thread_tasks=10_000, fan_out_process_tasks=2_000, fan_out_batches=5,
                 map_items=100_000, map_batches=5),
    "quick": dict(sleep_scale=0.1, order_seconds=0.005, count_loops=1_000_000, count_runs=1,
                  round_trip_thread_calls=200, round_trip_process_calls=50, round_trip_batches=5,
                  fan_out_thread_tasks=2_000, fan_out_process_tasks=500, fan_out_batches=3,
                  map_items=20_000, map_batches=3),
}
POOL_WORKERS = 2
SLEEP_WORKERS = 5
ORDER_WORKERS = 4
ORDERS = 10
MAP_CHUNKSIZE = 1000
ITEMS = ["apples", "bread", "cheese", "dates", "eggs", "flour", "grapes", "honey", "ink", "jam"]

# The table: (workload, metric, label, unit, kind). kind "time": ratio = Python / concur;
# "info": both figures, no ratio.
ROWS = [
    ("sleep", "serial_s", "sleep: serial", "s", "time"),
    ("sleep", "threads_s", "sleep: 5 threads, map", "s", "time"),
    ("sleep", "processes_s", "sleep: 5 processes, map", "s", "time"),
    ("order_queue", "seconds", "order queue: 10 orders, 4 processes", "s", "time"),
    ("order_queue", "distinct_workers", "order queue: distinct workers", "", "info"),
    ("count", "sequential_s", "count: sequential", "s", "time"),
    ("count", "threads_s", "count: 2 threads", "s", "time"),
    ("count", "processes_s", "count: 2 processes", "s", "time"),
    ("count", "threads_speedup", "count: threads speedup", "x", "info"),
    ("count", "processes_speedup", "count: processes speedup", "x", "info"),
    ("round_trip", "threads_us", "round trip: threads", "µs", "time"),
    ("round_trip", "processes_us", "round trip: processes", "µs", "time"),
    ("fan_out", "threads_us_per_task", "fan-out: threads, per task", "µs", "time"),
    ("fan_out", "processes_us_per_task", "fan-out: processes, per task", "µs", "time"),
    ("map", "threads_ns_per_item", "map: threads, per item", "ns", "time"),
    ("map", "processes_ns_per_item", "map: processes, per item", "ns", "time"),
]


# The tasks: module-level functions, so that worker processes can run them.

def sleep_task(seconds):
    time.sleep(seconds)
    return seconds


def process_order(order, seconds):
    time.sleep(seconds)
    return os.getpid() if order[0] >= 1 else -1


def count(number, loops):
    """The talks' loop: `for i in range(...): i = i + 1`, then `return i * number`."""
    i = 0
    for i in range(loops):
        i = i + 1
    return i * number


def noop():
    return 1


def twice(x):
    return 2 * x


def median_seconds(batches, batch):
    """Runs batch() `batches` times; returns the median of its wall times in seconds."""
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        batch()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def expect(ok, what):
    if not ok:
        raise RuntimeError(f"wrong result: {what}")


def run_sleep(sizes):
    sleeps = [s * sizes["sleep_scale"] for s in (0.5, 0.4, 0.3, 0.2, 0.1)]
    start = time.perf_counter()
    expect([sleep_task(s) for s in sleeps] == sleeps, "sleep: serial results")
    serial = time.perf_counter() - start

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=SLEEP_WORKERS) as pool:
        expect(list(pool.map(sleep_task, sleeps)) == sleeps, "sleep: thread-pool results")
    threads = time.perf_counter() - start

    start = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=SLEEP_WORKERS) as pool:
        expect(list(pool.map(sleep_task, sleeps)) == sleeps, "sleep: process-pool results")
    processes = time.perf_counter() - start
    return {"serial_s": serial, "threads_s": threads, "processes_s": processes}


def run_order_queue(sizes):
    queue = [(i + 1, ITEMS[i]) for i in range(ORDERS)]
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=ORDER_WORKERS) as pool:
        futures = [pool.submit(process_order, order, sizes["order_seconds"]) for order in queue]
        pids = [f.result() for f in futures]
    seconds = time.perf_counter() - start
    expect(len(pids) == ORDERS and -1 not in pids and os.getpid() not in pids,
           "order_queue: every order answered by a worker process")
    return {"seconds": seconds, "distinct_workers": len(set(pids)), "orders": ORDERS}


def run_count(sizes):
    loops = sizes["count_loops"]
    numbers = list(range(1, 11))
    expected = [loops * n for n in numbers]

    def sequential():
        return [count(n, loops) for n in numbers]

    def on(pool_type):
        with pool_type(max_workers=POOL_WORKERS) as pool:
            return list(pool.map(count, numbers, [loops] * len(numbers)))

    ways = [sequential, lambda: on(cf.ThreadPoolExecutor), lambda: on(cf.ProcessPoolExecutor)]
    best = [float("inf")] * len(ways)
    for _ in range(sizes["count_runs"]):
        for w, way in enumerate(ways):
            start = time.perf_counter()
            results = way()
            best[w] = min(best[w], time.perf_counter() - start)
            expect(results == expected, "count: results")
    return {"loops": loops, "sequential_s": best[0], "threads_s": best[1], "processes_s": best[2],
            "threads_speedup": best[0] / best[1], "processes_speedup": best[0] / best[2]}


def round_trip_us(pool_type, calls, batches):
    with pool_type(max_workers=POOL_WORKERS) as pool:
        for _ in range(100):  # start the workers and warm up before timing
            expect(pool.submit(noop).result() == 1, "round_trip: warm-up")

        def batch():
            total = 0
            for _ in range(calls):
                total += pool.submit(noop).result()
            expect(total == calls, "round_trip: results")

        return median_seconds(batches, batch) / calls * 1e6


def run_round_trip(sizes):
    return {
        "threads_us": round_trip_us(cf.ThreadPoolExecutor, sizes["round_trip_thread_calls"],
                                    sizes["round_trip_batches"]),
        "processes_us": round_trip_us(cf.ProcessPoolExecutor, sizes["round_trip_process_calls"],
                                      sizes["round_trip_batches"]),
    }


def fan_out_us(pool_type, tasks, batches):
    with pool_type(max_workers=POOL_WORKERS) as pool:
        expect(pool.submit(noop).result() == 1, "fan_out: warm-up")

        def batch():
            futures = [pool.submit(noop) for _ in range(tasks)]
            cf.wait(futures)
            expect(sum(f.result() for f in futures) == tasks, "fan_out: results")

        return median_seconds(batches, batch) / tasks * 1e6


def run_fan_out(sizes):
    return {
        "threads_us_per_task": fan_out_us(cf.ThreadPoolExecutor, sizes["fan_out_thread_tasks"],
                                          sizes["fan_out_batches"]),
        "processes_us_per_task": fan_out_us(cf.ProcessPoolExecutor,
                                            sizes["fan_out_process_tasks"],
                                            sizes["fan_out_batches"]),
        "threads_tasks": sizes["fan_out_thread_tasks"],
        "processes_tasks": sizes["fan_out_process_tasks"],
    }


def map_ns_per_item(pool_type, items, batches):
    xs = list(range(items))
    expected = items * (items - 1)
    with pool_type(max_workers=POOL_WORKERS) as pool:
        expect(pool.submit(noop).result() == 1, "map: warm-up")

        def batch():
            expect(sum(pool.map(twice, xs, chunksize=MAP_CHUNKSIZE)) == expected, "map: results")

        return median_seconds(batches, batch) / items * 1e9


def run_map(sizes):
    return {
        "threads_ns_per_item": map_ns_per_item(cf.ThreadPoolExecutor, sizes["map_items"],
                                               sizes["map_batches"]),
        "processes_ns_per_item": map_ns_per_item(cf.ProcessPoolExecutor, sizes["map_items"],
                                                 sizes["map_batches"]),
        "items": sizes["map_items"],
        "chunksize": MAP_CHUNKSIZE,
    }


WORKLOADS = [("sleep", run_sleep), ("order_queue", run_order_queue), ("count", run_count),
             ("round_trip", run_round_trip), ("fan_out", run_fan_out), ("map", run_map)]


def run_concur(binary, quick):
    """Runs concur.bench.seed --json; returns its figures, or None (with a note) if it cannot.
    A missing binary is only noted; one that fails raises."""
    if not os.path.exists(binary):
        print(f"no concur binary at {binary}: build it with `cmake --preset release-gcc && "
              "cmake --build --preset release-gcc`, or pass --binary PATH", flush=True)
        return None
    command = [binary, "--json"] + (["--quick"] if quick else [])
    print("running: " + " ".join(command), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{binary} failed (exit {done.returncode}):\n{done.stderr}")
    print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
    return json.loads(done.stdout)


def figure(value, unit):
    if value is None:
        return "—"
    if unit == "" or float(value).is_integer() and abs(value) >= 1:
        return f"{value:g}"
    digits = 3 if abs(value) < 10 else (1 if abs(value) < 1000 else 0)
    return f"{value:.{digits}f}"


def build_rows(python, concur):
    rows = []
    for workload, metric, label, unit, kind in ROWS:
        py = python.get(workload, {}).get(metric)
        cpp = (concur or {}).get(workload, {}).get(metric)
        ratio = py / cpp if kind == "time" and py is not None and cpp else None
        rows.append({"workload": workload, "metric": metric, "label": label, "unit": unit,
                     "kind": kind, "python": py, "concur": cpp, "ratio": ratio})
    return rows


def print_table(rows):
    print(f"\n{'':40} {'unit':>4} {'Python':>10} {'concur':>10} {'Python/concur':>14}")
    for r in rows:
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.1f}x"
        print(f"{r['label']:40} {r['unit']:>4} {figure(r['python'], r['unit']):>10} "
              f"{figure(r['concur'], r['unit']):>10} {ratio:>14}")


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Sizes and methods: see the module docstring (python3 -m pydoc) or "
               "bench/seed_workloads.cpp.")
    parser.add_argument("--binary",
                        default=os.path.join(root, "build", "release-gcc", "bench",
                                             "concur.bench.seed"),
                        help="concur.bench.seed to run (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: smaller sizes, fewer repeats")
    parser.add_argument("--json", metavar="FILE", help="write the figures and ratios to FILE")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    total_start = time.perf_counter()

    concur = run_concur(args.binary, args.quick)

    print(f"Python {platform.python_version()} ({platform.python_implementation()}) "
          f"concurrent.futures, start method {multiprocessing.get_start_method()}, "
          f"{os.cpu_count()} CPUs{' (--quick)' if args.quick else ''}", flush=True)
    python = {}
    for name, run in WORKLOADS:
        start = time.perf_counter()
        python[name] = run(sizes)
        print(f"  {name}: {time.perf_counter() - start:.1f} s", flush=True)

    rows = build_rows(python, concur)
    print_table(rows)
    seconds = time.perf_counter() - total_start
    print(f"\ntotal: {seconds:.1f} s")

    if args.json:
        report = {
            "python": {"version": platform.python_version(),
                       "implementation": platform.python_implementation(),
                       "start_method": multiprocessing.get_start_method(),
                       "cpus": os.cpu_count()},
            "quick": args.quick,
            "sizes": sizes,
            "binary": args.binary,
            "python_results": python,
            "concur_results": concur,
            "rows": rows,
            "seconds": seconds,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2, ensure_ascii=False)
            out.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
