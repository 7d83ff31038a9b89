// tests/mpi/test_mpi.cpp - MPIPoolExecutor, run as one MPI job: `mpirun -n 3 concur.mpi.tests`.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// concur::mpi_main splits the ranks: rank 0 runs the Catch session with one pool shared by
// every test case (the workers serve one pool per job); the other ranks serve it. When the
// session ends, the pool shuts down and every rank finalises MPI: mpirun's exit status 0 shows
// that shutdown ended every rank cleanly.
#if __has_include(<catch2/catch_session.hpp>)  // Catch2 v3: the session comes from the library
#include <catch2/catch_session.hpp>
#else  // Catch2 v2: this file provides Catch's main parts
#define CATCH_CONFIG_RUNNER
#endif

#include <concur/future.hpp>
#include <concur/mpi.hpp>
#include <concur/wait.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/cpu_time.hpp"

using namespace std::chrono_literals;

namespace {

concur::MPIPoolExecutor* g_pool = nullptr;

concur::MPIPoolExecutor& pool() {
  REQUIRE(g_pool != nullptr);
  return *g_pool;
}

// CPU time (user + system) of this whole process: on rank 0, the test's thread and the pool's
// manager thread; on a worker rank, the worker.
double process_cpu_seconds() {
  return concur_test::cpu_seconds(RUSAGE_SELF);
}

// ---- tasks: functions of this program, run on the worker ranks ----

int twice(int x) {
  return 2 * x;
}
std::string shout(std::string s) {
  return s + "!";
}
int rank_pid(int /*unused*/) {
  return static_cast<int>(::getpid());
}
int sleep_then(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int out_of_range(int x) {
  throw std::out_of_range("index " + std::to_string(x) + " too large");
}
struct Custom {
  int code;
};
int custom_throw(int x) {
  throw Custom{x};
}
std::vector<std::int64_t> squares(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < n; ++i) out.push_back(i * i);
  return out;
}

}  // namespace

