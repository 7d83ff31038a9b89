// tests/test_init.cpp - ThreadPoolOptions::initializer.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Ported from CPython's Lib/test/test_concurrent_futures/test_init.py (InitializerMixin and
// FailingInitializerMixin, thread-pool flavour), plus DESIGN.md "ThreadPoolExecutor": an
// initializer that throws breaks the pool; pending futures fail and later submits throw
// BrokenThreadPool.
#include <concur/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/gate.hpp"
#include "support/threads.hpp"

using namespace std::chrono_literals;
using concur_test::ThreadSet;

namespace {

constexpr auto kLongWait = std::chrono::seconds(10);  // a hang turns into a failure after this

thread_local bool t_initialized = false;  // set by the initializer on the thread it runs on

}  // namespace

// test_init.py: InitializerMixin.test_initializer (ThreadPoolInitializerTest)
TEST_CASE("the initializer runs once on each worker thread, before its first task",
          "[thread_pool][initializer]") {
  const auto workers = GENERATE(std::size_t{1}, 2, 4);
  std::atomic<std::size_t> calls{0};
  ThreadSet init_threads;
  ThreadSet task_threads;
  concur::ThreadPoolExecutor pool(concur::ThreadPoolOptions{
      .max_workers = workers,
      .thread_name_prefix = {},
      .initializer =
          [&] {
            ++calls;
            init_threads.add();
            t_initialized = true;
          },
  });
  REQUIRE(calls == 0);  // no thread yet, so no initializer yet

  // `workers` tasks that wait for one another force `workers` threads.
  concur_test::Latch started;
  std::vector<concur::Future<bool>> futures;
  for (std::size_t i = 0; i < workers; ++i) {
    futures.push_back(pool.submit([&] {
      task_threads.add();
      started.arrive();
      started.wait_for_count(workers, kLongWait);
      return t_initialized;
    }));
  }
  for (int i = 0; i < 50; ++i) {
    futures.push_back(pool.submit([&] {
      task_threads.add();
      return t_initialized;
    }));
  }
  for (auto& f : futures) REQUIRE(f.result());
  pool.shutdown();

  REQUIRE(calls == workers);
  REQUIRE(init_threads.ids().size() == workers);
  REQUIRE(init_threads.ids() == task_threads.ids());
  REQUIRE(init_threads.ids().count(std::this_thread::get_id()) == 0);
  REQUIRE_FALSE(t_initialized);  // never ran on the test's thread
}

// test_init.py: FailingInitializerMixin.test_initializer (ThreadPoolFailingInitializerTest)
TEST_CASE("an initializer that throws fails the pending futures with BrokenThreadPool",
          "[thread_pool][initializer][broken]") {
  const auto workers = GENERATE(std::size_t{1}, 2);
  concur_test::Gate release_initializer;
  std::atomic<int> task_runs{0};
  std::atomic<int> callbacks{0};
  concur::ThreadPoolExecutor pool(concur::ThreadPoolOptions{
      .max_workers = workers,
      .thread_name_prefix = {},
      .initializer =
          [&release_initializer] {
            release_initializer.wait();  // let some futures be queued first
            throw std::runtime_error("error in initializer");
          },
  });

  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 5; ++i) {
    futures.push_back(pool.submit([&task_runs] { return ++task_runs; }));
    futures.back().add_done_callback([&callbacks](const concur::Future<int>&) { ++callbacks; });
  }
  release_initializer.open();

  for (auto& f : futures) {
    REQUIRE_THROWS_AS(f.result(), concur::BrokenThreadPool);
    REQUIRE_THROWS_AS(f.result(), concur::BrokenExecutor);
    REQUIRE(f.state() == concur::FutureState::finished);
  }
  REQUIRE(task_runs == 0);

  // From now on submit is refused.
  REQUIRE_THROWS_AS(pool.submit([] { return 0; }), concur::BrokenThreadPool);
  REQUIRE_THROWS_WITH(pool.submit([] { return 0; }), concur_test::ContainsSubstring("submit"));
  REQUIRE_THROWS_AS(pool.submit([] { return 0; }), concur::Error);
  REQUIRE_THROWS_AS(pool.map([](int x) { return x; }, std::vector<int>{1}),
                    concur::BrokenThreadPool);
  REQUIRE(task_runs == 0);

  pool.shutdown();  // returns on a broken pool; callbacks have run by now
  REQUIRE(callbacks == 5);
}

TEST_CASE(
    "an initializer that throws on the second thread breaks the pool, the running task finishes",
    "[thread_pool][initializer][broken]") {
  std::atomic<int> initializer_calls{0};
  concur_test::Gate gate;
  concur_test::Latch started;
  concur::ThreadPoolExecutor pool(concur::ThreadPoolOptions{
      .max_workers = 2,
      .thread_name_prefix = {},
      .initializer =
          [&initializer_calls] {
            if (++initializer_calls == 2) throw std::runtime_error("second initializer fails");
          },
  });
  auto first = pool.submit([&] {  // holds the first thread, whose initializer succeeded
    started.arrive();
    gate.wait();
    return 1;
  });
  REQUIRE(started.wait_for_count(1, kLongWait));
  auto second = pool.submit([] { return 2; });  // starts the second thread, which fails

  REQUIRE_THROWS_AS(second.result(), concur::BrokenThreadPool);
  REQUIRE_THROWS_AS(pool.submit([] { return 3; }), concur::BrokenThreadPool);
  REQUIRE_FALSE(first.done());
  gate.open();
  REQUIRE(first.result() == 1);  // a running task is not interrupted
  REQUIRE(initializer_calls == 2);
}

TEST_CASE("a pool broken by its initializer shuts down and is destroyed without hanging",
          "[thread_pool][initializer][broken]") {
  const bool wait = GENERATE(true, false);
  concur::Future<void> f;
  {
    concur::ThreadPoolExecutor pool(concur::ThreadPoolOptions{
        .max_workers = 3,
        .thread_name_prefix = {},
        .initializer = [] { throw std::logic_error("initializer always fails"); },
    });
    f = pool.submit([] {});
    f.wait();
    pool.shutdown(wait, true);
  }
  REQUIRE_THROWS_AS(f.result(), concur::BrokenThreadPool);
}
