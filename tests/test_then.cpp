// tests/test_then.cpp - Future<T>::then(fn) and then(executor, fn): forms, threads, errors,
// cancellation, flattening, unobserved failures, and 100,000-link chains (run these under ASan
// with g++, which does not turn the hand-offs into tail calls).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "support/catch.hpp"
#include "support/futures.hpp"
#include "support/gate.hpp"

namespace {

using namespace std::chrono_literals;
using concur_test::Gate;
using concur_test::OpenOnExit;
using concur_test::TestError;

constexpr int chain_length = 100000;

std::exception_ptr test_error(const char* what) {
  return std::make_exception_ptr(TestError(what));
}

std::string current_thread_name() {
  char name[32] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return "<unknown>";
  return name;
}

// Counts unobserved failures while it lives, then puts the previous handler back.
class CountUnobserved {
 public:
  CountUnobserved()
      : previous_(concur::set_unobserved_failure_handler(
            [this](const std::exception_ptr&) { count_.fetch_add(1); })) {}
  ~CountUnobserved() { concur::set_unobserved_failure_handler(std::move(previous_)); }
  CountUnobserved(const CountUnobserved&) = delete;
  CountUnobserved& operator=(const CountUnobserved&) = delete;
  int count() const { return count_.load(); }

 private:
  std::atomic<int> count_{0};
  concur::FailureHandler previous_;
};

// Lives as long as some copy of the callable holding it: tells whether fn's captures are gone.
struct Capture {
  std::shared_ptr<int> token = std::make_shared<int>(0);
  std::weak_ptr<int> watch() const { return token; }
};

}  // namespace

TEST_CASE("then(fn) runs fn in the thread that completes the future", "[then][threads]") {
  concur::Promise<int> promise;
  std::thread::id ran_on;
  concur::Future<int> next = promise.get_future().then([&](const int& x) {
    ran_on = std::this_thread::get_id();
    return x + 1;
  });
  CHECK_FALSE(next.done());  // nothing runs before the parent is done
  std::thread::id completer;
  bool done_on_return = false;
  std::thread t([&] {
    completer = std::this_thread::get_id();
    promise.set_result(41);
    done_on_return = next.done();  // inline: done before set_result() returns
  });
  t.join();
  CHECK(done_on_return);
  REQUIRE(next.result() == 42);
  CHECK(ran_on == completer);
  CHECK(ran_on != std::this_thread::get_id());
}

TEST_CASE("then(fn) on a future that is already done runs fn at once in the calling thread",
          "[then][threads]") {
  concur::Promise<int> promise;
  promise.set_result(1);
  std::thread::id ran_on;
  concur::Future<int> next = promise.get_future().then([&](int x) {
    ran_on = std::this_thread::get_id();
    return x * 10;
  });
  REQUIRE(next.done());
  CHECK(ran_on == std::this_thread::get_id());
  CHECK(next.result() == 10);
}

TEST_CASE("then(executor, fn) runs fn on a worker of that executor", "[then][executor]") {
  concur::ThreadPoolExecutor pool(concur::ThreadPoolOptions{1, "thenpool", {}});
  concur::Promise<int> promise;
  std::thread::id ran_on;
  std::string name;
  concur::Future<int> next = promise.get_future().then(pool, [&](int x) {
    ran_on = std::this_thread::get_id();
    name = current_thread_name();
    return x + 1;
  });
  promise.set_result(1);
  REQUIRE(next.result() == 2);
  const std::thread::id worker = pool.submit([] { return std::this_thread::get_id(); }).result();
  CHECK(ran_on == worker);
  CHECK(ran_on != std::this_thread::get_id());
  CHECK(name == "thenpool_0");

  SECTION("through Executor&, on a future already done") {
    concur::Executor& ex = pool;
    concur::Future<std::thread::id> where =
        next.then(ex, [](int) { return std::this_thread::get_id(); });
    CHECK(where.result() == worker);
  }
}

TEST_CASE("then() passes the value, nothing for void, or the whole future", "[then][forms]") {
  concur::Promise<int> ints;
  concur::Promise<void> voids;
  auto from_value = ints.get_future().then([](const int& x) { return std::to_string(x); });
  auto from_void = voids.get_future().then([] { return 7; });
  auto from_future =
      ints.get_future().then([](const concur::Future<int>& f) { return f.result() * 2; });
  auto void_future = voids.get_future().then([](const concur::Future<void>& f) {
    f.result();
    return true;
  });
  auto returns_void = ints.get_future().then([](int) {});
  STATIC_REQUIRE(std::is_same_v<decltype(from_value), concur::Future<std::string>>);
  STATIC_REQUIRE(std::is_same_v<decltype(from_void), concur::Future<int>>);
  STATIC_REQUIRE(std::is_same_v<decltype(from_future), concur::Future<int>>);
  STATIC_REQUIRE(std::is_same_v<decltype(returns_void), concur::Future<void>>);
  ints.set_result(21);
  voids.set_result();
  CHECK(from_value.result() == "21");
  CHECK(from_void.result() == 7);
  CHECK(from_future.result() == 42);
  CHECK(void_future.result());
  returns_void.result();
  CHECK(returns_void.state() == concur::FutureState::finished);
}

