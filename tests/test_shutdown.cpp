// tests/test_shutdown.cpp - ThreadPoolExecutor::shutdown and the destructor.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Ported from CPython's Lib/test/test_concurrent_futures/test_shutdown.py (ExecutorShutdownTest
// and ThreadPoolShutdownTest), plus DESIGN.md "Executor": shutdown(wait, cancel_futures) is
// idempotent and each concrete executor's destructor calls shutdown(true).
#include <concur/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/gate.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto kLongWait = std::chrono::seconds(10);  // a hang turns into a failure after this

// Counts worker threads that have ended: the pool's initializer calls watch_thread_exit(latch) on
// each worker, and the latch gets an arrival when that thread's thread_local objects are
// destroyed, i.e. when the thread exits.
struct ExitWatch {
  concur_test::Latch* latch = nullptr;
  ExitWatch() = default;
  ExitWatch(const ExitWatch&) = delete;
  ExitWatch& operator=(const ExitWatch&) = delete;
  ~ExitWatch() {
    if (latch != nullptr) latch->arrive();
  }
};
thread_local ExitWatch t_exit_watch;

void watch_thread_exit(concur_test::Latch& latch) {
  t_exit_watch.latch = &latch;
}

// Opens `gate` from another thread a little later: most likely while the caller is already
// blocked in shutdown() or a destructor. The tests' assertions hold whatever the timing.
class DelayedOpener {
 public:
  explicit DelayedOpener(concur_test::Gate& gate)
      : thread_([&gate] {
          concur_test::Gate().wait_for(50ms);
          gate.open();
        }) {}
  DelayedOpener(const DelayedOpener&) = delete;
  DelayedOpener& operator=(const DelayedOpener&) = delete;
  ~DelayedOpener() { thread_.join(); }

 private:
  std::thread thread_;
};

// A pool whose every worker thread reports its exit to `exited`.
concur::ThreadPoolOptions watched(std::size_t max_workers, concur_test::Latch& exited) {
  return concur::ThreadPoolOptions{.max_workers = max_workers,
                                   .thread_name_prefix = {},
                                   .initializer = [&exited] { watch_thread_exit(exited); }};
}

int absolute(int x) {
  return x < 0 ? -x : x;
}

std::vector<int> minus_five_to_four() {
  return {-5, -4, -3, -2, -1, 0, 1, 2, 3, 4};
}
const std::vector<int> kAbsolutes{5, 4, 3, 2, 1, 0, 1, 2, 3, 4};

}  // namespace

// test_shutdown.py: ExecutorShutdownTest.test_run_after_shutdown
TEST_CASE("submit after shutdown throws ShutdownError naming submit", "[shutdown]") {
  concur::ThreadPoolExecutor pool(2);
  REQUIRE(pool.submit([] { return 1; }).result() == 1);
  pool.shutdown();
  REQUIRE_THROWS_AS(pool.submit([] { return 2; }), concur::ShutdownError);
  REQUIRE_THROWS_WITH(pool.submit([] { return 2; }), concur_test::ContainsSubstring("submit"));
  REQUIRE_THROWS_AS(pool.map([](int x) { return x; }, std::vector<int>{1, 2}),
                    concur::ShutdownError);
}

TEST_CASE("submit after shutdown(wait=false) throws ShutdownError at once", "[shutdown]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  auto running = pool.submit([&gate] { gate.wait(); });
  pool.shutdown(false);
  REQUIRE_THROWS_AS(pool.submit([] {}), concur::ShutdownError);
  gate.open();
  running.result();
}

TEST_CASE("shutdown is idempotent", "[shutdown]") {
  concur::ThreadPoolExecutor pool(2);
  auto f = pool.submit([] { return 3; });
  pool.shutdown();
  pool.shutdown();
  pool.shutdown(false);
  pool.shutdown(true, true);
  pool.shutdown(false, true);
  REQUIRE(f.result() == 3);
  REQUIRE_THROWS_AS(pool.submit([] {}), concur::ShutdownError);
}  // and the destructor shuts down once more

