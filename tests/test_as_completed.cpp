// tests/test_as_completed.cpp - concur::as_completed(): order, timeouts, duplicates, mixed types.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <iterator>
#include <list>
#include <ranges>
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
using namespace concur_test;  // support/futures.hpp and support/tasks.hpp

// Everything the range yields before it ends or throws; `timed_out` tells which.
template <class F>
struct Drained {
  std::vector<F> yielded;
  bool timed_out = false;
};

template <class Range>
auto drain(Range&& range) {
  using F = std::remove_cvref_t<decltype(*range.begin())>;
  Drained<F> out;
  try {
    for (auto it = range.begin(); it != range.end(); ++it) out.yielded.push_back(*it);
  } catch (const concur::TimeoutError&) {
    out.timed_out = true;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Ports of test_as_completed.py (AsCompletedTests)
// ---------------------------------------------------------------------------------------------

// test_as_completed.py: AsCompletedTests.test_no_timeout
TEST_CASE("as_completed() without a timeout yields every future once", "[as_completed]") {
  Specimen notified(Kind::cancelled_and_notified);
  Specimen failed(Kind::failed);
  Specimen succeeded(Kind::succeeded);
  concur::ThreadPoolExecutor pool(5);
  auto f1 = pool.submit(mul, 2, 21);
  auto f2 = pool.submit(mul, 7, 6);

  const auto got = drain(
      concur::as_completed(std::vector{notified.future, failed.future, succeeded.future, f1, f2}));

  CHECK_FALSE(got.timed_out);
  CHECK(holds_exactly(got.yielded, {notified.future, failed.future, succeeded.future, f1, f2}));
  CHECK(f1.result() == 42);
  CHECK(f2.result() == 42);
}

// test_as_completed.py: AsCompletedTests.test_future_times_out (and the older test_zero_timeout)
TEST_CASE("as_completed() with a timeout yields the done futures, then throws TimeoutError",
          "[as_completed][timeout]") {
  const auto timeout = GENERATE(0ms, 100ms);
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
  const auto got = drain(concur::as_completed(
      std::vector{notified.future, failed.future, succeeded.future, held}, timeout));

  CHECK(got.timed_out);
  CHECK(std::chrono::steady_clock::now() - start >= timeout);
  CHECK(holds_exactly(got.yielded, {notified.future, failed.future, succeeded.future}));
  CHECK_FALSE(held.done());
  gate.open();
  CHECK(held.result() == 0);
}

// test_as_completed.py: AsCompletedTests.test_duplicate_futures
TEST_CASE("as_completed() yields a future passed several times once",
          "[as_completed][duplicates]") {
  SECTION("a pool task that finishes while the range waits") {
    concur_test::Gate gate;
    concur::ThreadPoolExecutor pool(5);
    OpenOnExit opener{gate};
    auto f = pool.submit([&gate] {
      gate.wait();
      return 1;
    });
    auto range = concur::as_completed(std::vector{f, f, f});
    gate.open();
    std::size_t count = 0;
    for (const auto& g : range) {
      CHECK(g == f);
      ++count;
    }
    CHECK(count == 1);
  }
  SECTION("an already finished future, through a list") {
    Specimen done(Kind::succeeded);
    const std::list<concur::Future<int>> three{done.future, done.future, done.future};
    const auto got = drain(concur::as_completed(three, 0ms));
    CHECK_FALSE(got.timed_out);
    CHECK(holds_exactly(got.yielded, {done.future}));
  }
}

// test_as_completed.py: AsCompletedTests.test_free_reference_yielded_future (the order half)
TEST_CASE("futures resolved while as_completed() iterates are yielded in the order resolved",
          "[as_completed][timeout]") {
  std::vector<concur::Promise<std::string>> promises(8);
  std::vector<concur::Future<std::string>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  concur::Promise<std::string> cancelled_promise;
  concur::Promise<std::string> finished_promise;
  auto cancelled = cancelled_promise.get_future();
  auto finished = finished_promise.get_future();
  CHECK(cancelled.cancel());
  CHECK_FALSE(cancelled_promise.set_running_or_notify_cancel());
  finished_promise.set_result("42");
  futures.push_back(cancelled);
  futures.push_back(finished);

  const auto first = drain(concur::as_completed(futures, 0ms));
  CHECK(first.timed_out);
  CHECK(first.yielded == std::vector{cancelled, finished});

  // As Python: resolve the first pending future, then each next one from inside the loop.
  const std::vector<concur::Future<std::string>> pending(futures.begin(), futures.begin() + 8);
  promises[0].set_result("test");
  std::size_t next = 1;
  std::vector<concur::Future<std::string>> order;
  for (const auto& f : concur::as_completed(pending)) {
    order.push_back(f);
    if (next < promises.size()) promises[next++].set_result("test");
  }
  CHECK(order == pending);
}

TEST_CASE("as_completed() holds no future alive once the range and the handles are gone",
          "[as_completed][lifetime]") {
  struct Tracked {
    explicit Tracked(std::atomic<int>& l) : live(&l) { live->fetch_add(1); }
    Tracked(const Tracked& other) : live(other.live) { live->fetch_add(1); }
    Tracked& operator=(const Tracked& other) = default;
    ~Tracked() { live->fetch_sub(1); }
    std::atomic<int>* live;
  };
  std::atomic<int> live{0};
  {
    std::vector<concur::Future<Tracked>> futures;
    {
      std::vector<concur::Promise<Tracked>> promises(3);
      for (auto& p : promises) futures.push_back(p.get_future());
      promises[1].set_result(Tracked(live));
      auto range = concur::as_completed(futures, 0ms);
      auto it = range.begin();
      CHECK(*it == futures[1]);
      REQUIRE_THROWS_AS(++it, concur::TimeoutError);
      promises[0].set_result(Tracked(live));
      promises[2].set_result(Tracked(live));
    }
    CHECK(live.load() == 3);
  }
  CHECK(live.load() == 0);
}

// test_as_completed.py: AsCompletedTests.test_correct_timeout_exception_msg
TEST_CASE("as_completed()'s TimeoutError names the call", "[as_completed][timeout]") {
  Specimen notified(Kind::cancelled_and_notified);
  Specimen pending(Kind::pending);
  Specimen running(Kind::running);
  Specimen succeeded(Kind::succeeded);
  auto range = concur::as_completed(
      std::vector{notified.future, pending.future, running.future, succeeded.future}, 0ms);
  auto it = range.begin();
  ++it;
  REQUIRE_THROWS_AS(++it, concur::TimeoutError);
  auto again = concur::as_completed(
      std::vector{notified.future, pending.future, running.future, succeeded.future}, 0ms);
  auto it2 = again.begin();
  ++it2;
  REQUIRE_THROWS_WITH(++it2, ContainsSubstring("as_completed"));
}

// ---------------------------------------------------------------------------------------------
// Order
// ---------------------------------------------------------------------------------------------

TEST_CASE("as_completed() yields the already finished futures first, in input order",
          "[as_completed][order]") {
  Specimen p1(Kind::pending);
  Specimen a(Kind::succeeded);
  Specimen p2(Kind::running);
  Specimen b(Kind::failed);
  Specimen c(Kind::cancelled_and_notified);
  auto range =
      concur::as_completed(std::vector{p1.future, a.future, p2.future, b.future, c.future}, 10s);
  auto it = range.begin();
  REQUIRE(it != range.end());
  CHECK(*it == a.future);
  ++it;
  CHECK(*it == b.future);
  ++it;
  CHECK(*it == c.future);
  p2.promise.set_result(2);
  ++it;
  CHECK(*it == p2.future);
  p1.promise.set_result(1);
  ++it;
  CHECK(*it == p1.future);
  ++it;
  CHECK(it == range.end());
}

TEST_CASE("futures that finish after the call are yielded in completion order, not input order",
          "[as_completed][order]") {
  Specimen done(Kind::succeeded);
  Specimen p1(Kind::pending);
  Specimen p2(Kind::pending);
  Specimen p3(Kind::pending);
  auto range = concur::as_completed(std::vector{p1.future, p2.future, done.future, p3.future}, 10s);
  // All three complete before the range is asked for anything.
  p3.promise.set_result(3);
  p1.promise.set_exception(std::make_exception_ptr(TestError("p1")));
  (void)p2.future.cancel();
  std::vector<concur::Future<int>> order(range.begin(), range.end());
  CHECK(order == std::vector{done.future, p3.future, p1.future, p2.future});
}

TEST_CASE("as_completed() yields futures in the order another thread completes them",
          "[as_completed][order][threads]") {
  std::vector<concur::Promise<int>> promises(6);
  std::vector<concur::Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  const std::vector<std::size_t> completion{4, 1, 5, 0, 3, 2};
  auto range = concur::as_completed(futures);
  std::thread worker([&] {
    for (const std::size_t i : completion) promises[i].set_result(static_cast<int>(i));
  });
  std::vector<concur::Future<int>> order;
  for (const auto& f : range) order.push_back(f);
  worker.join();
  REQUIRE(order.size() == completion.size());
  for (std::size_t k = 0; k < completion.size(); ++k) {
    CAPTURE(k);
    CHECK(order[k] == futures[completion[k]]);
    CHECK(order[k].result() == static_cast<int>(completion[k]));
  }
}

TEST_CASE("a future cancelled while the range waits is yielded", "[as_completed][cancel]") {
  Specimen a(Kind::pending);
  Specimen b(Kind::pending);
  auto range = concur::as_completed(std::vector{a.future, b.future}, 60s);
  std::thread canceller([copy = b.future] { (void)copy.cancel(); });
  auto it = range.begin();
  canceller.join();
  REQUIRE(it != range.end());
  CHECK(*it == b.future);
  CHECK((*it).cancelled());
}

// ---------------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------------

TEST_CASE("begin() throws TimeoutError when nothing finishes in time", "[as_completed][timeout]") {
  Specimen a(Kind::pending);
  Specimen b(Kind::running);
  const auto timeout = GENERATE(0ms, 50ms);
  const auto start = std::chrono::steady_clock::now();
  auto range = concur::as_completed(std::vector{a.future, b.future}, timeout);
  REQUIRE_THROWS_AS(range.begin(), concur::TimeoutError);
  CHECK(std::chrono::steady_clock::now() - start >= timeout);
}

TEST_CASE("++it throws TimeoutError after the finished futures were yielded",
          "[as_completed][timeout]") {
  Specimen done(Kind::succeeded);
  Specimen pending(Kind::pending);
  auto range = concur::as_completed(std::vector{pending.future, done.future}, 50ms);
  auto it = range.begin();
  REQUIRE(it != range.end());
  CHECK(*it == done.future);
  REQUIRE_THROWS_AS(++it, concur::TimeoutError);
}

TEST_CASE("a zero timeout yields every future that is already done and ends without error",
          "[as_completed][timeout]") {
  Specimen a(Kind::succeeded);
  Specimen b(Kind::failed);
  Specimen c(Kind::cancelled_and_notified);
  const auto got = drain(concur::as_completed(std::vector{a.future, b.future, c.future}, 0ms));
  CHECK_FALSE(got.timed_out);
  CHECK(got.yielded == std::vector{a.future, b.future, c.future});
}

TEST_CASE("a timeout long enough lets as_completed() yield futures finished by another thread",
          "[as_completed][timeout]") {
  concur::Promise<int> p1;
  concur::Promise<int> p2;
  auto f1 = p1.get_future();
  auto f2 = p2.get_future();
  auto range = concur::as_completed(std::vector{f1, f2}, 60s);  // before either finishes
  std::thread worker([&] {
    p2.set_result(2);
    p1.set_result(1);
  });
  const auto got = drain(range);
  worker.join();
  CHECK_FALSE(got.timed_out);
  CHECK(got.yielded == std::vector{f2, f1});
}

TEST_CASE("as_completed() with a huge timeout waits without limit instead of overflowing",
          "[as_completed][timeout]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  auto range = concur::as_completed(std::vector{future}, std::chrono::hours::max());
  std::thread worker([&] { promise.set_result(1); });
  const auto got = drain(range);
  worker.join();
  CHECK_FALSE(got.timed_out);
  CHECK(got.yielded == std::vector{future});
}

TEST_CASE("as_completed() over an empty range ends at once", "[as_completed]") {
  const std::vector<concur::Future<int>> none;
  auto range = concur::as_completed(none, 0ms);
  CHECK(range.begin() == range.end());
  auto forever = concur::as_completed(none);
  CHECK(forever.begin() == forever.end());
}

// ---------------------------------------------------------------------------------------------
// The range's type and mixed types
// ---------------------------------------------------------------------------------------------

TEST_CASE("as_completed() is an input range of const handles whose end has the iterator's type",
          "[as_completed][types]") {
  Specimen a(Kind::succeeded);
  Specimen b(Kind::succeeded);
  const std::vector<concur::Future<int>> fs{a.future, b.future};
  auto range = concur::as_completed(fs);
  using Range = decltype(range);
  STATIC_REQUIRE(std::is_same_v<decltype(range.begin()), decltype(range.end())>);
  STATIC_REQUIRE(std::is_same_v<decltype(*range.begin()), const concur::Future<int>&>);
  CHECK((std::ranges::input_range<Range>));
  CHECK((std::input_iterator<decltype(range.begin())>));
  std::vector<concur::Future<int>> v(range.begin(), range.end());
  CHECK(v == fs);
}

TEST_CASE("as_completed() over a braced list mixes result types through AnyFuture",
          "[as_completed][any_future][types]") {
  concur::Promise<int> pi;
  concur::Promise<std::string> ps;
  concur::Promise<void> pv;
  auto fi = pi.get_future();
  auto fs = ps.get_future();
  auto fv = pv.get_future();
  ps.set_result("first");
  auto range = concur::as_completed({fi, fs, fv, fs}, 60s);
  STATIC_REQUIRE(std::is_same_v<decltype(*range.begin()), const concur::AnyFuture&>);
  std::thread worker([&] {
    pv.set_result();
    pi.set_exception(std::make_exception_ptr(TestError("int failed")));
  });
  std::vector<concur::AnyFuture> order;
  for (const concur::AnyFuture& f : range) order.push_back(f);
  worker.join();
  CHECK(order == std::vector<concur::AnyFuture>{fs, fv, fi});
  REQUIRE_THROWS_AS(fi.result(), TestError);
}

TEST_CASE("as_completed() over a vector of AnyFuture with a timeout",
          "[as_completed][any_future]") {
  Specimen done(Kind::succeeded);
  concur::Promise<std::string> ps;
  const std::vector<concur::AnyFuture> anys{ps.get_future(), done.future};
  const auto got = drain(concur::as_completed(anys, 0ms));
  CHECK(got.timed_out);
  CHECK(got.yielded == std::vector<concur::AnyFuture>{done.future});
  ps.set_result("late");
}

TEST_CASE("as_completed() on a worker runs the pool's queued tasks, so it cannot deadlock",
          "[as_completed][thread_pool]") {
  concur::ThreadPoolExecutor pool(1);
  auto outer = pool.submit([&pool] {
    std::vector<concur::Future<int>> inner;
    for (int i = 0; i < 3; ++i) inner.push_back(pool.submit(mul, i, 2));
    int sum = 0;
    for (const auto& f : concur::as_completed(inner, 15s)) sum += f.result();
    return sum;
  });
  CHECK(outer.result(60s) == 0 + 2 + 4);
  CHECK(pool.thread_count() == 1);
}
