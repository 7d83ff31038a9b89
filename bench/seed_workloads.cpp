// bench/seed_workloads.cpp - the seed workloads (sleep, order queue, count, tiny tasks, fan-out,
// map) with concur, as one JSON object or a table.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// bench/py_side_by_side.py runs the very same workloads, at the same sizes, with Python's
// concurrent.futures, runs this program with --json, and prints both side by side. The sizes
// live in Sizes below and in SIZES there: change both together.
//
//   sleep        five tasks sleeping 0.5, 0.4, 0.3, 0.2, 0.1 s: serial, 5 threads, 5 processes
//   order_queue  ten (number, text) orders on 4 worker processes, each sleeping 50 ms and
//                answering with its worker's pid: time, distinct workers
//   count        count(n) = ++i 10,000,000 times, return i * n, n in 1..10: sequential,
//                2 threads, 2 processes (best of 2 runs each)
//   round_trip   submit one no-op, wait for its result, repeat (2 workers): median of batches
//   fan_out      submit 10,000 no-ops (processes: 2,000), then wait for all (2 workers)
//   map          map(x -> 2x) over 100,000 ints, chunksize 1000 (2 workers)
//
// Pools in sleep, order_queue and count are built and shut down inside the timed region, as
// Python's with-block does; the other workloads time a warmed-up pool.
//
// Usage: concur.bench.seed [--json] [--quick]
//   --json   print one JSON object, {workload: {metric: value}}, instead of a table
//   --quick  a smoke run: sleeps and loop counts a tenth, fewer and smaller batches

#include <concur/future.hpp>
#include <concur/process_pool.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../examples/count_workload.hpp"  // the talks' count loop, as the examples run it

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// Every size of every workload; bench/py_side_by_side.py has the same two sets.
struct Sizes {
  double sleep_scale;            // the sleeps are 0.5 .. 0.1 s times this
  double order_seconds;          // what one order takes (a sleep)
  std::int64_t count_loops;      // count(n) loops this many times
  int count_runs;                // each way of running count is timed this often; best counts
  int round_trip_thread_calls;   // calls per timed batch
  int round_trip_process_calls;  // calls per timed batch
  int round_trip_batches;        // median of this many batches
  int fan_out_thread_tasks;      // tasks per batch
  int fan_out_process_tasks;     // tasks per batch
  int fan_out_batches;           // median of this many batches
  int map_items;                 // items per map
  int map_batches;               // median of this many maps
};