TEST_CASE("shutdown on a pool that never ran anything returns", "[shutdown]") {
  concur::ThreadPoolExecutor pool(4);
  pool.shutdown();
  REQUIRE(pool.thread_count() == 0);
}

// test_shutdown.py: ExecutorShutdownTest.test_hang_issue12364
TEST_CASE("shutdown(wait=true) waits for every running and pending call", "[shutdown][wait]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(2);
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 50; ++i) {
    futures.push_back(pool.submit([&gate, i] {
      gate.wait();
      return i;
    }));
  }
  {
    DelayedOpener opener(gate);
    pool.shutdown(true);
    for (auto& f : futures) REQUIRE(f.done());  // done before shutdown returned
  }
  for (int i = 0; i < 50; ++i) REQUIRE(futures[static_cast<std::size_t>(i)].result() == i);
}

// test_shutdown.py: ThreadPoolShutdownTest.test_threads_terminate
TEST_CASE("shutdown(wait=true) ends the worker threads before it returns",
          "[shutdown][wait][threads]") {
  static concur_test::Latch exited;  // outlives any thread that might outlive the test
  const std::size_t before = exited.count();
  concur_test::Gate gate;
  concur_test::Latch started;
  concur::ThreadPoolExecutor pool(watched(5, exited));
  std::vector<concur::Future<void>> futures;
  for (int i = 0; i < 3; ++i) {
    futures.push_back(pool.submit([&] {
      started.arrive();
      gate.wait();
    }));
  }
  REQUIRE(started.wait_for_count(3, kLongWait));
  REQUIRE(pool.thread_count() == 3);
  gate.open();
  pool.shutdown();
  REQUIRE(exited.count() - before == 3);
}

// test_shutdown.py: ThreadPoolShutdownTest.test_context_manager_shutdown
TEST_CASE("the destructor waits for the calls and ends the worker threads",
          "[shutdown][destructor]") {
  static concur_test::Latch exited;
  const std::size_t before = exited.count();
  std::size_t threads = 0;
  {
    concur::ThreadPoolExecutor pool(watched(5, exited));
    auto results = pool.map(absolute, minus_five_to_four());
    std::vector<int> got(results.begin(), results.end());
    REQUIRE(got == kAbsolutes);
    threads = pool.thread_count();
  }
  REQUIRE(threads >= 1);
  REQUIRE(exited.count() - before == threads);
}

TEST_CASE("the destructor runs the calls still pending, it does not cancel them",
          "[shutdown][destructor]") {
  std::vector<concur::Future<int>> futures;
  concur_test::Gate gate;
  {
    concur::ThreadPoolExecutor pool(1);
    for (int i = 0; i < 20; ++i) {
      futures.push_back(pool.submit([&gate, i] {
        gate.wait();
        return i;
      }));
    }
    DelayedOpener opener(gate);
  }  // opener joins first, then ~ThreadPoolExecutor = shutdown(true)
  for (int i = 0; i < 20; ++i) {
    REQUIRE(futures[static_cast<std::size_t>(i)].state() == concur::FutureState::finished);
    REQUIRE(futures[static_cast<std::size_t>(i)].result() == i);
  }
}

// test_shutdown.py: ThreadPoolShutdownTest.test_del_shutdown
TEST_CASE("a map range outlives its destroyed pool and yields every result",
          "[shutdown][destructor][map]") {
  static concur_test::Latch exited;
  const std::size_t before = exited.count();
  std::optional<concur::ThreadPoolExecutor> pool(std::in_place, watched(5, exited));
  auto results = pool->map(absolute, minus_five_to_four());
  const std::size_t threads = pool->thread_count();  // no more start after map has submitted all
  pool.reset();  // shutdown(true): every call has run, every worker has ended
  REQUIRE(threads >= 1);
  REQUIRE(exited.count() - before == threads);
  std::vector<int> got(results.begin(), results.end());
  REQUIRE(got == kAbsolutes);
}

