// tests/test_wait.cpp - concur::wait() with every ReturnWhen, timeouts, duplicates and AnyFuture.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/futures.hpp"
#include "support/gate.hpp"
#include "support/tasks.hpp"

namespace {

using namespace std::chrono_literals;
using concur::ReturnWhen;
using namespace concur_test;  // support/futures.hpp and support/tasks.hpp

// An upper bound only a broken wait() can exceed, far above any scheduling delay; a wait that
// must return at once is given a longer timeout than this, so a wait that wrongly blocks fails.
constexpr auto generous_bound = 10s;
constexpr auto long_timeout = 15s;

std::chrono::steady_clock::duration since(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Ports of test_wait.py (WaitTests), driven by promises and, where Python submits, by a pool
// ---------------------------------------------------------------------------------------------

// test_wait.py: WaitTests.test_20369
TEST_CASE("wait() lists a future passed twice only once", "[wait][duplicates]") {
  concur::ThreadPoolExecutor pool(5);
  concur::Future<int> future = pool.submit(mul, 1, 2);
  const std::vector<concur::Future<int>> twice{future, future};

  const auto r = concur::wait(twice, ReturnWhen::all_completed);

  CHECK(holds_exactly(r.done, {future}));
  CHECK(r.not_done.empty());
  CHECK(future.result() == 2);
}

TEST_CASE("duplicates count once whatever the ReturnWhen, done or not done", "[wait][duplicates]") {
  Specimen done(Kind::succeeded);
  Specimen pending(Kind::pending);
  const std::vector<concur::Future<int>> fs{done.future, pending.future, done.future,
                                            pending.future, pending.future};
  const auto when =
      GENERATE(ReturnWhen::first_completed, ReturnWhen::first_exception, ReturnWhen::all_completed);
  const auto r = concur::wait(fs, 20ms, when);
  CHECK(holds_exactly(r.done, {done.future}));
  CHECK(holds_exactly(r.not_done, {pending.future}));
}

// test_wait.py: WaitTests.test_first_completed
TEST_CASE("first_completed returns when one future finishes and leaves the others not done",
          "[wait][first_completed]") {
  SECTION("promises") {
    concur::Promise<int> p1;
    concur::Promise<int> p2;
    auto f1 = p1.get_future();
    auto f2 = p2.get_future();
    std::thread worker([&] { p1.set_result(42); });
    const auto r = concur::wait(std::vector{f1, f2}, ReturnWhen::first_completed);
    worker.join();
    CHECK(holds_exactly(r.done, {f1}));
    CHECK(holds_exactly(r.not_done, {f2}));
    p2.set_result(0);
  }
  SECTION("a thread pool") {
    concur_test::Gate gate;
    concur::ThreadPoolExecutor pool(5);
    OpenOnExit opener{gate};
    auto f1 = pool.submit(mul, 21, 2);
    auto f2 = pool.submit([&gate] {
      gate.wait();
      return 0;
    });
    const auto r = concur::wait(std::vector{f1, f2}, ReturnWhen::first_completed);
    CHECK(holds_exactly(r.done, {f1}));
    CHECK(holds_exactly(r.not_done, {f2}));
    gate.open();
    CHECK(f2.result() == 0);  // wait for the job to finish
  }
}

TEST_CASE("first_completed returns when a future is cancelled by another thread",
          "[wait][first_completed][cancel]") {
  Specimen a(Kind::pending);
  Specimen b(Kind::pending);
  std::thread canceller([copy = b.future] { (void)copy.cancel(); });
  const auto r = concur::wait(std::vector{a.future, b.future}, ReturnWhen::first_completed);
  canceller.join();
  CHECK(holds_exactly(r.done, {b.future}));
  CHECK(holds_exactly(r.not_done, {a.future}));
  CHECK(b.future.cancelled());
}

// test_wait.py: WaitTests.test_first_completed (the CANCELLED_FUTURE it passes)
TEST_CASE(
    "a cancelled future counts as done for first_completed (unlike Python's un-notified "
    "CANCELLED)",
    "[wait][first_completed][cancel]") {
  Specimen cancelled(Kind::cancelled);
  Specimen pending(Kind::pending);
  const auto start = std::chrono::steady_clock::now();
  const auto r = concur::wait(std::vector{cancelled.future, pending.future}, long_timeout,
                              ReturnWhen::first_completed);
  CHECK(since(start) < generous_bound);
  CHECK(holds_exactly(r.done, {cancelled.future}));
  CHECK(holds_exactly(r.not_done, {pending.future}));
}

// test_wait.py: WaitTests.test_first_completed_some_already_completed
TEST_CASE("first_completed returns at once when some futures are already done",
          "[wait][first_completed]") {
  Specimen notified(Kind::cancelled_and_notified);
  Specimen succeeded(Kind::succeeded);
  Specimen pending(Kind::pending);
  const auto start = std::chrono::steady_clock::now();
  const auto r = concur::wait(std::vector{notified.future, succeeded.future, pending.future},
                              long_timeout, ReturnWhen::first_completed);
  CHECK(since(start) < generous_bound);
  CHECK(holds_exactly(r.done, {notified.future, succeeded.future}));
  CHECK(holds_exactly(r.not_done, {pending.future}));
}

// test_wait.py: WaitTests.test_first_exception
TEST_CASE("first_exception returns when a future fails, with the earlier successes done",
          "[wait][first_exception]") {
  SECTION("promises") {
    concur::Promise<int> p1;
    concur::Promise<int> p2;
    concur::Promise<int> p3;
    auto f1 = p1.get_future();
    auto f2 = p2.get_future();
    auto f3 = p3.get_future();
    std::thread worker([&] {
      p1.set_result(42);  // f1 completes before f2 fails, as in Python
      p2.set_exception(std::make_exception_ptr(TestError("this is an exception")));
    });
    const auto r = concur::wait(std::vector{f1, f2, f3}, ReturnWhen::first_exception);
    worker.join();
    CHECK(holds_exactly(r.done, {f1, f2}));
    CHECK(holds_exactly(r.not_done, {f3}));
    REQUIRE_THROWS_AS(f2.result(), TestError);
    p3.set_result(0);
  }
  SECTION("a thread pool") {
    concur_test::Gate gate1;
    concur_test::Gate gate2;
    concur::ThreadPoolExecutor pool(5);
    OpenOnExit opener1{gate1};
    OpenOnExit opener2{gate2};
    auto f1 = pool.submit(mul, 2, 21);
    auto f2 = pool.submit([&gate1]() -> int {
      gate1.wait();
      throw TestError("this is an exception");
    });
    auto f3 = pool.submit([&gate2] {
      gate2.wait();
      return 0;
    });
    std::thread waiter([&] {  // ensures f1 is complete before f2 finishes
      f1.wait();
      gate1.open();
    });
    const auto r = concur::wait(std::vector{f1, f2, f3}, ReturnWhen::first_exception);
    waiter.join();
    CHECK(holds_exactly(r.done, {f1, f2}));
    CHECK(holds_exactly(r.not_done, {f3}));
    REQUIRE_THROWS_AS(f2.result(), TestError);
    gate2.open();
    CHECK(f3.result() == 0);
  }
}

// test_wait.py: WaitTests.test_first_exception_some_already_complete
TEST_CASE(
    "first_exception counts successes and cancellations as done but returns only on a "
    "failure",
    "[wait][first_exception]") {
  Specimen succeeded(Kind::succeeded);
  Specimen cancelled(Kind::cancelled);
  Specimen notified(Kind::cancelled_and_notified);
  concur::ThreadPoolExecutor pool(5);
  auto f1 =
      pool.submit([]() -> int { throw std::domain_error("integer division or modulo by zero"); });
  Specimen f2(Kind::pending);

  const auto r =
      concur::wait(std::vector{succeeded.future, cancelled.future, notified.future, f1, f2.future},
                   ReturnWhen::first_exception);

  // Python keeps its un-notified CANCELLED_FUTURE pending; concur's cancelled future is done.
  CHECK(holds_exactly(r.done, {succeeded.future, cancelled.future, notified.future, f1}));
  CHECK(holds_exactly(r.not_done, {f2.future}));
  REQUIRE_THROWS_AS(f1.result(), std::domain_error);
}

// test_wait.py: WaitTests.test_first_exception_one_already_failed
TEST_CASE("first_exception returns at once when a future has already failed",
          "[wait][first_exception]") {
  Specimen failed(Kind::failed);
  Specimen pending(Kind::pending);
  const auto start = std::chrono::steady_clock::now();
  const auto r = concur::wait(std::vector{failed.future, pending.future}, long_timeout,
                              ReturnWhen::first_exception);
  CHECK(since(start) < generous_bound);
  CHECK(holds_exactly(r.done, {failed.future}));
  CHECK(holds_exactly(r.not_done, {pending.future}));
}

TEST_CASE("first_exception counts a failure that was already observed", "[wait][first_exception]") {
  Specimen failed(Kind::failed);
  Specimen pending(Kind::pending);
  REQUIRE(failed.future.exception() != nullptr);  // observed before the wait
  const auto start = std::chrono::steady_clock::now();
  const auto r = concur::wait(std::vector{failed.future, pending.future}, long_timeout,
                              ReturnWhen::first_exception);
  CHECK(since(start) < generous_bound);
  CHECK(holds_exactly(r.done, {failed.future}));
  CHECK(holds_exactly(r.not_done, {pending.future}));
}

TEST_CASE("a cancelled future does not make first_exception return", "[wait][first_exception]") {
  Specimen cancelled(Kind::cancelled);
  Specimen pending(Kind::pending);
  const auto start = std::chrono::steady_clock::now();
  const auto r = concur::wait(std::vector{cancelled.future, pending.future}, 50ms,
                              ReturnWhen::first_exception);
  CHECK(since(start) >= 50ms);  // it waited out the timeout: the cancellation did not count
  CHECK(holds_exactly(r.done, {cancelled.future}));
  CHECK(holds_exactly(r.not_done, {pending.future}));
}

TEST_CASE("first_exception without any failure waits for every future, as all_completed",
          "[wait][first_exception]") {
  concur::Promise<int> p1;
  concur::Promise<int> p2;
  concur::Promise<int> p3;
  auto f1 = p1.get_future();
  auto f2 = p2.get_future();
  auto f3 = p3.get_future();
  std::thread worker([&] {
    p2.set_result(2);
    (void)f3.cancel();
    p1.set_result(1);
  });
  const auto r = concur::wait(std::vector{f1, f2, f3}, ReturnWhen::first_exception);
  worker.join();
  CHECK(holds_exactly(r.done, {f1, f2, f3}));
  CHECK(r.not_done.empty());
}

// test_wait.py: WaitTests.test_all_completed
TEST_CASE("all_completed returns once every future is done, whatever its outcome",
          "[wait][all_completed]") {
  Specimen succeeded(Kind::succeeded);
  Specimen notified(Kind::cancelled_and_notified);
  Specimen failed(Kind::failed);
  concur::ThreadPoolExecutor pool(5);
  auto f1 =
      pool.submit([]() -> int { throw std::domain_error("integer division or modulo by zero"); });
  auto f2 = pool.submit(mul, 2, 21);

  const auto r = concur::wait(std::vector{succeeded.future, notified.future, failed.future, f1, f2},
                              ReturnWhen::all_completed);

  CHECK(holds_exactly(r.done, {succeeded.future, notified.future, failed.future, f1, f2}));
  CHECK(r.not_done.empty());
  REQUIRE_THROWS_AS(f1.result(), std::domain_error);
  CHECK(f2.result() == 42);
}

TEST_CASE("all_completed is the default and waits for futures finished by other threads",
          "[wait][all_completed]") {
  std::vector<concur::Promise<int>> promises(4);
  std::vector<concur::Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  std::thread worker([&] {
    for (std::size_t i = promises.size(); i-- > 0;) promises[i].set_result(static_cast<int>(i));
  });
  const auto r = concur::wait(futures);
  worker.join();
  CHECK(holds_exactly(r.done, futures));
  CHECK(r.not_done.empty());
  for (const auto& f : futures) CHECK(f.done());
}

// test_wait.py: WaitTests.test_timeout
TEST_CASE("wait() with a timeout returns the unfinished futures as not done and throws nothing",
          "[wait][timeout]") {
  Specimen notified(Kind::cancelled_and_notified);
  Specimen failed(Kind::failed);
  Specimen succeeded(Kind::succeeded);
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(5);
  OpenOnExit opener{gate};
  auto held = pool.submit([&gate] {
    gate.wait();
    return 0;
  });

  const auto start = std::chrono::steady_clock::now();
  concur::WaitResult<concur::Future<int>> r;
  REQUIRE_NOTHROW(
      r = concur::wait(std::vector{notified.future, failed.future, succeeded.future, held}, 50ms,
                       ReturnWhen::all_completed));
  CHECK(since(start) >= 50ms);
  CHECK(holds_exactly(r.done, {notified.future, failed.future, succeeded.future}));
  CHECK(holds_exactly(r.not_done, {held}));
  gate.open();
  CHECK(held.result() == 0);  // wait for the job to finish
}

TEST_CASE("wait() with a timeout returns as soon as its condition holds, before the timeout",
          "[wait][timeout]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::thread worker([&] { promise.set_result(1); });
  const auto start = std::chrono::steady_clock::now();
  const auto r = concur::wait(std::vector{future}, long_timeout);
  worker.join();
  CHECK(since(start) < generous_bound);
  CHECK(holds_exactly(r.done, {future}));
}

TEST_CASE("first_completed with a timeout and nothing finishing returns everything as not done",
          "[wait][timeout][first_completed]") {
  Specimen a(Kind::pending);
  Specimen b(Kind::running);
  const auto when = GENERATE(ReturnWhen::first_completed, ReturnWhen::first_exception);
  const auto start = std::chrono::steady_clock::now();
  const auto r = concur::wait(std::vector{a.future, b.future}, 30ms, when);
  CHECK(since(start) >= 30ms);
  CHECK(r.done.empty());
  CHECK(holds_exactly(r.not_done, {a.future, b.future}));
}

TEST_CASE("wait() with a huge timeout waits without limit instead of overflowing",
          "[wait][timeout]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::thread worker([&] { promise.set_result(1); });
  const auto r = concur::wait(std::vector{future}, std::chrono::hours::max());
  worker.join();
  CHECK(holds_exactly(r.done, {future}));
  CHECK(r.not_done.empty());
}

TEST_CASE("a zero timeout splits the futures as they are now", "[wait][timeout]") {
  Specimen pending(Kind::pending);
  Specimen succeeded(Kind::succeeded);
  Specimen cancelled(Kind::cancelled);
  const auto r = concur::wait(std::vector{pending.future, succeeded.future, cancelled.future}, 0ms);
  CHECK(holds_exactly(r.done, {succeeded.future, cancelled.future}));
  CHECK(holds_exactly(r.not_done, {pending.future}));
}

TEST_CASE("wait() on an empty range returns at once with nothing in either list", "[wait]") {
  const std::vector<concur::Future<int>> none;
  const auto when =
      GENERATE(ReturnWhen::first_completed, ReturnWhen::first_exception, ReturnWhen::all_completed);
  const auto r = concur::wait(none, when);
  CHECK(r.done.empty());
  CHECK(r.not_done.empty());
}

// test_wait.py: ThreadPoolWaitTests.test_pending_calls_race
TEST_CASE("wait() for many pool tasks released at once sees them all done",
          "[wait][thread_pool][race]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(5);
  OpenOnExit opener{gate};
  std::vector<concur::Future<void>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(pool.submit([&gate] { gate.wait(); }));
  gate.open();
  const auto r = concur::wait(fs, ReturnWhen::all_completed);
  CHECK(r.done.size() == 100);
  CHECK(r.not_done.empty());
  for (const auto& f : fs) CHECK(f.done());
}

TEST_CASE("wait() from many threads on the same futures all return", "[wait][race]") {
  std::vector<concur::Promise<int>> promises(20);
  std::vector<concur::Future<int>> fs;
  for (auto& p : promises) fs.push_back(p.get_future());
  std::atomic<int> all_done{0};
  std::vector<std::thread> waiters;
  for (int t = 0; t < 4; ++t) {
    waiters.emplace_back([&] {
      const auto r = concur::wait(fs);
      if (r.done.size() == fs.size() && r.not_done.empty()) all_done.fetch_add(1);
    });
  }
  for (std::size_t i = 0; i < promises.size(); ++i) promises[i].set_result(static_cast<int>(i));
  for (auto& w : waiters) w.join();
  CHECK(all_done.load() == 4);
}

TEST_CASE("wait() on a worker runs the pool's queued tasks, so nested waits cannot deadlock",
          "[wait][thread_pool]") {
  concur::ThreadPoolExecutor pool(1);
  auto outer = pool.submit([&pool] {
    std::vector<concur::Future<int>> inner;
    for (int i = 0; i < 3; ++i) inner.push_back(pool.submit(mul, i, 2));
    const auto r = concur::wait(inner, long_timeout);
    return r.not_done.empty() && r.done.size() == 3;
  });
  CHECK(outer.result(60s));
  CHECK(pool.thread_count() == 1);
}

TEST_CASE("a wait nested in a task run by a waiting worker does not swallow the outer wake-up",
          "[wait][thread_pool]") {
  concur::Promise<int> px;
  concur::Promise<int> py;
  auto x = px.get_future();
  auto y = py.get_future();
  concur_test::Latch inner_started;
  concur::ThreadPoolExecutor pool(1);
  // The one worker runs `outer`, whose wait() runs `inner` on the same thread; `inner` then
  // waits for y while x, which only the outer wait cares about, completes.
  auto outer = pool.submit([&] {
    auto inner = pool.submit([&] {
      inner_started.arrive();
      return concur::wait(std::vector{y}, long_timeout).not_done.empty();
    });
    const auto r = concur::wait({x, inner}, long_timeout);
    return r.not_done.empty() && inner.result();
  });
  REQUIRE(inner_started.wait_for_count(1, 60s));
  px.set_result(1);
  py.set_result(2);
  CHECK(outer.result(60s));
}

// ---------------------------------------------------------------------------------------------
// Ranges, result types and mixed types through AnyFuture
// ---------------------------------------------------------------------------------------------

TEST_CASE("wait() returns WaitResult of the range's element type and accepts any range",
          "[wait][types]") {
  Specimen a(Kind::succeeded);
  Specimen b(Kind::pending);

  const std::vector<concur::Future<int>> vec{a.future, b.future};
  const std::list<concur::Future<int>> list{a.future, b.future};
  const std::array<concur::Future<int>, 2> arr{a.future, b.future};

  const auto r1 = concur::wait(vec, 0ms);
  const auto r2 = concur::wait(list, 0ms, ReturnWhen::first_completed);
  const auto r3 = concur::wait(arr, ReturnWhen::first_completed);
  STATIC_REQUIRE(
      std::is_same_v<std::remove_cv_t<decltype(r1)>, concur::WaitResult<concur::Future<int>>>);
  STATIC_REQUIRE(
      std::is_same_v<std::remove_cv_t<decltype(r2)>, concur::WaitResult<concur::Future<int>>>);
  STATIC_REQUIRE(
      std::is_same_v<std::remove_cv_t<decltype(r3)>, concur::WaitResult<concur::Future<int>>>);
  for (const auto* r : {&r1, &r2, &r3}) {
    CHECK(holds_exactly(r->done, {a.future}));
    CHECK(holds_exactly(r->not_done, {b.future}));
  }
}

TEST_CASE("wait() over a braced list mixes result types through AnyFuture",
          "[wait][any_future][types]") {
  concur::Promise<int> pi;
  concur::Promise<std::string> ps;
  concur::Promise<void> pv;
  auto fi = pi.get_future();
  auto fs = ps.get_future();
  auto fv = pv.get_future();
  ps.set_result("done");

  SECTION("first_completed") {
    const auto r = concur::wait({fi, fs, fv}, ReturnWhen::first_completed);
    STATIC_REQUIRE(
        std::is_same_v<std::remove_cv_t<decltype(r)>, concur::WaitResult<concur::AnyFuture>>);
    CHECK(holds_exactly<concur::AnyFuture>(r.done, {fs}));
    CHECK(holds_exactly<concur::AnyFuture>(r.not_done, {fi, fv}));
  }
  SECTION("all_completed, finished by another thread") {
    std::thread worker([&] {
      pv.set_result();
      pi.set_exception(std::make_exception_ptr(TestError("int failed")));
    });
    const auto r = concur::wait({fi, fs, fv});
    worker.join();
    CHECK(holds_exactly<concur::AnyFuture>(r.done, {fi, fs, fv}));
    CHECK(r.not_done.empty());
    REQUIRE_THROWS_AS(fi.result(), TestError);
  }
  SECTION("first_exception with a timeout") {
    const auto r = concur::wait({fi, fs, fv}, 20ms, ReturnWhen::first_exception);
    CHECK(holds_exactly<concur::AnyFuture>(r.done, {fs}));
    CHECK(holds_exactly<concur::AnyFuture>(r.not_done, {fi, fv}));
  }
  if (!fi.done()) pi.set_result(0);
  if (!fv.done()) pv.set_result();
}

TEST_CASE("wait() over a vector of AnyFuture returns AnyFuture handles equal to the originals",
          "[wait][any_future]") {
  Specimen a(Kind::failed);
  concur::Promise<std::string> ps;
  auto fs = ps.get_future();
  const std::vector<concur::AnyFuture> anys{a.future, fs, a.future};
  const auto r = concur::wait(anys, 0ms, ReturnWhen::first_exception);
  STATIC_REQUIRE(
      std::is_same_v<std::remove_cv_t<decltype(r)>, concur::WaitResult<concur::AnyFuture>>);
  REQUIRE(r.done.size() == 1);
  CHECK(r.done.front() == concur::AnyFuture(a.future));
  REQUIRE(r.not_done.size() == 1);
  CHECK(r.not_done.front() == concur::AnyFuture(fs));
  ps.set_result("x");
}

TEST_CASE("AnyFuture mirrors the state of the future it was built from", "[any_future]") {
  concur::Promise<std::string> promise;
  auto future = promise.get_future();
  const concur::AnyFuture any = future;
  CHECK(any.valid());
  CHECK_FALSE(concur::AnyFuture().valid());
  CHECK(any == concur::AnyFuture(future));
  CHECK(any.state() == concur::FutureState::pending);
  CHECK_FALSE(any.done());
  CHECK_FALSE(any.wait_for(10ms));
  CHECK_FALSE(any.wait_until(std::chrono::steady_clock::now() + 10ms));
  REQUIRE_THROWS_AS(any.exception(10ms), concur::TimeoutError);
  CHECK(promise.set_running_or_notify_cancel());
  CHECK(any.running());
  CHECK_FALSE(any.cancel());
  promise.set_result("ok");
  any.wait();
  CHECK(any.done());
  CHECK(any.wait_for(0ms));
  CHECK(any.exception() == nullptr);
  CHECK(any.exception(0ms) == nullptr);
}

TEST_CASE("AnyFuture can cancel, reports failures and runs done-callbacks with itself",
          "[any_future]") {
  SECTION("cancel") {
    concur::Promise<int> promise;
    const concur::AnyFuture any = promise.get_future();
    bool saw_cancelled = false;
    any.add_done_callback([&](const concur::AnyFuture& g) { saw_cancelled = g.cancelled(); });
    CHECK(any.cancel());
    CHECK(any.cancelled());
    CHECK(saw_cancelled);
    REQUIRE_THROWS_AS(any.exception(), concur::CancelledError);
    CHECK_FALSE(promise.set_running_or_notify_cancel());
  }
  SECTION("failure") {
    concur::Promise<void> promise;
    const concur::AnyFuture any = promise.get_future();
    bool same = false;
    std::exception_ptr seen;
    any.add_done_callback([&](const concur::AnyFuture& g) {
      same = (g == any);
      seen = g.exception();
    });
    promise.set_exception(std::make_exception_ptr(TestError("any failure")));
    CHECK(same);
    REQUIRE(seen != nullptr);
    REQUIRE_THROWS_AS(std::rethrow_exception(seen), TestError);
  }
  SECTION("an empty AnyFuture throws InvalidStateError") {
    const concur::AnyFuture empty;
    REQUIRE_THROWS_AS(empty.state(), concur::InvalidStateError);
    REQUIRE_THROWS_AS(empty.exception(), concur::InvalidStateError);
    REQUIRE_THROWS_AS(empty.cancel(), concur::InvalidStateError);
  }
}

TEST_CASE("wait() does not count as observing a failure but AnyFuture::exception() does",
          "[wait][any_future][unobserved]") {
  std::mutex mutex;
  std::size_t reports = 0;  // guarded by mutex
  concur::FailureHandler previous = concur::set_unobserved_failure_handler([&](std::exception_ptr) {
    std::lock_guard<std::mutex> lock(mutex);
    ++reports;
  });
  struct Restore {
    concur::FailureHandler& previous;
    ~Restore() { concur::set_unobserved_failure_handler(std::move(previous)); }
  } restore{previous};
  const auto count = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return reports;
  };

  {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    promise.set_exception(std::make_exception_ptr(TestError("waited for only")));
    const auto r = concur::wait(std::vector{future}, ReturnWhen::first_exception);
    CHECK(r.done.size() == 1);
  }
  CHECK(count() == 1);
  {
    concur::Promise<int> promise;
    const concur::AnyFuture any = promise.get_future();
    promise.set_exception(std::make_exception_ptr(TestError("seen through AnyFuture")));
    CHECK(any.exception() != nullptr);
  }
  CHECK(count() == 1);
}
