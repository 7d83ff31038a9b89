// examples/count_workload.hpp - the talks' "count" task and what its two examples share:
// count.cpp (threads and processes) and count_mpi.cpp (MPI ranks).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace count_workload {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// The talks' task: `i += 1` loops times, then `return i * number`. Never inlined, so that every
// way of running it times the very same machine code, not copies the compiler placed or
// optimised apart.
[[gnu::noinline]] inline std::int64_t count(std::int64_t loops, int number) {
  std::int64_t i = 0;
  for (std::int64_t k = 0; k < loops; ++k) {
    ++i;
    // Tells the compiler that i may have changed, so it cannot fold the loop into i = loops
    // (what -O2 would do); costs nothing at run time (Google Benchmark's DoNotOptimize trick).
    asm volatile("" : "+r"(i));
  }
  return i * number;
}

// The talks' numbers: count(loops, number) for number in 1..10.
inline const std::vector<int> numbers{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

inline std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

inline std::string with_commas(std::int64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

// Seconds one call of count() takes with `loops` loops.
inline double time_one_call(std::int64_t loops) {
  const auto start = Clock::now();
  const std::int64_t result = count(loops, 1);
  const Seconds took = Clock::now() - start;
  if (result != loops) std::cerr << "count(1) returned " << result << std::endl;  // never
  return took.count();
}

// Finds the loop count for which the ten sequential calls take about `seconds`: grows the count
// until one call takes at least 10 ms, times three calls of ~30 ms and scales by the fastest
// (a busy machine only ever makes a call slower).
inline std::int64_t calibrate(double seconds) {
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

// The control: no library, two std::threads, five calls each.
inline std::vector<std::int64_t> run_raw_threads(std::int64_t loops) {
  std::vector<std::int64_t> results(numbers.size());
  const std::size_t half = numbers.size() / 2;
  auto calls = [&results, loops](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) results[i] = count(loops, numbers[i]);
  };
  std::thread first(calls, std::size_t{0}, half);
  std::thread second(calls, half, numbers.size());
  first.join();
  second.join();
  return results;
}

// One way of making the ten calls.
struct Way {
  const char* title;
  const char* name;
  std::vector<std::int64_t> (*run)();
};

// Runs one way and checks its results against `loops` (each wrong one counts in `wrong`); with
// `verbose`, prints them and the time. Returns the time.
inline Seconds timed(const Way& way, bool verbose, std::int64_t loops, int& wrong) {
  if (verbose) std::cout << '\n' << way.title << '\n';
  // Flush before a process pool forks this process: a worker would print anything still
  // buffered here once more.
  std::cout << std::flush;
  const auto start = Clock::now();
  const std::vector<std::int64_t> results = way.run();
  const Seconds took = Clock::now() - start;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::int64_t expected = loops * numbers[i];
    const bool present = i < results.size();
    if (verbose) {
      std::cout << "  item " << numbers[i] << " result "
                << (present ? std::to_string(results[i]) : "missing") << '\n';
    }
    if (!present || results[i] != expected) {
      ++wrong;
      std::cerr << "WRONG: " << way.name << ": item " << numbers[i] << " should be " << expected
                << std::endl;
    }
  }
  if (verbose) std::cout << "  took " << fixed(took.count(), 3) << " s" << std::endl;
  return took;
}

}  // namespace count_workload