TEST_CASE("mpi: submit runs a function on a worker rank and returns its value", "[mpi][submit]") {
  REQUIRE(pool().max_workers() == 2);
  REQUIRE(pool().submit(twice, 21).result() == 42);
  REQUIRE(pool().submit(shout, std::string("hello")).result() == "hello!");
  // A captureless lambda travels too (its type names the code); so does a large value.
  REQUIRE(pool().submit([](int a, int b) { return a * b; }, 6, 7).result() == 42);
  const std::vector<std::int64_t> big = pool().submit(squares, std::int64_t{200'000}).result();
  REQUIRE(big.size() == 200'000);
  REQUIRE(big.back() == std::int64_t{199'999} * 199'999);
}

TEST_CASE("mpi: calls run on the worker ranks, not on the client", "[mpi][submit]") {
  std::vector<concur::Future<int>> pids;
  for (int i = 0; i < 8; ++i) pids.push_back(pool().submit(rank_pid, i));
  std::set<int> seen;
  for (auto& f : pids) seen.insert(f.result());
  REQUIRE(seen.count(static_cast<int>(::getpid())) == 0);
  REQUIRE(seen.size() >= 1);
  // Calls that take a while spread over both workers.
  std::vector<concur::Future<int>> slow;
  for (int i = 0; i < 4; ++i)
    slow.push_back(pool().submit(
        [](int ms) {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          return static_cast<int>(::getpid());
        },
        200));
  std::set<int> slow_seen;
  for (auto& f : slow) slow_seen.insert(f.result());
  REQUIRE(slow_seen.size() == 2);
}

TEST_CASE("mpi: a worker's exception reaches the future as itself, or as RemoteError",
          "[mpi][exceptions]") {
  auto standard = pool().submit(out_of_range, 9);
  REQUIRE_THROWS_AS(standard.result(), std::out_of_range);
  REQUIRE_THROWS_WITH(standard.result(), concur_test::ContainsSubstring("index 9 too large"));
  auto custom = pool().submit(custom_throw, 3);
  REQUIRE_THROWS_AS(custom.result(), concur::RemoteError);
  // The pool goes on serving.
  REQUIRE(pool().submit(twice, 5).result() == 10);
}

TEST_CASE("mpi: map keeps input order, with chunksize and buffersize, and goes on past errors",
          "[mpi][map]") {
  std::vector<int> xs;
  for (int i = 0; i < 1000; ++i) xs.push_back(i);
  for (const concur::MapOptions options :
       {concur::MapOptions{}, concur::MapOptions{.chunksize = 64},
        concur::MapOptions{.chunksize = 7, .buffersize = 3}}) {
    std::vector<int> got;
    for (int v : pool().map(twice, xs, options)) got.push_back(v);
    REQUIRE(got.size() == xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) REQUIRE(got[i] == 2 * xs[i]);
  }
  auto results = pool().map(
      [](int x) {
        if (x == 3) throw std::invalid_argument("three");
        return x;
      },
      std::vector<int>{1, 2, 3, 4}, concur::MapOptions{.chunksize = 2});
  int index = 0;
  for (auto it = results.begin(); it != results.end(); ++it, ++index) {
    if (index == 2) {
      REQUIRE_THROWS_AS(*it, std::invalid_argument);
    } else {
      REQUIRE(*it == index + 1);
    }
  }
  REQUIRE(index == 4);
}

TEST_CASE("mpi: a call still queued on the client can be cancelled; it never runs",
          "[mpi][cancel]") {
  // Each worker takes at most two calls at a time, so of six 300 ms calls two stay queued on
  // rank 0 for a while: cancelling the last one there wins.
  std::vector<concur::Future<int>> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(pool().submit(sleep_then, 300));
  REQUIRE(calls.back().cancel());
  REQUIRE_THROWS_AS(calls.back().result(), concur::CancelledError);
  for (std::size_t i = 0; i + 1 < calls.size(); ++i) REQUIRE(calls[i].result() == 300);
}

TEST_CASE("mpi: futures work with as_completed, wait, callbacks and continuations",
          "[mpi][future]") {
  std::vector<concur::Future<int>> fs;
  for (int ms : {300, 10, 150}) fs.push_back(pool().submit(sleep_then, ms));
  std::vector<int> order;
  for (auto& f : concur::as_completed(fs)) order.push_back(f.result());
  REQUIRE(order.size() == 3);
  REQUIRE(order.front() == 10);  // the short call first, whatever the submission order

  auto a = pool().submit(sleep_then, 50);
  auto b = pool().submit(sleep_then, 60);
  const auto done = concur::wait(std::vector<concur::Future<int>>{a, b});
  REQUIRE(done.done.size() == 2);

  std::atomic<int> called{0};
  auto c = pool().submit(twice, 4);
  c.add_done_callback([&called](const concur::Future<int>& f) { called = f.result(); });
  auto d = c.then([](int v) { return v + 1; });
  REQUIRE(d.result() == 9);
  REQUIRE(called == 8);
}

TEST_CASE("mpi: the client does not spin a core while it waits for a result",
          "[mpi][no_busy_wait]") {
  // Open MPI's blocking receives busy-poll; the pool sleeps between tests instead. Rank 0's
  // whole process (this thread and the manager) may use 0.25 s of CPU over a 1.5 s wait.
  const double before = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(pool().submit(sleep_then, 1500).result() == 1500);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double used = process_cpu_seconds() - before;
  INFO("waited " << waited << " s, rank 0 used " << used << " s of CPU");
  REQUIRE(waited >= 1.4);
  REQUIRE(used < 0.25);
}

// Each of the two workers reports its process's CPU time from inside a call that sleeps 300 ms
// (two such calls at once: one per worker).
std::vector<double> both_workers_cpu() {
  std::vector<concur::Future<double>> calls;
  for (int i = 0; i < 2; ++i) {
    calls.push_back(pool().submit(
        [](int ms) {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          return process_cpu_seconds();
        },
        300));
  }
  std::vector<double> out;
  for (auto& f : calls) out.push_back(f.result());
  return out;
}

TEST_CASE("mpi: an idle worker rank does not spin a core", "[mpi][no_busy_wait]") {
  const std::vector<double> before = both_workers_cpu();
  std::this_thread::sleep_for(1500ms);  // no calls: both workers wait for one
  const std::vector<double> after = both_workers_cpu();
  // Over 1.5 s idle and 0.3 s in a sleeping call, a worker polling without pause would use
  // about 1.8 s of CPU; the two together may use 0.5 s.
  const double used = (after[0] + after[1]) - (before[0] + before[1]);
  INFO("the two workers used " << used << " s of CPU");
  REQUIRE(used < 0.5);
}

TEST_CASE("mpi: a function outside the program's code is refused at submit", "[mpi][submit]") {
  // std::cos lives in libm, which each rank maps where it likes: its address means nothing on
  // another rank, so submit throws before anything is sent.
  double (*cosine)(double) = &::cos;
  REQUIRE_THROWS_WITH(pool().submit(cosine, 0.0),
                      concur_test::ContainsSubstring("not in the program's own code"));
  // A lambda of the program that calls it is fine.
  REQUIRE(pool().submit([](double x) { return std::cos(x); }, 0.0).result() == 1.0);
}

int main(int argc, char** argv) {
  return concur::mpi_main(argc, argv, [&](concur::MPIPoolExecutor& p) {
    g_pool = &p;
    const int failed = Catch::Session().run(argc, argv);
    g_pool = nullptr;
    return failed;
  });
}
