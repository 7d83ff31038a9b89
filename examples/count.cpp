// examples/count.cpp - the talks' "count" workload (pure CPU work) on threads and on processes.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Shows: count(number), a CPU-bound loop, run for number in 1..10 sequentially (1), on a
// ThreadPoolExecutor(5) through map() (2), on a ProcessPoolExecutor(5) through map() (3), and,
// as a control, on two plain std::threads taking five calls each (4); then all four again in
// reverse order (5), keeping each one's faster time, so that a burst of load from elsewhere
// does not decide the comparison. In Python the threads gain nothing (the GIL lets one thread
// run Python code at a time) and only processes help; in C++ both pools should come close to
// the control, which is as fast as this machine allows.
// Expect: "item N result M" lines (M = N times the loop count) and a time for each run, then a
// last line like "speedup vs sequential: threads 1.95x, processes 1.93x, raw threads 1.97x
// (threads 0.99 of raw, processes 0.98 of raw)": about the number of cores, at most 5. Exits 1
// if a result is wrong (never because of a speedup: timings depend on the machine and its load).
// Runs in about 5 s: the loop count is calibrated so that a sequential run takes about 1 s.
// Pass --talk for the talks' own ten million loops, which C++ runs in milliseconds.

#include <concur/process_pool.hpp>
#include <concur/thread_pool.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "count_workload.hpp"

namespace {

using count_workload::Clock;
using count_workload::fixed;
using count_workload::numbers;
using count_workload::Seconds;
using count_workload::Way;
using count_workload::with_commas;

constexpr std::int64_t talk_loops = 10'000'000;
constexpr double target_sequential_seconds = 1.0;

// How many times count() loops. Set in main before any pool exists: the process pool's workers
// are forks of this program made when the pool is built, so they see the value it had then.
std::int64_t g_loops = talk_loops;

// The talks' task with this run's loop count, as the pools call it (a plain function: a process
// pool requires one). Every way runs count_workload::count, the same machine code.
std::int64_t count(int number) {
  return count_workload::count(g_loops, number);
}

int g_wrong = 0;  // results that are not number * g_loops, over every run

// 1. One call after another.
std::vector<std::int64_t> run_sequential() {
  std::vector<std::int64_t> results;
  for (int number : numbers) results.push_back(count(number));
  return results;
}

// 2. map() on five threads: results come back in input order.
std::vector<std::int64_t> run_threads() {
  std::vector<std::int64_t> results;
  concur::ThreadPoolExecutor pool(5);
  for (std::int64_t r : pool.map(count, numbers)) results.push_back(r);
  return results;
}  // like Python's with-block: the destructor shuts the pool down

// 3. The same on five worker processes. count is a plain function, as a process pool requires;
// each number and each result crosses to a worker and back through concur's Codec.
std::vector<std::int64_t> run_processes() {
  std::vector<std::int64_t> results;
  concur::ProcessPoolExecutor pool(5);
  for (std::int64_t r : pool.map(count, numbers)) results.push_back(r);
  return results;
}

// 4. Control: no library, two threads, five calls each.
std::vector<std::int64_t> run_raw_threads() {
  return count_workload::run_raw_threads(g_loops);
}

const std::array<Way, 4> g_ways{{
    {"1. sequential", "sequential", run_sequential},
    {"2. ThreadPoolExecutor(5), map(count, 1..10)", "threads", run_threads},
    {"3. ProcessPoolExecutor(5), map(count, 1..10)", "processes", run_processes},
    {"4. control: two std::threads, five calls each", "raw threads", run_raw_threads},
}};

Seconds timed(const Way& way, bool verbose) {
  return count_workload::timed(way, verbose, g_loops, g_wrong);
}

}  // namespace

int main(int argc, char** argv) {
  bool talk = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--talk") {
      talk = true;
    } else {
      std::cerr << "usage: count [--talk]\n";
      return 2;
    }
  }

  const auto program_start = Clock::now();
  g_loops = talk ? talk_loops : count_workload::calibrate(target_sequential_seconds);
  std::cout << "concur count example: count(number) loops " << with_commas(g_loops)
            << " times, for number in 1..10\n"
            << (talk ? "  (--talk: the talks' ten million loops)\n"
                     : "  (calibrated so that the sequential run takes about " +
                           fixed(target_sequential_seconds, 2) +
                           " s; --talk for the talks' ten million)\n")
            << "  " << std::thread::hardware_concurrency()
            << " CPUs: no run can be more than that many times faster than sequential\n"
            << "  pool times include building the pool and shutting it down, as Python's "
               "with-block does\n"
            << "  each way runs twice, the second time in reverse order; the faster time counts"
            << std::endl;

  std::array<Seconds, g_ways.size()> best;
  try {
    for (std::size_t w = 0; w < g_ways.size(); ++w) best[w] = timed(g_ways[w], true);
    std::cout << "\n5. again, in reverse order (results checked, not printed)\n ";
    for (std::size_t k = g_ways.size(); k-- > 0;) {
      const Seconds again = timed(g_ways[k], false);
      std::cout << ' ' << g_ways[k].name << ' ' << fixed(again.count(), 3) << " s"
                << (k == 0 ? "\n" : ",");
      best[k] = std::min(best[k], again);
    }
  } catch (const std::exception& e) {
    std::cerr << "count: unexpected exception: " << e.what() << std::endl;
    return 1;
  }

  std::cout << "\nbest of two:";
  for (std::size_t w = 0; w < g_ways.size(); ++w) {
    std::cout << ' ' << g_ways[w].name << ' ' << fixed(best[w].count(), 3) << " s"
              << (w + 1 == g_ways.size() ? "\n" : ",");
  }
  std::cout << "total: " << fixed(Seconds(Clock::now() - program_start).count(), 2) << " s\n";
  if (g_wrong == 0) std::cout << "all results correct\n";
  const double threads_x = best[0] / best[1];
  const double processes_x = best[0] / best[2];
  const double raw_x = best[0] / best[3];
  std::cout << "speedup vs sequential: threads " << fixed(threads_x, 2) << "x, processes "
            << fixed(processes_x, 2) << "x, raw threads " << fixed(raw_x, 2) << "x (threads "
            << fixed(threads_x / raw_x, 2) << " of raw, processes " << fixed(processes_x / raw_x, 2)
            << " of raw)" << std::endl;

  if (g_wrong != 0) {
    std::cerr << g_wrong << " wrong result(s)" << std::endl;
    return 1;
  }
  return 0;
}