// test_shutdown.py: ThreadPoolShutdownTest.test_shutdown_no_wait
TEST_CASE("shutdown(wait=false) returns while calls still run, and they all finish",
          "[shutdown][no_wait]") {
  static concur_test::Latch exited;
  const std::size_t before = exited.count();
  concur_test::Gate gate;
  concur_test::Latch started;
  concur::ThreadPoolExecutor pool(watched(5, exited));
  auto held = pool.submit([&] {
    started.arrive();
    gate.wait();
    return 7;
  });
  REQUIRE(started.wait_for_count(1, kLongWait));
  auto results = pool.map(absolute, minus_five_to_four());

  // shutdown(false) must return while `held` is blocked; run it elsewhere so a bug fails the
  // test instead of hanging it.
  concur_test::Gate returned;
  std::thread shutter([&] {
    pool.shutdown(false);
    returned.open();
  });
  const bool returned_at_once = returned.wait_for(kLongWait);
  REQUIRE_FALSE(held.done());
  gate.open();
  shutter.join();
  CHECK(returned_at_once);

  REQUIRE(held.result() == 7);
  std::vector<int> got(results.begin(), results.end());
  REQUIRE(got == kAbsolutes);
  // With nothing left to do, the workers end on their own, as CPython's do.
  const std::size_t threads = pool.thread_count();
  REQUIRE(exited.wait_for_count(before + threads, kLongWait));
}

TEST_CASE("shutdown(wait=false) leaves pending calls to run", "[shutdown][no_wait]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  auto first = pool.submit([&gate] {
    gate.wait();
    return 0;
  });
  std::vector<concur::Future<int>> pending;
  for (int i = 1; i <= 5; ++i) pending.push_back(pool.submit([i] { return i; }));
  pool.shutdown(false);
  gate.open();
  REQUIRE(first.result() == 0);
  for (int i = 1; i <= 5; ++i) REQUIRE(pending[static_cast<std::size_t>(i - 1)].result() == i);
}

// test_shutdown.py: ExecutorShutdownTest.test_hang_gh83386
TEST_CASE("the destructor after shutdown(wait=false) still waits for the running call",
          "[shutdown][no_wait][destructor]") {
  std::atomic<bool> finished{false};
  concur_test::Gate gate;
  {
    concur::ThreadPoolExecutor pool(3);
    auto f = pool.submit([&] {
      gate.wait();
      finished = true;
    });
    pool.shutdown(false);
    REQUIRE_FALSE(f.done());
    DelayedOpener opener(gate);
  }
  REQUIRE(finished);
}

// test_shutdown.py: ExecutorShutdownTest.test_cancel_futures
TEST_CASE("shutdown with cancel_futures cancels the pending calls and lets running ones finish",
          "[shutdown][cancel_futures]") {
  const bool wait = GENERATE(false, true);
  concur_test::Gate gate;
  concur_test::Latch started;
  std::vector<std::atomic<int>> callbacks(50);
  concur::ThreadPoolExecutor pool(2);
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 50; ++i) {
    futures.push_back(pool.submit([&started, &gate, i] {
      started.arrive();
      gate.wait();
      return i;
    }));
    futures.back().add_done_callback(
        [&callbacks, i](const concur::Future<int>&) { ++callbacks[static_cast<std::size_t>(i)]; });
  }
  REQUIRE(started.wait_for_count(2, kLongWait));  // both workers hold a call; 48 are pending

  if (wait) {
    std::thread shutter([&] { pool.shutdown(true, true); });
    // The pending calls are cancelled at once, before the running ones are released.
    REQUIRE(futures.back().wait_for(kLongWait));
    gate.open();
    shutter.join();
  } else {
    pool.shutdown(false, true);
    gate.open();
  }

  std::size_t cancelled = 0;
  std::size_t finished = 0;
  for (auto& f : futures) {
    f.wait();
    if (f.cancelled()) {
      ++cancelled;
      REQUIRE_THROWS_AS(f.result(), concur::CancelledError);
    } else {
      ++finished;
      REQUIRE(f.exception() == nullptr);
    }
  }
  REQUIRE(cancelled == 48);
  REQUIRE(finished == 2);
  pool.shutdown();  // every callback has run once this returns
  for (auto& c : callbacks) REQUIRE(c == 1);
}

