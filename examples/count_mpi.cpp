// examples/count_mpi.cpp - the talks' "count" workload (pure CPU work) on the ranks of an MPI job.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Shows: count(loops, number), the CPU-bound loop of examples/count.cpp, run for number in 1..10
// by rank 0 of an MPI job three ways: sequentially on rank 0 (1), through map() on an
// MPIPoolExecutor whose workers are the other ranks (2), and, as a control, on two plain
// std::threads of rank 0 taking five calls each (3). Every rank runs this same program:
// concur::mpi_main makes rank 0 the client (it calibrates, times and submits) and the others
// the pool's workers. The loop count is calibrated on rank 0, so it travels with each call as
// an argument: a global set on rank 0 would not reach the other processes. Each way runs five
// times, in an order that rotates from round to round, and its median time counts, so that a
// burst of load from elsewhere does not decide the comparison. The pool is built once, before
// any timing (its workers are the job's ranks), so its times do not include starting it.
// Expect: "item N result M" lines (M = N times the loop count) and a time for each way's first
// run, the five times and the median of each way, then a last line like "speedup vs
// sequential: mpi 1.80x, raw threads 1.85x (mpi 0.97 of raw)": with as many worker ranks as
// cores, mpi should come close to the control. Exits 1 if a result is wrong (never because of
// a speedup: timings depend on the machine and its load). Runs in about 10 s.
// Run: mpirun --oversubscribe -n 3 build/<preset>/examples/count_mpi (2 worker ranks).

#include <concur/mpi.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "count_workload.hpp"

namespace {

using count_workload::Clock;
using count_workload::count;  // count(loops, number): both arguments cross to the worker ranks
using count_workload::fixed;
using count_workload::numbers;
using count_workload::Seconds;
using count_workload::Way;
using count_workload::with_commas;

constexpr double target_sequential_seconds = 1.0;
constexpr std::size_t rounds = 5;

std::int64_t g_loops = 0;                   // rank 0's calibrated loop count (rank 0 only)
concur::MPIPoolExecutor* g_pool = nullptr;  // rank 0's pool, while the client runs
int g_wrong = 0;                            // results that are not number * g_loops, over every run

// 1. One call after another, on rank 0.
std::vector<std::int64_t> run_sequential() {
  std::vector<std::int64_t> results;
  for (int number : numbers) results.push_back(count(g_loops, number));
  return results;
}

// 2. map() on the pool's worker ranks: results come back in input order. map() zips its
// iterables, as Python's does: call i gets the loop count and number i.
std::vector<std::int64_t> run_mpi() {
  const std::vector<std::int64_t> loops(numbers.size(), g_loops);
  std::vector<std::int64_t> results;
  for (std::int64_t r : g_pool->map(count, loops, numbers)) results.push_back(r);
  return results;
}

// 3. Control: no library, two threads of rank 0, five calls each.
std::vector<std::int64_t> run_raw_threads() {
  return count_workload::run_raw_threads(g_loops);
}

constexpr std::size_t sequential = 0;
constexpr std::size_t mpi = 1;
constexpr std::size_t raw_threads = 2;
const std::array<Way, 3> g_ways{{
    {"1. sequential, on rank 0", "sequential", run_sequential},
    {"2. MPIPoolExecutor, map(count, loops, 1..10) on the worker ranks", "mpi", run_mpi},
    {"3. control: two std::threads on rank 0, five calls each", "raw threads", run_raw_threads},
}};

Seconds timed(const Way& way, bool verbose) {
  return count_workload::timed(way, verbose, g_loops, g_wrong);
}

Seconds median(std::array<Seconds, rounds> times) {
  std::sort(times.begin(), times.end());
  return times[rounds / 2];
}

// Rank 0: calibrates, runs every way `rounds` times and prints the comparison.
int client(concur::MPIPoolExecutor& pool) {
  g_pool = &pool;
  const auto program_start = Clock::now();
  g_loops = count_workload::calibrate(target_sequential_seconds);
  std::cout << "concur count_mpi example: " << pool.max_workers() + 1 << " MPI ranks\n"
            << "  rank 0 is the client (it calibrates, times every way and submits); ranks 1.."
            << pool.max_workers() << " are its MPIPoolExecutor's workers\n"
            << "  count(loops, number) loops " << with_commas(g_loops)
            << " times, for number in 1..10; the loop count travels with each call\n"
            << "  (calibrated on rank 0 so that the sequential run takes about "
            << fixed(target_sequential_seconds, 2) << " s)\n"
            << "  " << std::thread::hardware_concurrency()
            << " CPUs: no run can be more than that many times faster than sequential\n"
            << "  the pool is built before any timing: its times do not include starting it\n"
            << "  each way runs " << rounds
            << " times, in an order that rotates each round; the median counts" << std::endl;

  std::array<std::array<Seconds, rounds>, g_ways.size()> times{};
  try {
    for (std::size_t w = 0; w < g_ways.size(); ++w) times[w][0] = timed(g_ways[w], true);
    std::cout << "\nrounds 2.." << rounds << " (results checked, not printed)\n";
    for (std::size_t r = 1; r < rounds; ++r) {
      std::cout << "  round " << r + 1 << ':';
      for (std::size_t k = 0; k < g_ways.size(); ++k) {
        const std::size_t w = (r + k) % g_ways.size();
        times[w][r] = timed(g_ways[w], false);
        std::cout << ' ' << g_ways[w].name << ' ' << fixed(times[w][r].count(), 3) << " s"
                  << (k + 1 == g_ways.size() ? "\n" : ",");
      }
      std::cout << std::flush;
    }
  } catch (const std::exception& e) {
    std::cerr << "count_mpi: unexpected exception: " << e.what() << std::endl;
    return 1;
  }

  std::cout << '\n';
  std::array<Seconds, g_ways.size()> medians{};
  for (std::size_t w = 0; w < g_ways.size(); ++w) {
    medians[w] = median(times[w]);
    std::cout << g_ways[w].name << ':';
    for (const Seconds t : times[w]) std::cout << ' ' << fixed(t.count(), 3);
    std::cout << " s, median " << fixed(medians[w].count(), 3) << " s\n";
  }
  std::cout << "total: " << fixed(Seconds(Clock::now() - program_start).count(), 2) << " s\n";
  if (g_wrong == 0) std::cout << "all results correct\n";
  const double mpi_x = medians[sequential] / medians[mpi];
  const double raw_x = medians[sequential] / medians[raw_threads];
  std::cout << "speedup vs sequential: mpi " << fixed(mpi_x, 2) << "x, raw threads "
            << fixed(raw_x, 2) << "x (mpi " << fixed(mpi_x / raw_x, 2) << " of raw)" << std::endl;

  g_pool = nullptr;
  if (g_wrong != 0) {
    std::cerr << g_wrong << " wrong result(s)" << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Every rank: rank 0 runs client(pool); the others serve the pool until client returns.
  return concur::mpi_main(argc, argv, client);
}