TEST_CASE("then() works on a move-only T; fn sees the value and it stays in the parent",
          "[then][forms]") {
  concur::Promise<std::unique_ptr<int>> promise;
  concur::Future<std::unique_ptr<int>> parent = promise.get_future();
  auto seen = parent.then([](const std::unique_ptr<int>& p) { return *p + 1; });
  auto moved_on = parent.then([](const concur::Future<std::unique_ptr<int>>& f) {
    return std::make_unique<int>(*f.result() * 2);
  });
  promise.set_result(std::make_unique<int>(20));
  CHECK(seen.result() == 21);
  CHECK(*moved_on.result() == 40);
  CHECK(*parent.take() == 20);
}

TEST_CASE("a fn returning Future<U> makes then() return Future<U>, finishing as that one does",
          "[then][flatten]") {
  concur::Promise<int> outer;
  concur::Promise<std::string> inner;
  std::atomic<bool> called{false};
  auto flat = outer.get_future().then([&](int) {
    called = true;
    return inner.get_future();
  });
  STATIC_REQUIRE(std::is_same_v<decltype(flat), concur::Future<std::string>>);
  outer.set_result(1);
  REQUIRE(called);
  CHECK(flat.running());  // fn returned; the inner future is not done yet
  CHECK_FALSE(flat.wait_for(10ms));
  inner.set_result("inner");
  CHECK(flat.result() == "inner");

  SECTION("the inner future's error") {
    concur::Promise<int> failing;
    auto f = flat.then([&](const std::string&) { return failing.get_future(); });
    failing.set_exception(test_error("inner failed"));
    CHECK_THROWS_AS(f.result(), TestError);
  }
  SECTION("a cancelled inner future fails the result with CancelledError") {
    concur::Promise<int> cancelled;
    auto inner_future = cancelled.get_future();
    auto f = flat.then([&](const std::string&) { return inner_future; });
    REQUIRE(inner_future.cancel());
    CHECK(f.state() == concur::FutureState::finished);
    CHECK_THROWS_AS(f.result(), concur::CancelledError);
  }
  SECTION("a move-only value is moved out of the inner future") {
    concur::Promise<std::unique_ptr<int>> boxed;
    auto f = flat.then([&](const std::string&) { return boxed.get_future(); });
    boxed.set_result(std::make_unique<int>(5));
    CHECK(*f.result() == 5);
  }
  SECTION("through an executor") {
    concur::ThreadPoolExecutor pool(2);
    auto f = flat.then(
        pool, [&pool](const std::string& s) { return pool.submit([s] { return s.size(); }); });
    STATIC_REQUIRE(std::is_same_v<decltype(f), concur::Future<std::size_t>>);
    CHECK(f.result() == 5);
  }
}

TEST_CASE("an error passes down a chain of value continuations without calling them",
          "[then][errors]") {
  concur::Promise<int> promise;
  std::atomic<int> calls{0};
  auto end = promise.get_future()
                 .then([&](int x) {
                   ++calls;
                   return x;
                 })
                 .then([&](int x) {
                   ++calls;
                   return std::to_string(x);
                 })
                 .then([&](const std::string&) { ++calls; });
  promise.set_exception(test_error("root failed"));
  CHECK_THROWS_AS(end.result(), TestError);
  CHECK(calls == 0);

  SECTION("a future continuation sees the error and may recover") {
    auto recovered = end.then([](const concur::Future<void>& f) {
      try {
        f.result();
        return std::string("no error");
      } catch (const TestError& e) {
        return std::string(e.what());
      }
    });
    CHECK(recovered.result() == "root failed");
  }
}

TEST_CASE("an exception thrown by fn fails the continuation and the links after it",
          "[then][errors]") {
  concur::Promise<int> promise;
  auto thrower = promise.get_future().then([](int) -> int { throw TestError("fn threw"); });
  auto after = thrower.then([](int x) { return x + 1; });
  promise.set_result(1);
  CHECK_THROWS_AS(thrower.result(), TestError);
  CHECK_THROWS_AS(after.result(), TestError);
  CHECK(promise.get_future().result() == 1);  // the parent is untouched
}