// test_shutdown.py: ThreadPoolShutdownTest.test_cancel_futures_wait_false
TEST_CASE("shutdown(wait=false, cancel_futures=true) right after submit ends cleanly",
          "[shutdown][cancel_futures]") {
  std::atomic<int> runs{0};
  concur::Future<void> f;
  {
    concur::ThreadPoolExecutor pool;
    f = pool.submit([&runs] { ++runs; });
    pool.shutdown(false, true);
  }
  // It either ran (a worker took it first) or was cancelled; never both, never neither.
  REQUIRE(f.done());
  REQUIRE(runs == (f.cancelled() ? 0 : 1));
}

// test_shutdown.py: ExecutorShutdownTest.test_hang_gh94440
TEST_CASE("shutdown(wait=true) returns after a pending call was cancelled", "[shutdown][wait]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  REQUIRE(pool.submit([] { return 0; }).result() == 0);
  auto holder = pool.submit([&gate] { gate.wait(); });
  auto cancelled = pool.submit([] { return 1; });
  REQUIRE(cancelled.cancel());
  gate.open();
  pool.shutdown(true);
  REQUIRE(cancelled.cancelled());
  REQUIRE(holder.done());
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_hang_global_shutdown_lock (its thread-pool
// half: a task that keeps resubmitting itself does not stop shutdown)
TEST_CASE("shutdown does not hang while tasks keep submitting new tasks", "[shutdown][wait]") {
  const bool wait = GENERATE(true, false);
  std::mutex mutex;
  std::vector<concur::Future<void>> futures;  // guarded by mutex
  std::atomic<int> refused{0};
  concur_test::Latch ran;
  {
    concur::ThreadPoolExecutor pool(2);
    struct Resubmit {
      concur::ThreadPoolExecutor& pool;
      std::mutex& mutex;
      std::vector<concur::Future<void>>& futures;
      std::atomic<int>& refused;
      concur_test::Latch& ran;
      void operator()() const {
        ran.arrive();
        try {
          auto next = pool.submit(*this);
          std::lock_guard<std::mutex> lock(mutex);
          futures.push_back(next);
        } catch (const concur::ShutdownError&) {
          ++refused;
        }
      }
    };
    const Resubmit task{pool, mutex, futures, refused, ran};
    for (int chain = 0; chain < 2; ++chain) {
      auto first = pool.submit(task);
      std::lock_guard<std::mutex> lock(mutex);
      futures.push_back(first);
    }
    REQUIRE(ran.wait_for_count(100, kLongWait));  // both chains are going
    pool.shutdown(wait);
  }                       // the destructor waits in any case
  REQUIRE(refused == 2);  // each chain ended on one ShutdownError
  std::lock_guard<std::mutex> lock(mutex);
  for (auto& f : futures) {
    REQUIRE(f.done());
    REQUIRE_FALSE(f.cancelled());
  }
}

TEST_CASE("shutdown can be called from several threads at once", "[shutdown]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(2);
  auto held = pool.submit([&gate] {
    gate.wait();
    return 1;
  });
  std::vector<std::thread> shutters;
  concur_test::Latch returned;
  for (int i = 0; i < 4; ++i) {
    shutters.emplace_back([&pool, &returned, i] {
      pool.shutdown(i % 2 == 0);
      returned.arrive();
    });
  }
  gate.open();
  for (auto& t : shutters) t.join();
  REQUIRE(returned.count() == 4);
  REQUIRE(held.result() == 1);
}
