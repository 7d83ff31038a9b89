// tests/test_stop.cpp - cooperative stop of running calls: Future::request_stop() and
// shutdown(_, true) in a ThreadPoolExecutor.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// DESIGN.md (beyond) request_stop(): a task whose first parameter is std::stop_token receives
// the token tied to its future; request_stop() asks it to stop. No CPython counterpart (Python
// cannot stop a running call). The process pool's side is in test_process_stop.cpp.
#include <concur/errors.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <vector>

#include "support/catch.hpp"
#include "support/gate.hpp"

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// A hang turns into a failure after this.
constexpr auto kLongWait = 10s;

// Loops until its token is stopped, or kLongWait passes; true if it was stopped.
bool loop_until_stopped(const std::stop_token& token) {
  const auto give_up = Clock::now() + kLongWait;
  while (!token.stop_requested()) {
    if (Clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("a task looping until its token is stopped ends within 50 ms of request_stop()",
          "[stop][thread_pool]") {
  concur::ThreadPoolExecutor pool(2);
  Clock::duration worst{};
  for (int round = 0; round < 20; ++round) {
    concur_test::Gate started;
    auto f = pool.submit([&started](std::stop_token token) {
      started.open();
      return loop_until_stopped(token);
    });
    REQUIRE(started.wait_for(kLongWait));
    REQUIRE_FALSE(f.done());
    const auto asked = Clock::now();
    REQUIRE(f.request_stop());
    f.wait();
    const auto took = Clock::now() - asked;
    worst = std::max(worst, took);
    REQUIRE(f.state() == concur::FutureState::finished);
    REQUIRE(f.result());  // it saw the request, not its own deadline
    REQUIRE(took <= 50ms);
  }
  const double worst_ms = ms(worst);
  INFO("worst stop latency: " << worst_ms << " ms");
  CHECK(worst <= 50ms);
}

TEST_CASE("a task blocked in condition_variable_any::wait with its token wakes on request_stop()",
          "[stop][thread_pool]") {
  concur::ThreadPoolExecutor pool(1);
  std::mutex mutex;
  std::condition_variable_any cv;
  concur_test::Gate started;
  auto f = pool.submit([&](std::stop_token token) {
    std::unique_lock<std::mutex> lock(mutex);
    started.open();
    // Returns false only when stop was requested: the predicate never becomes true.
    return cv.wait(lock, token, [] { return false; });
  });
  REQUIRE(started.wait_for(kLongWait));
  REQUIRE(f.request_stop());
  REQUIRE(f.wait_for(kLongWait));
  REQUIRE(f.result() == false);
}

TEST_CASE("request_stop() returns true once, and false for a task that takes no token",
          "[stop][thread_pool]") {
  concur::ThreadPoolExecutor pool(2);
  concur_test::Gate gate;

  SECTION("a task without a token has no stop state") {
    auto f = pool.submit([&gate] {
      gate.wait();
      return 1;
    });
    REQUIRE_FALSE(f.request_stop());
    REQUIRE_FALSE(concur::AnyFuture(f).request_stop());
    gate.open();
    REQUIRE(f.result() == 1);  // and it ran normally
  }
  SECTION("a task with a token: the first request only") {
    auto f = pool.submit([](std::stop_token token) { return loop_until_stopped(token); });
    const concur::AnyFuture any = f;
    REQUIRE(any.request_stop());
    REQUIRE_FALSE(f.request_stop());
    REQUIRE_FALSE(any.request_stop());
    REQUIRE(f.result());
  }
  SECTION("a promise's future has no stop state") {
    concur::Promise<int> promise;
    REQUIRE_FALSE(promise.get_future().request_stop());
    promise.set_result(0);
  }
  SECTION("an empty handle throws InvalidStateError") {
    REQUIRE_THROWS_AS(concur::Future<int>().request_stop(), concur::InvalidStateError);
    REQUIRE_THROWS_AS(concur::AnyFuture().request_stop(), concur::InvalidStateError);
  }
  gate.open();
}

TEST_CASE("a task asked to stop while pending starts with its token already stopped",
          "[stop][thread_pool]") {
  concur::ThreadPoolExecutor pool(1);
  concur_test::Gate gate;
  concur_test::Gate busy;
  auto blocker = pool.submit([&] {
    busy.open();
    gate.wait();
  });
  REQUIRE(busy.wait_for(kLongWait));
  auto asked = pool.submit([](std::stop_token token) { return token.stop_requested(); });
  auto not_asked = pool.submit([](std::stop_token token) { return token.stop_requested(); });
  REQUIRE(asked.state() == concur::FutureState::pending);
  REQUIRE(asked.request_stop());
  REQUIRE(asked.state() == concur::FutureState::pending);  // a request does not cancel
  gate.open();
  REQUIRE(asked.result() == true);
  REQUIRE(not_asked.result() == false);
  blocker.result();
}

TEST_CASE("the token is the one tied to the future: stopping one task leaves another running",
          "[stop][thread_pool]") {
  concur::ThreadPoolExecutor pool(2);
  concur_test::Latch started;
  auto body = [&started](std::stop_token token) {
    started.arrive();
    return loop_until_stopped(token);
  };
  auto a = pool.submit(body);
  auto b = pool.submit(body);
  REQUIRE(started.wait_for_count(2, kLongWait));
  REQUIRE(a.request_stop());
  REQUIRE(a.result());
  REQUIRE_FALSE(b.wait_for(50ms));  // b loops until its own token stops
  REQUIRE(b.running());
  REQUIRE(b.request_stop());
  REQUIRE(b.result());
}

TEST_CASE("a task that ignores its token runs to its end in a thread pool", "[stop][thread_pool]") {
  concur::ThreadPoolExecutor pool(1);
  concur_test::Gate started;
  concur_test::Gate gate;
  auto f = pool.submit([&](std::stop_token /*ignored*/) {
    started.open();
    gate.wait();
    return 7;
  });
  REQUIRE(started.wait_for(kLongWait));
  REQUIRE(f.request_stop());
  REQUIRE_FALSE(f.wait_for(50ms));  // a thread cannot be killed: it waits for the gate
  gate.open();
  REQUIRE(f.result() == 7);
  REQUIRE(f.state() == concur::FutureState::finished);
}

TEST_CASE("shutdown(true, true) stops running token tasks and cancels pending ones",
          "[stop][thread_pool][shutdown]") {
  concur::ThreadPoolExecutor pool(2);
  concur_test::Latch started;
  auto body = [&started](std::stop_token token) {
    started.arrive();
    return loop_until_stopped(token);
  };
  auto a = pool.submit(body);
  auto b = pool.submit(body);
  REQUIRE(started.wait_for_count(2, kLongWait));
  auto pending = pool.submit(body);
  const auto asked = Clock::now();
  pool.shutdown(true, true);
  const double shutdown_ms = ms(Clock::now() - asked);
  INFO("shutdown took " << shutdown_ms << " ms");
  REQUIRE(Clock::now() - asked < kLongWait);
  REQUIRE(a.result());  // stopped, not given up
  REQUIRE(b.result());
  REQUIRE(pending.cancelled());
  REQUIRE(started.count() == 2);
}

TEST_CASE("shutdown(_, false) does not ask running tasks to stop", "[stop][thread_pool]") {
  concur::ThreadPoolExecutor pool(1);
  concur_test::Gate started;
  concur_test::Gate gate;
  auto f = pool.submit([&](std::stop_token token) {
    started.open();
    gate.wait();
    return token.stop_requested();
  });
  REQUIRE(started.wait_for(kLongWait));
  pool.shutdown(false, false);  // a stop request would be made before this returns
  gate.open();
  REQUIRE(f.result() == false);
}

TEST_CASE("submit passes the token first when fn can take it, through Executor& too",
          "[stop][executor]") {
  concur::ThreadPoolExecutor pool(2);
  concur::Executor& ex = pool;

  auto sum = ex.submit(
      [](std::stop_token token, int a, int b) { return token.stop_possible() ? a + b : -1; }, 2, 3);
  STATIC_REQUIRE(std::is_same_v<decltype(sum), concur::Future<int>>);
  REQUIRE(sum.result() == 5);

  auto nothing = ex.submit([](std::stop_token token) { static_cast<void>(token); });
  STATIC_REQUIRE(std::is_same_v<decltype(nothing), concur::Future<void>>);
  nothing.result();

  // Like std::jthread: a callable that accepts both forms gets the token.
  auto generic = ex.submit([](auto... xs) { return sizeof...(xs); }, 1);
  REQUIRE(generic.result() == 2);
  REQUIRE(generic.request_stop());  // it has a stop state

  // A task without a token is called without one.
  auto plain = ex.submit([](int a) { return a; }, 4);
  REQUIRE(plain.result() == 4);
  REQUIRE_FALSE(plain.request_stop());
}