TEST_CASE("a cancelled future cancels its value continuations down the chain", "[then][cancel]") {
  concur::Promise<int> promise;
  concur::Future<int> root = promise.get_future();
  std::atomic<int> calls{0};
  auto first = root.then([&](int x) {
    ++calls;
    return x;
  });
  auto second = first.then([&](int) { ++calls; });
  auto observer = second.then([](const concur::Future<void>& f) { return f.cancelled(); });
  REQUIRE(root.cancel());
  CHECK(first.cancelled());
  CHECK(second.cancelled());
  CHECK_THROWS_AS(second.result(), concur::CancelledError);
  CHECK(observer.result());  // a future continuation still runs, and sees the cancellation
  CHECK(calls == 0);
  CHECK_FALSE(promise.set_running_or_notify_cancel());
}

TEST_CASE("cancelling a pending continuation cancels it alone and releases fn at once",
          "[then][cancel]") {
  concur::Promise<int> promise;
  concur::Future<int> parent = promise.get_future();
  Capture capture;
  const std::weak_ptr<int> watch = capture.watch();
  std::atomic<bool> called{false};
  auto child = parent.then([&called, token = std::move(capture.token)](int x) {
    called = true;
    return x + *token;
  });
  auto grandchild = child.then([](int x) { return x; });
  REQUIRE_FALSE(watch.expired());
  REQUIRE(child.cancel());
  CHECK(child.cancelled());
  CHECK(grandchild.cancelled());
  CHECK(watch.expired());  // fn (and its captures) destroyed by cancel(), not later
  CHECK(parent.state() == concur::FutureState::pending);
  CHECK(child.cancel());  // already cancelled: true, as Python
  promise.set_result(1);
  CHECK(parent.result() == 1);
  CHECK(child.cancelled());
  CHECK_FALSE(called);
}

TEST_CASE("a continuation whose fn has started cannot be cancelled", "[then][cancel]") {
  concur::ThreadPoolExecutor pool(1);
  Gate gate;
  OpenOnExit open{gate};
  concur::Promise<void> started;
  concur::Promise<int> promise;
  auto child = promise.get_future().then(pool, [&](int x) {
    started.set_result();
    gate.wait();
    return x + 1;
  });
  promise.set_result(1);
  started.get_future().result();
  CHECK(child.running());
  CHECK_FALSE(child.cancel());
  gate.open();
  CHECK(child.result() == 2);
}

TEST_CASE("a 100,000-link chain on a pending promise completes in constant stack",
          "[then][chain]") {
  concur::Promise<int> promise;
  concur::Future<int> end = promise.get_future();
  for (int i = 0; i < chain_length; ++i) end = end.then([](int x) { return x + 1; });
  CHECK_FALSE(end.done());
  promise.set_result(0);
  CHECK(end.result() == chain_length);
}

TEST_CASE("a 100,000-link chain whose root promise is destroyed unresolved ends in BrokenPromise",
          "[then][chain]") {
  CountUnobserved unobserved;
  concur::Future<int> end;
  {
    concur::Promise<int> promise;
    end = promise.get_future();
    for (int i = 0; i < chain_length; ++i) {
      end = (i % 2 == 0) ? end.then([](int x) { return x + 1; })
                         : end.then([](const concur::Future<int>& f) { return f.result(); });
    }
  }
  CHECK_THROWS_AS(end.result(), concur::BrokenPromise);
  end = concur::Future<int>();
  CHECK(unobserved.count() == 0);  // passed down and looked at: nothing to report
}

TEST_CASE("cancelling the first link of a 100,000-link chain cancels every link",
          "[then][chain][cancel]") {
  concur::Promise<int> promise;
  concur::Future<int> first = promise.get_future().then([](int x) { return x; });
  concur::Future<int> end = first;
  for (int i = 0; i < chain_length; ++i) end = end.then([](int x) { return x + 1; });
  REQUIRE(first.cancel());
  CHECK(end.cancelled());
  promise.set_result(0);
  CHECK(end.cancelled());
}

TEST_CASE("a 100,000-link chain on a pending state dropped unresolved is freed without recursion",
          "[then][chain]") {
  // Promise always resolves its future when it goes, so build the root from the library's own
  // state type to reach the case where a state with continuations dies pending.
  std::weak_ptr<concur::detail::StateBase> last;
  {
    auto root = std::make_shared<concur::detail::State<int>>();
    concur::Future<int> end = concur::detail::FutureAccess::make<int>(root);
    for (int i = 0; i < chain_length; ++i) end = end.then([](int x) { return x + 1; });
    last = concur::detail::FutureAccess::state(end);
  }
  CHECK(last.expired());  // and no stack overflow, and LeakSanitizer finds nothing
}

TEST_CASE("a 100,000-link chain through an executor completes", "[then][chain][executor]") {
  concur::ThreadPoolExecutor pool(2);
  concur::Promise<int> promise;
  concur::Future<int> end = promise.get_future();
  for (int i = 0; i < chain_length / 10; ++i) {
    end = (i % 2 == 0) ? end.then(pool, [](int x) { return x + 1; })
                       : end.then([](int x) { return x + 1; });
  }
  promise.set_result(0);
  CHECK(end.result(30s) == chain_length / 10);
}