constexpr Sizes full_sizes{1.0, 0.050, 10'000'000, 2, 1000, 200, 11, 10'000, 2'000, 5, 100'000, 5};
constexpr Sizes quick_sizes{0.1, 0.005, 1'000'000, 1, 200, 50, 5, 2'000, 500, 3, 20'000, 3};

constexpr std::size_t pool_workers = 2;  // round_trip, fan_out, map and count
constexpr std::size_t sleep_workers = 5;
constexpr std::size_t order_workers = 4;
constexpr int orders = 10;
constexpr std::size_t map_chunksize = 1000;

// Set in main before any pool exists: process-pool workers are forks made after that, so they
// see the same values.
std::int64_t g_loops = full_sizes.count_loops;
double g_order_seconds = full_sizes.order_seconds;
int g_wrong = 0;  // wrong results seen; touched by the main thread only

void check(bool ok, std::string_view what) {
  if (ok) return;
  ++g_wrong;
  std::cerr << "concur.bench.seed: WRONG: " << what << std::endl;
}

double elapsed_since(Clock::time_point start) {
  return Seconds(Clock::now() - start).count();
}

// Runs batch() `batches` times; returns the median of its wall times in seconds.
template <class Batch>
double median_seconds(int batches, Batch&& batch) {
  std::vector<double> times;
  for (int b = 0; b < batches; ++b) {
    const auto start = Clock::now();
    batch();
    times.push_back(elapsed_since(start));
  }
  std::sort(times.begin(), times.end());
  const std::size_t mid = times.size() / 2;
  return times.size() % 2 == 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
}

// The tasks: plain functions, so that a process pool can run them too.

double sleep_task(double seconds) {
  std::this_thread::sleep_for(Seconds(seconds));
  return seconds;
}

using Order = std::pair<int, std::string>;  // (number, what was ordered)

int process_order(const Order& order) {
  std::this_thread::sleep_for(Seconds(g_order_seconds));
  return order.first >= 1 ? static_cast<int>(::getpid()) : -1;
}

// The talks' loop, g_loops times (examples/count_workload.hpp).
std::int64_t count(int number) {
  return count_workload::count(g_loops, number);
}

int noop() {
  return 1;
}

int twice(int x) {
  return 2 * x;
}

// One workload's figures, in the order they are printed.
struct Workload {
  std::string name;
  std::vector<std::pair<std::string, double>> metrics;
};

// 1. sleep: five waits, one after another, then on five threads, then on five processes.
Workload run_sleep(const Sizes& sizes) {
  std::vector<double> sleeps;
  for (double s : {0.5, 0.4, 0.3, 0.2, 0.1}) sleeps.push_back(s * sizes.sleep_scale);
  const double total = std::accumulate(sleeps.begin(), sleeps.end(), 0.0);

  auto start = Clock::now();
  double sum = 0;
  for (double s : sleeps) sum += sleep_task(s);
  const double serial = elapsed_since(start);
  check(sum == total, "sleep: serial results");

  start = Clock::now();
  sum = 0;
  {
    concur::ThreadPoolExecutor pool(sleep_workers);
    for (double r : pool.map(sleep_task, sleeps)) sum += r;
  }
  const double threads = elapsed_since(start);
  check(sum == total, "sleep: thread-pool results");

  start = Clock::now();
  sum = 0;
  {
    concur::ProcessPoolExecutor pool(sleep_workers);
    for (double r : pool.map(sleep_task, sleeps)) sum += r;
  }
  const double processes = elapsed_since(start);
  check(sum == total, "sleep: process-pool results");

  return {"sleep", {{"serial_s", serial}, {"threads_s", threads}, {"processes_s", processes}}};
}

// 2. order queue: ten orders on four worker processes; which workers took them.
Workload run_order_queue() {
  const char* const items[] = {"apples", "bread",  "cheese", "dates", "eggs",
                               "flour",  "grapes", "honey",  "ink",   "jam"};
  std::vector<Order> queue;
  for (int i = 0; i < orders; ++i) queue.emplace_back(i + 1, items[i]);

  const auto start = Clock::now();
  std::vector<int> pids;
  {
    concur::ProcessPoolExecutor pool(order_workers);
    std::vector<concur::Future<int>> futures;
    for (const Order& order : queue) futures.push_back(pool.submit(process_order, order));
    for (const concur::Future<int>& f : futures) pids.push_back(f.result());
  }
  const double seconds = elapsed_since(start);

  const std::set<int> workers(pids.begin(), pids.end());
  check(pids.size() == static_cast<std::size_t>(orders), "order_queue: every order answered");
  check(!workers.contains(-1) && !workers.contains(static_cast<int>(::getpid())),
        "order_queue: orders ran in worker processes");
  return {"order_queue",
          {{"seconds", seconds},
           {"distinct_workers", static_cast<double>(workers.size())},
           {"orders", orders}}};
}

// 3. count: ten CPU-bound calls, sequential, on two threads, on two processes.
std::vector<std::int64_t> count_sequential(const std::vector<int>& numbers) {
  std::vector<std::int64_t> results;
  for (int n : numbers) results.push_back(count(n));
  return results;
}

template <class Pool>
std::vector<std::int64_t> count_on(const std::vector<int>& numbers) {
  std::vector<std::int64_t> results;
  Pool pool(pool_workers);
  for (std::int64_t r : pool.map(count, numbers)) results.push_back(r);
  return results;
}  // the destructor shuts the pool down, inside the timed region

Workload run_count(const Sizes& sizes) {
  const std::vector<int> numbers{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  using Way = std::vector<std::int64_t> (*)(const std::vector<int>&);
  const Way ways[] = {count_sequential, count_on<concur::ThreadPoolExecutor>,
                      count_on<concur::ProcessPoolExecutor>};
  double best[3] = {1e300, 1e300, 1e300};
  for (int run = 0; run < sizes.count_runs; ++run) {
    for (std::size_t w = 0; w < 3; ++w) {
      const auto start = Clock::now();
      const std::vector<std::int64_t> results = ways[w](numbers);
      best[w] = std::min(best[w], elapsed_since(start));
      bool right = results.size() == numbers.size();
      for (std::size_t i = 0; right && i < numbers.size(); ++i)
        right = results[i] == g_loops * numbers[i];
      check(right, "count: results");
    }
  }
  return {"count",
          {{"loops", static_cast<double>(g_loops)},
           {"sequential_s", best[0]},
           {"threads_s", best[1]},
           {"processes_s", best[2]},
           {"threads_speedup", best[0] / best[1]},
           {"processes_speedup", best[0] / best[2]}}};
}

// 4. round trip: one no-op at a time; microseconds per call.
template <class Pool>
double round_trip_us(int calls, int batches) {
  Pool pool(pool_workers);
  for (int i = 0; i < 100; ++i) check(pool.submit(noop).result() == 1, "round_trip: warm-up");
  int sum = 0;
  const double seconds = median_seconds(batches, [&] {
    for (int i = 0; i < calls; ++i) sum += pool.submit(noop).result();
  });
  check(sum == calls * batches, "round_trip: results");
  return seconds / calls * 1e6;
}

Workload run_round_trip(const Sizes& sizes) {
  return {"round_trip",
          {{"threads_us", round_trip_us<concur::ThreadPoolExecutor>(sizes.round_trip_thread_calls,
                                                                    sizes.round_trip_batches)},
           {"processes_us", round_trip_us<concur::ProcessPoolExecutor>(
                                sizes.round_trip_process_calls, sizes.round_trip_batches)}}};
}

// 5. fan-out: submit every task, then wait for all of them; microseconds per task.
template <class Pool>
double fan_out_us(int tasks, int batches) {
  Pool pool(pool_workers);
  check(pool.submit(noop).result() == 1, "fan_out: warm-up");
  std::vector<concur::Future<int>> futures;
  futures.reserve(static_cast<std::size_t>(tasks));
  bool right = true;
  const double seconds = median_seconds(batches, [&] {
    futures.clear();
    for (int i = 0; i < tasks; ++i) futures.push_back(pool.submit(noop));
    concur::wait(futures);
    int sum = 0;
    for (const concur::Future<int>& f : futures) sum += f.result();
    right = right && sum == tasks;
  });
  check(right, "fan_out: results");
  return seconds / tasks * 1e6;
}

Workload run_fan_out(const Sizes& sizes) {
  return {"fan_out",
          {{"threads_us_per_task", fan_out_us<concur::ThreadPoolExecutor>(
                                       sizes.fan_out_thread_tasks, sizes.fan_out_batches)},
           {"processes_us_per_task", fan_out_us<concur::ProcessPoolExecutor>(
                                         sizes.fan_out_process_tasks, sizes.fan_out_batches)},
           {"threads_tasks", sizes.fan_out_thread_tasks},
           {"processes_tasks", sizes.fan_out_process_tasks}}};
}

// 6. map: x -> 2x over many ints, 1000 calls per task; nanoseconds per item.
template <class Pool>
double map_ns_per_item(int items, int batches) {
  Pool pool(pool_workers);
  check(pool.submit(noop).result() == 1, "map: warm-up");
  std::vector<int> xs(static_cast<std::size_t>(items));
  std::iota(xs.begin(), xs.end(), 0);
  const std::int64_t expected = std::int64_t{items} * (items - 1);  // 2 * (0 + ... + items-1)
  concur::MapOptions options;
  options.chunksize = map_chunksize;
  bool right = true;
  const double seconds = median_seconds(batches, [&] {
    std::int64_t sum = 0;
    for (int y : pool.map(twice, xs, options)) sum += y;
    right = right && sum == expected;
  });
  check(right, "map: results");
  return seconds / items * 1e9;
}

Workload run_map(const Sizes& sizes) {
  return {"map",
          {{"threads_ns_per_item",
            map_ns_per_item<concur::ThreadPoolExecutor>(sizes.map_items, sizes.map_batches)},
           {"processes_ns_per_item",
            map_ns_per_item<concur::ProcessPoolExecutor>(sizes.map_items, sizes.map_batches)},
           {"items", sizes.map_items},
           {"chunksize", static_cast<double>(map_chunksize)}}};
}

// Whole numbers (sizes, counts) in full, the rest to 6 significant digits.
std::string number(double value) {
  std::ostringstream out;
  if (value > -1e15 && value < 1e15 &&
      value == static_cast<double>(static_cast<std::int64_t>(value))) {
    out << static_cast<std::int64_t>(value);
  } else {
    out << std::setprecision(6) << value;
  }
  return out.str();
}

void print_json(const std::vector<Workload>& workloads, bool quick) {
  std::cout << "{\n  \"meta\": {\"quick\": " << (quick ? "true" : "false")
            << ", \"cpus\": " << std::thread::hardware_concurrency()
            << ", \"workers\": " << pool_workers << ", \"compiler\": \""
#if defined(__clang__)
            << "clang++ " << __clang_major__ << '.' << __clang_minor__ << '.'
            << __clang_patchlevel__
#elif defined(__GNUC__)
            << "g++ " << __GNUC__ << '.' << __GNUC_MINOR__ << '.' << __GNUC_PATCHLEVEL__
#else
            << "unknown"
#endif
            << "\"}";
  for (const Workload& w : workloads) {
    std::cout << ",\n  \"" << w.name << "\": {";
    for (std::size_t i = 0; i < w.metrics.size(); ++i) {
      std::cout << (i == 0 ? "" : ", ") << '"' << w.metrics[i].first
                << "\": " << number(w.metrics[i].second);
    }
    std::cout << '}';
  }
  std::cout << "\n}" << std::endl;
}

void print_table(const std::vector<Workload>& workloads, bool quick) {
  std::cout << "concur seed workloads" << (quick ? " (--quick)" : "") << ", "
            << std::thread::hardware_concurrency() << " CPUs, pools of " << pool_workers
            << " workers unless named\n";
  for (const Workload& w : workloads) {
    std::cout << w.name << '\n';
    for (const auto& [metric, value] : w.metrics)
      std::cout << "  " << std::left << std::setw(24) << metric << number(value) << '\n';
  }
  std::cout << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--json") {
      json = true;
    } else if (arg == "--quick") {
      quick = true;
    } else {
      std::cerr << "usage: concur.bench.seed [--json] [--quick]\n";
      return 2;
    }
  }
  const Sizes& sizes = quick ? quick_sizes : full_sizes;
  g_loops = sizes.count_loops;
  g_order_seconds = sizes.order_seconds;

  std::vector<Workload> workloads;
  try {
    workloads.push_back(run_sleep(sizes));
    workloads.push_back(run_order_queue());
    workloads.push_back(run_count(sizes));
    workloads.push_back(run_round_trip(sizes));
    workloads.push_back(run_fan_out(sizes));
    workloads.push_back(run_map(sizes));
  } catch (const std::exception& e) {
    std::cerr << "concur.bench.seed: unexpected exception: " << e.what() << std::endl;
    return 1;
  }
  if (json) {
    print_json(workloads, quick);
  } else {
    print_table(workloads, quick);
  }
  if (g_wrong != 0) {
    std::cerr << "concur.bench.seed: " << g_wrong << " wrong result(s)" << std::endl;
    return 1;
  }
  return 0;
}
