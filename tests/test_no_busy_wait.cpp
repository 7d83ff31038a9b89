// tests/test_no_busy_wait.cpp - waiting blocks; it does not poll or spin.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// DESIGN.md "wait and as_completed": "Neither polls nor sleeps in a loop: a completing future
// wakes the waiter." Each case waits 1 s on futures that stay pending and measures the CPU time
// the waiting thread used (getrusage(RUSAGE_THREAD), user + system). A blocked thread uses
// almost none; a thread polling in a loop uses most of that second. The bound, 0.05 s of CPU
// per second waited, leaves room for sanitizers and a noisy machine and still catches a poll
// loop that sleeps a millisecond between looks.
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <sys/resource.h>

#include <chrono>
#include <functional>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/cpu_time.hpp"
#include "support/gate.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto kWait = std::chrono::seconds(1);
constexpr double kMaxCpuSeconds = 0.05;  // per kWait

double thread_cpu_seconds() {
  return concur_test::cpu_seconds(RUSAGE_THREAD);
}

struct Cost {
  double cpu_seconds;
  std::chrono::steady_clock::duration wall;
};

// CPU time and wall time that `wait` costs the calling thread.
Cost measure(const std::function<void()>& wait) {
  const double cpu_before = thread_cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  wait();
  const auto wall = std::chrono::steady_clock::now() - wall_before;
  return {thread_cpu_seconds() - cpu_before, wall};
}

// Futures that stay pending for as long as the test wants: one from a promise, one held by a
// pool's only worker and one queued behind it.
struct PendingFutures {
  concur::Promise<int> promise;
  concur::Future<int> from_promise = promise.get_future();
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool{1};
  concur::Future<int> running = pool.submit([this] {
    gate.wait();
    return 1;
  });
  concur::Future<int> queued = pool.submit([] { return 2; });

  std::vector<concur::Future<int>> all() const { return {from_promise, running, queued}; }
  ~PendingFutures() {
    gate.open();
    promise.set_result(0);
  }
};

void check(const Cost& cost) {
  CAPTURE(cost.cpu_seconds);
  REQUIRE(cost.wall >= kWait - 10ms);  // it really waited (one-sided: never too early)
  REQUIRE(cost.cpu_seconds < kMaxCpuSeconds);
}

}  // namespace

TEST_CASE("Future::result(timeout) on a pending future blocks without using the CPU",
          "[no_busy_wait][future]") {
  PendingFutures pending;
  SECTION("a promise's future") {
    check(measure(
        [&] { REQUIRE_THROWS_AS(pending.from_promise.result(kWait), concur::TimeoutError); }));
  }
  SECTION("a pool's queued future") {
    check(measure([&] { REQUIRE_THROWS_AS(pending.queued.result(kWait), concur::TimeoutError); }));
  }
  SECTION("wait_for and exception(timeout)") {
    check(measure([&] { REQUIRE_FALSE(pending.running.wait_for(kWait)); }));
    check(measure(
        [&] { REQUIRE_THROWS_AS(pending.running.exception(kWait), concur::TimeoutError); }));
  }
}

TEST_CASE("concur::wait with a timeout on pending futures blocks without using the CPU",
          "[no_busy_wait][wait]") {
  PendingFutures pending;
  const std::vector<concur::Future<int>> futures = pending.all();
  const auto when = GENERATE(concur::ReturnWhen::all_completed, concur::ReturnWhen::first_completed,
                             concur::ReturnWhen::first_exception);
  check(measure([&] {
    auto result = concur::wait(futures, kWait, when);
    REQUIRE(result.done.empty());
    REQUIRE(result.not_done.size() == 3);
  }));
}

TEST_CASE("as_completed with a timeout on pending futures blocks without using the CPU",
          "[no_busy_wait][as_completed]") {
  PendingFutures pending;
  const std::vector<concur::Future<int>> futures = pending.all();
  check(measure([&] {
    auto completed = concur::as_completed(futures, kWait);
    REQUIRE_THROWS_AS(completed.begin(), concur::TimeoutError);
  }));
}

TEST_CASE("a pool worker waiting on a pending future with nothing queued does not spin",
          "[no_busy_wait][thread_pool]") {
  // A worker that waits runs its pool's queued tasks meanwhile; with none queued it must block,
  // not alternate between looking at the queue and at the future.
  concur::Promise<int> promise;
  concur::Future<int> never = promise.get_future();
  concur::ThreadPoolExecutor pool(2);
  auto f = pool.submit([&never] {
    bool timed_out = false;  // no Catch assertions off the test's thread
    const Cost cost = measure([&] {
      try {
        (void)never.result(kWait);
      } catch (const concur::TimeoutError&) {
        timed_out = true;
      }
    });
    return std::pair<bool, Cost>{timed_out, cost};
  });
  const auto [timed_out, cost] = f.result();
  REQUIRE(timed_out);
  check(cost);
  promise.set_result(0);
}
