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
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

constexpr double target_sequential_seconds = 1.0;
constexpr std::size_t rounds = 5;

// The talks' task: `i += 1` loops times, then `return i * number`. Never inlined, so that all
// three ways run the very same machine code, not copies the compiler placed or optimised apart.
// A plain function of the program, as an MPIPoolExecutor requires; both arguments and the
// result cross between ranks through concur's Codec.
[[gnu::noinline]] std::int64_t count(std::int64_t loops, int number) {
  std::int64_t i = 0;
  for (std::int64_t k = 0; k < loops; ++k) {
    ++i;
    // Tells the compiler that i may have changed, so it cannot fold the loop into i = loops
    // (what -O2 would do); costs nothing at run time (Google Benchmark's DoNotOptimize trick).
    asm volatile("" : "+r"(i));
  }
  return i * number;
}

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n);
  for (std::ptrdiff_t at = static_cast<std::ptrdiff_t>(digits.size()) - 3; at > 0; at -= 3)
    digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

// Seconds one call of count() takes with `loops` loops.
double time_one_call(std::int64_t loops) {
  const auto start = Clock::now();
  const std::int64_t result = count(loops, 1);
  const Seconds took = Clock::now() - start;
  if (result != loops) std::cerr << "count(1) returned " << result << std::endl;  // never
  return took.count();
}

// Finds the loop count for which the ten sequential calls take about `seconds`: grows the count
// until one call takes at least 10 ms, times three calls of ~30 ms and scales by the fastest
// (a busy machine only ever makes a call slower).
std::int64_t calibrate(double seconds) {
  std::int64_t loops = std::int64_t{1} << 16;
  double took = time_one_call(loops);
  while (took < 0.010 && loops < (std::int64_t{1} << 40)) {
    loops *= 4;
    took = time_one_call(loops);
  }
  loops = static_cast<std::int64_t>(static_cast<double>(loops) * 0.030 / took) + 1;
  double fastest = time_one_call(loops);
  for (int i = 0; i < 2; ++i) fastest = std::min(fastest, time_one_call(loops));
  const double scaled = static_cast<double>(loops) * (seconds / 10) / fastest;
  return scaled < 1'000'000.0 ? 1'000'000 : static_cast<std::int64_t>(scaled);
}

const std::vector<int> g_numbers{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
std::int64_t g_loops = 0;                   // rank 0's calibrated loop count (rank 0 only)
concur::MPIPoolExecutor* g_pool = nullptr;  // rank 0's pool, while the client runs
int g_wrong = 0;                            // results that are not number * g_loops, over every run

// 1. One call after another, on rank 0.
std::vector<std::int64_t> run_sequential() {
  std::vector<std::int64_t> results;
  for (int number : g_numbers) results.push_back(count(g_loops, number));
  return results;
}

// 2. map() on the pool's worker ranks: results come back in input order. map() zips its
// iterables, as Python's does: call i gets the loop count and number i.
std::vector<std::int64_t> run_mpi() {
  const std::vector<std::int64_t> loops(g_numbers.size(), g_loops);
  std::vector<std::int64_t> results;
  for (std::int64_t r : g_pool->map(count, loops, g_numbers)) results.push_back(r);
  return results;
}

// 3. Control: no library, two threads of rank 0, five calls each.
std::vector<std::int64_t> run_raw_threads() {
  std::vector<std::int64_t> results(g_numbers.size());
  const std::size_t half = g_numbers.size() / 2;
  auto calls = [&results](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) results[i] = count(g_loops, g_numbers[i]);
  };
  std::thread first(calls, std::size_t{0}, half);
  std::thread second(calls, half, g_numbers.size());
  first.join();
  second.join();
  return results;
}

struct Way {
  const char* title;
  const char* name;
  std::vector<std::int64_t> (*run)();
};
constexpr std::size_t sequential = 0;
constexpr std::size_t mpi = 1;
constexpr std::size_t raw_threads = 2;
const std::array<Way, 3> g_ways{{
    {"1. sequential, on rank 0", "sequential", run_sequential},
    {"2. MPIPoolExecutor, map(count, loops, 1..10) on the worker ranks", "mpi", run_mpi},
    {"3. control: two std::threads on rank 0, five calls each", "raw threads", run_raw_threads},
}};

// Runs one way of making the ten calls and checks its results; with `verbose`, prints them
// and the time. Returns the time.
Seconds timed(const Way& way, bool verbose) {
  if (verbose) std::cout << '\n' << way.title << '\n';
  std::cout << std::flush;
  const auto start = Clock::now();
  const std::vector<std::int64_t> results = way.run();
  const Seconds took = Clock::now() - start;
  for (std::size_t i = 0; i < g_numbers.size(); ++i) {
    const std::int64_t expected = g_loops * g_numbers[i];
    const bool present = i < results.size();
    if (verbose) {
      std::cout << "  item " << g_numbers[i] << " result "
                << (present ? std::to_string(results[i]) : "missing") << '\n';
    }
    if (!present || results[i] != expected) {
      ++g_wrong;
      std::cerr << "WRONG: " << way.name << ": item " << g_numbers[i] << " should be " << expected
                << std::endl;
    }
  }
  if (verbose) std::cout << "  took " << fixed(took.count(), 3) << " s" << std::endl;
  return took;
}

Seconds median(std::array<Seconds, rounds> times) {
  std::sort(times.begin(), times.end());
  return times[rounds / 2];
}

// Rank 0: calibrates, runs every way `rounds` times and prints the comparison.
int client(concur::MPIPoolExecutor& pool) {
  g_pool = &pool;
  const auto program_start = Clock::now();
  g_loops = calibrate(target_sequential_seconds);
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
