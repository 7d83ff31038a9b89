// tests/test_coroutine.cpp - co_await on futures, future.via(executor), Task<T>, and submit of a
// function returning Task<T>.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/coroutine.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>
#include <concur/process_pool.hpp>
#include <concur/thread_pool.hpp>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/futures.hpp"
#include "support/gate.hpp"

namespace {

using namespace std::chrono_literals;
using concur::Future;
using concur::Promise;
using concur::Task;
using concur_test::Gate;
using concur_test::TestError;

// A coroutine type that is not concur's: it runs at once, in the caller, and publishes its
// outcome to a concur::Future. Shows that `co_await future` works in any coroutine.
template <class T>
struct Eager {
  Future<T> future;

  struct promise_type {
    Promise<T> promise;
    Eager get_return_object() { return Eager{promise.get_future()}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_value(T value) { promise.set_result(std::move(value)); }
    void unhandled_exception() { promise.set_exception(std::current_exception()); }
  };
};

std::string thread_name() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return "?";
  return name;
}

template <class E, class T>
bool fails_with(const Future<T>& f) {
  try {
    static_cast<void>(f.result());
  } catch (const E&) {
    return true;
  } catch (...) {
  }
  return false;
}

// --- co_await future ---------------------------------------------------------------------------

Eager<int> await_plus_one(Future<int> f) {
  co_return co_await f + 1;
}

TEST_CASE("co_await a finished future yields its value without suspending", "[coroutine]") {
  Promise<int> p;
  p.set_result(41);
  const Eager<int> e = await_plus_one(p.get_future());
  REQUIRE(e.future.done());
  CHECK(e.future.result() == 42);
}

struct Resumed {
  std::thread::id thread;
  int value = 0;
};

Eager<Resumed> await_and_note_thread(Future<int> f) {
  const int v = co_await f;
  co_return Resumed{std::this_thread::get_id(), v};
}

TEST_CASE("co_await a pending future resumes in the thread that completes it", "[coroutine]") {
  Promise<int> p;
  const Eager<Resumed> e = await_and_note_thread(p.get_future());
  CHECK_FALSE(e.future.done());
  std::thread::id completer;
  std::thread t([&] {
    completer = std::this_thread::get_id();
    p.set_result(7);
  });
  t.join();
  REQUIRE(e.future.done());
  CHECK(e.future.result().value == 7);
  CHECK(e.future.result().thread == completer);
}

TEST_CASE("co_await a failed future rethrows its exception", "[coroutine]") {
  SECTION("already failed") {
    Promise<int> p;
    p.set_exception(std::make_exception_ptr(TestError("boom")));
    const Eager<int> e = await_plus_one(p.get_future());
    CHECK_THROWS_AS(e.future.result(), TestError);
  }
  SECTION("failing later, in another thread") {
    Promise<int> p;
    const Eager<int> e = await_plus_one(p.get_future());
    std::thread([&] { p.set_exception(std::make_exception_ptr(TestError("boom"))); }).join();
    CHECK_THROWS_AS(e.future.result(), TestError);
  }
}

TEST_CASE("a coroutine awaiting a cancelled future gets CancelledError", "[coroutine]") {
  SECTION("cancelled before the await") {
    Promise<int> p;
    Future<int> f = p.get_future();
    REQUIRE(f.cancel());
    const Eager<int> e = await_plus_one(f);
    CHECK(fails_with<concur::CancelledError>(e.future));
  }
  SECTION("cancelled while the coroutine waits") {
    Promise<int> p;
    Future<int> f = p.get_future();
    const Eager<int> e = await_plus_one(f);
    CHECK_FALSE(e.future.done());
    REQUIRE(f.cancel());
    CHECK(fails_with<concur::CancelledError>(e.future));
  }
  SECTION("a queued call cancelled in a pool") {
    Gate gate;  // declared first: it outlives the pool, whose worker may still be in wait()
    concur::ThreadPoolExecutor pool(1);
    Future<void> blocker = pool.submit([&] { gate.wait(); });
    Future<int> f = pool.submit([] { return 1; });
    const Eager<int> e = await_plus_one(f);
    REQUIRE(f.cancel());
    gate.open();
    CHECK(fails_with<concur::CancelledError>(e.future));
  }
}

Eager<int> await_move_only(Future<std::unique_ptr<int>> f) {
  std::unique_ptr<int> p = co_await f;
  co_return *p;
}

TEST_CASE("co_await moves a move-only value out, as take() does", "[coroutine]") {
  Promise<std::unique_ptr<int>> p;
  Future<std::unique_ptr<int>> f = p.get_future();
  const Eager<int> e = await_move_only(f);
  p.set_result(std::make_unique<int>(5));
  CHECK(e.future.result() == 5);
  CHECK_THROWS_AS(f.result(), concur::InvalidStateError);
}

TEST_CASE("co_await copies a copyable value and leaves it in the future", "[coroutine]") {
  Promise<int> p;
  Future<int> f = p.get_future();
  const Eager<int> a = await_plus_one(f);
  const Eager<int> b = await_plus_one(f);
  p.set_result(1);
  CHECK(a.future.result() == 2);
  CHECK(b.future.result() == 2);
  CHECK(f.result() == 1);
}

// --- Task<T> -----------------------------------------------------------------------------------

Task<int> constant(int v) {
  co_return v;
}
Task<void> nothing() {
  co_return;
}
Task<int> add(Task<int> a, Task<int> b) {
  const int x = co_await std::move(a);
  co_await nothing();
  co_return x + co_await std::move(b);
}
Task<void> store_sum(int& out) {
  out = co_await add(constant(40), constant(2));
}
Eager<int> run_store_sum() {
  int out = 0;
  co_await store_sum(out);
  co_return out;
}

TEST_CASE("Task<T> and Task<void> await each other", "[coroutine]") {
  const Eager<int> e = run_store_sum();
  REQUIRE(e.future.done());
  CHECK(e.future.result() == 42);
}

Task<int> thrower() {
  throw TestError("deep");
  co_return 0;
}
Task<int> middle() {
  co_return co_await thrower() + 1;
}
Task<void> top() {
  static_cast<void>(co_await middle());
}
Eager<int> catch_top() {
  try {
    co_await top();
  } catch (const TestError& e) {
    co_return std::string(e.what()) == "deep" ? 1 : 2;
  }
  co_return 0;
}

TEST_CASE("an exception propagates out through awaiting Tasks", "[coroutine]") {
  CHECK(catch_top().future.result() == 1);
}

Task<std::unique_ptr<int>> make_unique_task(int v) {
  co_return std::make_unique<int>(v);
}
Eager<int> await_unique_task() {
  co_return *co_await make_unique_task(9);
}

TEST_CASE("a Task may return a move-only value", "[coroutine]") {
  CHECK(await_unique_task().future.result() == 9);
}

Task<void> mark(bool& ran) {
  ran = true;
  co_return;
}

struct Counted {
  static inline std::atomic<int> live{0};
  Counted() { ++live; }
  Counted(const Counted&) { ++live; }
  Counted(Counted&&) noexcept { ++live; }
  Counted& operator=(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  ~Counted() { --live; }
};
Task<void> hold(Counted /*c*/, bool& ran) {
  ran = true;
  co_return;
}

TEST_CASE("a Task is lazy: it runs only when awaited, and an unstarted one is freed",
          "[coroutine]") {
  bool ran = false;
  {
    Task<void> t = mark(ran);
    CHECK(t.valid());
    CHECK_FALSE(ran);
  }
  CHECK_FALSE(ran);
  {
    const int before = Counted::live;
    {
      Task<void> t = hold(Counted(), ran);
      CHECK(Counted::live == before + 1);  // the parameter's copy in the frame
      Task<void> moved = std::move(t);
      CHECK_FALSE(t.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
    }
    CHECK(Counted::live == before);  // the frame (and its parameter) went with the Task
    CHECK_FALSE(ran);
  }
}

Eager<int> await_twice(Task<int>& t) {
  co_await t;
  try {
    co_await t;
  } catch (const concur::InvalidStateError&) {
    co_return 1;
  }
  co_return 0;
}
Eager<int> await_empty() {
  Task<int> t;
  try {
    co_await t;
  } catch (const concur::InvalidStateError&) {
    co_return 1;
  }
  co_return 0;
}

TEST_CASE("a Task can be awaited once; an empty one throws InvalidStateError", "[coroutine]") {
  Task<int> t = constant(3);
  CHECK(await_twice(t).future.result() == 1);
  CHECK(await_empty().future.result() == 1);
}

// --- stack depth (ASan with g++ 12: no tail calls; the trampoline keeps the stack flat) --------

Task<int> one() {
  co_return 1;
}
Task<long> sum_of_ones(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await one();
  co_return sum;
}
Task<int> nested(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await nested(depth - 1);
}
Task<long> await_done_futures(int n) {
  Promise<int> p;
  p.set_result(1);
  const Future<int> f = p.get_future();
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await f;
  co_return sum;
}

TEST_CASE("a Task awaiting 100,000 Tasks that complete at once keeps a flat stack",
          "[coroutine][deep]") {
  concur::ThreadPoolExecutor pool(1);
  CHECK(pool.submit(sum_of_ones, 100'000).result() == 100'000);
  CHECK(pool.submit(await_done_futures, 100'000).result() == 100'000);
}

TEST_CASE("a chain of 10,000 nested Tasks keeps a flat stack", "[coroutine][deep]") {
  concur::ThreadPoolExecutor pool(1);
  CHECK(pool.submit(nested, 10'000).result() == 10'000);
}

// --- submit of a function returning Task<T> ----------------------------------------------------

Task<int> square_later(concur::Executor& ex, int x) {
  const int y = co_await ex.submit([x] { return x * x; });
  co_return y;
}
Task<int> fail_later(concur::Executor& ex) {
  co_await ex.submit([] {});
  throw TestError("coroutine failed");
}
Task<void> set_flag(std::atomic<bool>& flag) {
  flag = true;
  co_return;
}
Task<int> never_a_task() {
  throw TestError("before the coroutine");
}

TEST_CASE("submit of a function returning Task<T> returns a Future<T>", "[coroutine][submit]") {
  concur::ThreadPoolExecutor pool(2);
  concur::Executor& ex = pool;
  SECTION("its value") {
    Future<int> f = ex.submit(square_later, std::ref(ex), 7);
    static_assert(std::is_same_v<decltype(f), Future<int>>);
    CHECK(f.result() == 49);
  }
  SECTION("its exception") {
    Future<int> f = pool.submit(fail_later, std::ref(ex));
    CHECK_THROWS_AS(f.result(), TestError);
  }
  SECTION("Task<void>") {
    std::atomic<bool> flag{false};
    Future<void> f = pool.submit(set_flag, std::ref(flag));
    f.result();
    CHECK(flag);
  }
  SECTION("a lambda with captures: they live until the coroutine ends") {
    const std::string word(64, 'w');  // not a small string: lives on the heap
    Future<std::size_t> f = pool.submit([word, &ex]() -> Task<std::size_t> {
      co_await ex.submit([] { std::this_thread::sleep_for(1ms); });
      co_return word.size();
    });
    CHECK(f.result() == 64);
  }
  SECTION("a function that throws instead of returning a Task") {
    Future<int> f = pool.submit(&never_a_task);
    CHECK_THROWS_AS(f.result(), TestError);
  }
  SECTION("many at once") {
    std::vector<Future<int>> fs;
    for (int i = 0; i < 200; ++i) fs.push_back(pool.submit(square_later, std::ref(ex), i));
    for (int i = 0; i < 200; ++i) CHECK(fs[static_cast<std::size_t>(i)].result() == i * i);
  }
}

// Awaits futures of `ex` until its token says stop; returns how many it awaited.
Task<int> until_stopped(std::stop_token stop, concur::Executor& ex) {
  int rounds = 0;
  while (!stop.stop_requested()) {
    co_await ex.submit([] { std::this_thread::sleep_for(1ms); });
    ++rounds;
  }
  co_return rounds;
}

TEST_CASE("a submitted coroutine taking a std::stop_token gets its future's token",
          "[coroutine][submit][stop]") {
  concur::ThreadPoolExecutor pool(2);
  concur::Executor& ex = pool;
  Future<int> f = ex.submit(until_stopped, std::ref(ex));
  static_assert(std::is_same_v<decltype(f), Future<int>>);
  CHECK_FALSE(f.wait_for(50ms));  // it keeps going until asked
  CHECK(f.request_stop());
  CHECK_FALSE(f.request_stop());  // asked already
  CHECK(f.wait_for(10s));
  CHECK(f.result() >= 1);
  // A coroutine without a token has no stop state.
  Future<int> g = ex.submit(square_later, std::ref(ex), 3);
  CHECK(g.result() == 9);
  CHECK_FALSE(g.request_stop());
}

int g_coroutine_fn_calls = 0;
Task<int> coroutine_for_process() {
  ++g_coroutine_fn_calls;
  co_return 1;
}
int plain_for_process() {
  return 2;
}

TEST_CASE("through Executor&, a process pool refuses a coroutine and queues nothing",
          "[coroutine][process]") {
  concur::ProcessPoolExecutor pool(1);
  concur::Executor& ex = pool;
  try {
    static_cast<void>(ex.submit(coroutine_for_process));
    FAIL("submit did not throw");
  } catch (const concur::Error& e) {
    CHECK_THAT(e.what(), concur_test::ContainsSubstring("ProcessPoolExecutor::submit"));
  }
  CHECK(ex.submit(plain_for_process).result() == 2);
  pool.shutdown();
  CHECK(g_coroutine_fn_calls == 0);
}

// --- via ---------------------------------------------------------------------------------------

template <class E>
Eager<std::string> await_via(Future<int> f, E& ex) {
  const int v = co_await f.via(ex);
  co_return thread_name() + ":" + std::to_string(v);
}

TEST_CASE("co_await future.via(pool) resumes on a thread of the pool", "[coroutine][via]") {
  concur::ThreadPoolExecutor pool(
      concur::ThreadPoolOptions{.max_workers = 2, .thread_name_prefix = "via"});
  SECTION("a future completed later, by this thread") {
    Promise<int> p;
    const Eager<std::string> e = await_via(p.get_future(), pool);
    p.set_result(3);
    CHECK(e.future.result().rfind("via_", 0) == 0);
    CHECK(e.future.result().substr(e.future.result().size() - 2) == ":3");
  }
  SECTION("a future already done, through Executor&") {
    Promise<int> p;
    p.set_result(4);
    concur::Executor& ex = pool;
    const Eager<std::string> e = await_via(p.get_future(), ex);
    CHECK(e.future.result().rfind("via_", 0) == 0);
  }
  SECTION("a future failed: rethrown on the pool") {
    Promise<int> p;
    const Eager<std::string> e = await_via(p.get_future(), pool);
    p.set_exception(std::make_exception_ptr(TestError("via")));
    CHECK_THROWS_AS(e.future.result(), TestError);
  }
}

TEST_CASE("via an executor that is shut down resumes here and throws ShutdownError",
          "[coroutine][via]") {
  concur::ThreadPoolExecutor pool(1);
  pool.shutdown();
  Promise<int> p;
  const Eager<std::string> e = await_via(p.get_future(), pool);
  p.set_result(1);
  REQUIRE(e.future.done());
  CHECK(fails_with<concur::ShutdownError>(e.future));
}

TEST_CASE("via a resumption dropped by shutdown(cancel_futures) throws CancelledError",
          "[coroutine][via]") {
  Gate gate;  // declared first: it outlives the pool, whose worker may still be in wait()
  concur::ThreadPoolExecutor pool(1);
  Future<void> blocker = pool.submit([&] { gate.wait(); });
  Promise<int> p;
  p.set_result(1);
  const Eager<std::string> e = await_via(p.get_future(), pool);  // queued behind the blocker
  CHECK_FALSE(e.future.done());
  pool.shutdown(false, true);
  REQUIRE(e.future.done());
  CHECK(fails_with<concur::CancelledError>(e.future));
  gate.open();
}

Task<std::string> hop_and_name(concur::Executor& ex, Future<int> f) {
  co_await f.via(ex);
  co_return thread_name();
}

TEST_CASE("a submitted Task can hop to another pool with via", "[coroutine][via]") {
  concur::ThreadPoolExecutor a(
      concur::ThreadPoolOptions{.max_workers = 1, .thread_name_prefix = "poola"});
  concur::ThreadPoolExecutor b(
      concur::ThreadPoolOptions{.max_workers = 1, .thread_name_prefix = "poolb"});
  Promise<int> p;
  Future<std::string> f =
      a.submit(hop_and_name, std::ref(static_cast<concur::Executor&>(b)), p.get_future());
  p.set_result(0);
  CHECK(f.result().rfind("poolb_", 0) == 0);
}

}  // namespace

namespace {

Task<int> inner_awaiting(concur::Executor& ex) {
  co_return co_await ex.submit([] { return 5; });
}
Task<int> outer_blocking(concur::Executor& ex) {
  co_await ex.submit([] {});  // now inside a hand-off on the worker
  // Blocking inside a coroutine: the worker runs queued tasks meanwhile (help-while-waiting),
  // and the inner coroutine's resumption must not queue up behind this wait.
  co_return ex.submit(inner_awaiting, std::ref(ex)).result(std::chrono::seconds(20)) + 1;
}

TEST_CASE("a coroutine blocking on a submitted coroutine in a one-thread pool does not deadlock",
          "[coroutine][submit]") {
  concur::ThreadPoolExecutor pool(1);
  concur::Executor& ex = pool;
  CHECK(pool.submit(outer_blocking, std::ref(ex)).result() == 6);
}

}  // namespace