TEST_CASE("only the end of a chain reports an unobserved failure", "[then][unobserved]") {
  CountUnobserved unobserved;
  SECTION("nobody looks at the end") {
    {
      concur::Promise<int> promise;
      auto end = promise.get_future().then([](int x) { return x; }).then([](int x) { return x; });
      promise.set_exception(test_error("lost"));
    }
    CHECK(unobserved.count() == 1);
  }
  SECTION("the end is looked at") {
    {
      concur::Promise<int> promise;
      auto end = promise.get_future().then([](int x) { return x; }).then([](int x) { return x; });
      promise.set_exception(test_error("seen"));
      CHECK(end.exception() != nullptr);
    }
    CHECK(unobserved.count() == 0);
  }
  SECTION("a future continuation that ignores the error leaves the parent's failure unobserved") {
    {
      concur::Promise<int> promise;
      auto end = promise.get_future().then([](const concur::Future<int>&) { return 0; });
      promise.set_exception(test_error("ignored"));
      CHECK(end.result() == 0);
    }
    CHECK(unobserved.count() == 1);
  }
}

TEST_CASE("then(executor, fn) after shutdown fails the continuation with ShutdownError",
          "[then][executor]") {
  concur::ThreadPoolExecutor pool(1);
  pool.shutdown();
  concur::Promise<int> promise;
  std::atomic<bool> called{false};
  auto child = promise.get_future().then(pool, [&](int x) {
    called = true;
    return x;
  });
  promise.set_result(1);
  CHECK_THROWS_AS(child.result(), concur::ShutdownError);
  CHECK_FALSE(called);
}

TEST_CASE("then(executor, fn) whose call the executor drops unrun is cancelled",
          "[then][executor][cancel]") {
  concur::ThreadPoolExecutor pool(1);
  Gate gate;
  OpenOnExit open{gate};
  concur::Promise<void> busy;
  auto blocker = pool.submit([&] {
    busy.set_result();
    gate.wait();
  });
  busy.get_future().result();  // the only worker is held: the continuation's call stays queued
  concur::Promise<int> promise;
  std::atomic<bool> called{false};
  auto child = promise.get_future().then(pool, [&](int x) {
    called = true;
    return x;
  });
  promise.set_result(1);
  CHECK(child.state() == concur::FutureState::pending);
  pool.shutdown(false, true);  // cancel_futures: drops the queued call
  CHECK(child.cancelled());
  gate.open();
  blocker.result();
  CHECK_FALSE(called);
}

TEST_CASE("then(executor, fn) passes an error down at once, without a trip to the executor",
          "[then][executor][errors]") {
  concur::ThreadPoolExecutor pool(1);
  Gate gate;
  OpenOnExit open{gate};
  auto blocker = pool.submit([&] { gate.wait(); });  // the pool could not run anything now
  concur::Promise<int> promise;
  auto child = promise.get_future().then(pool, [](int x) { return x; });
  promise.set_exception(test_error("parent failed"));
  CHECK(child.done());
  CHECK_THROWS_AS(child.result(), TestError);
  gate.open();
  blocker.result();
}

TEST_CASE("then() on an empty handle throws InvalidStateError", "[then][errors]") {
  concur::Future<int> empty;
  CHECK_THROWS_AS(empty.then([](int x) { return x; }), concur::InvalidStateError);
  concur::ThreadPoolExecutor pool(1);
  CHECK_THROWS_AS(empty.then(pool, [](int x) { return x; }), concur::InvalidStateError);
}

TEST_CASE("continuations completed from many threads at once each run exactly once",
          "[then][threads]") {
  constexpr int n = 200;
  std::vector<concur::Promise<int>> promises(n);
  std::vector<concur::Future<int>> ends;
  std::atomic<int> calls{0};
  ends.reserve(n);
  for (auto& p : promises) {
    ends.push_back(p.get_future().then([&](int x) {
      ++calls;
      return x + 1;
    }));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < n; i += 4) promises[static_cast<std::size_t>(i)].set_result(i);
    });
  }
  // Meanwhile, cancel some continuations from this thread: each ends exactly one way.
  int cancelled = 0;
  for (int i = 0; i < n; i += 3) cancelled += ends[static_cast<std::size_t>(i)].cancel() ? 1 : 0;
  for (auto& t : threads) t.join();
  int finished = 0;
  for (int i = 0; i < n; ++i) {
    const auto& f = ends[static_cast<std::size_t>(i)];
    if (f.cancelled()) continue;
    ++finished;
    CHECK(f.result() == i + 1);
  }
  CHECK(finished + cancelled == n);
  CHECK(calls == finished);
}
