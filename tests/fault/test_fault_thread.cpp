// tests/fault/test_fault_thread.cpp - fault injection against ThreadPoolExecutor.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Throwing tasks and throwing done-callbacks (DESIGN.md "Future": an exception escaping a
// callback goes to the callback error handler and never reaches the executor or the other
// callbacks), cancel storms from several threads, and shutdown from several threads at once
// while others submit: every future ends exactly once, every callback runs exactly once, a
// cancelled call never runs, nothing hangs. Tagged [fault] (these run under TSan too).
#include <concur/errors.hpp>
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "shutdown_race.hpp"
#include "support/catch.hpp"

using namespace std::chrono_literals;

namespace {

// Installs a callback error handler for the scope, then puts the previous one back.
class CallbackErrors {
 public:
  CallbackErrors()
      : previous_(concur::set_callback_error_handler([this](std::exception_ptr e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::logic_error&) {
            logic_.fetch_add(1);
          } catch (...) {
            other_.fetch_add(1);
          }
        })) {}
  CallbackErrors(const CallbackErrors&) = delete;
  CallbackErrors& operator=(const CallbackErrors&) = delete;
  ~CallbackErrors() { concur::set_callback_error_handler(std::move(previous_)); }

  int logic_errors() const { return logic_.load(); }
  int other_errors() const { return other_.load(); }

 private:
  std::atomic<int> logic_{0};
  std::atomic<int> other_{0};
  concur::FailureHandler previous_;
};

}  // namespace

TEST_CASE("thread pool: throwing tasks and throwing done-callbacks end every future once",
          "[fault]") {
  constexpr int kTasks = 20000;
  CallbackErrors errors;
  std::vector<std::atomic<int>> first(kTasks);
  std::vector<std::atomic<int>> second(kTasks);
  std::vector<concur::Future<int>> futures;
  futures.reserve(kTasks);
  int planned_throws = 0;
  int planned_callback_throws = 0;
  {
    concur::ThreadPoolExecutor pool(4);
    for (int i = 0; i < kTasks; ++i) {
      futures.push_back(pool.submit([i] {
        if (i % 7 == 0) throw std::runtime_error("task " + std::to_string(i));
        return i;
      }));
      // The first callback throws for every fifth call; the second must still run.
      futures.back().add_done_callback([&first, i](const concur::Future<int>&) {
        first[static_cast<std::size_t>(i)].fetch_add(1);
        if (i % 5 == 0) throw std::logic_error("callback " + std::to_string(i));
      });
      futures.back().add_done_callback([&second, i](const concur::Future<int>& f) {
        second[static_cast<std::size_t>(i)].fetch_add(1);
        if (!f.done()) throw std::runtime_error("a callback saw its future not done");
      });
      planned_throws += i % 7 == 0 ? 1 : 0;
      planned_callback_throws += i % 5 == 0 ? 1 : 0;
    }
    pool.shutdown(true);
  }
  int threw = 0;
  int bad = 0;
  for (int i = 0; i < kTasks; ++i) {
    const auto& f = futures[static_cast<std::size_t>(i)];
    REQUIRE(f.done());
    if (f.exception()) {
      ++threw;
      bad += i % 7 == 0 ? 0 : 1;
    } else {
      bad += f.result() == i && i % 7 != 0 ? 0 : 1;
    }
    bad += first[static_cast<std::size_t>(i)].load() == 1 ? 0 : 1;
    bad += second[static_cast<std::size_t>(i)].load() == 1 ? 0 : 1;
  }
  std::printf(
      "thread pool faults: %d tasks; throwing tasks injected %d observed %d; throwing "
      "callbacks injected %d observed %d\n",
      kTasks, planned_throws, threw, planned_callback_throws, errors.logic_errors());
  std::fflush(stdout);
  CHECK(bad == 0);
  CHECK(threw == planned_throws);
  CHECK(errors.logic_errors() == planned_callback_throws);
  CHECK(errors.other_errors() == 0);
}

TEST_CASE("thread pool: cancel storms from several threads end every future exactly once",
          "[fault]") {
  constexpr int kTasks = 20000;
  constexpr int kSubmitters = 2;
  constexpr int kCancellers = 3;
  std::vector<concur::Future<int>> futures(kTasks);
  std::vector<std::atomic<bool>> published(kTasks);
  std::vector<std::atomic<int>> ran(kTasks);
  std::vector<std::atomic<int>> callbacks(kTasks);
  std::vector<std::atomic<int>> cancel_true(kTasks);
  {
    concur::ThreadPoolExecutor pool(3);
    std::atomic<int> submitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kSubmitters; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kTasks; i += kSubmitters) {
          const auto slot = static_cast<std::size_t>(i);
          concur::Future<int> f = pool.submit([&ran, slot, i] {
            ran[slot].fetch_add(1);
            return i;
          });
          f.add_done_callback(
              [&callbacks, slot](const concur::Future<int>&) { callbacks[slot].fetch_add(1); });
          futures[slot] = std::move(f);
          published[slot].store(true, std::memory_order_release);
          submitted.fetch_add(1);
        }
      });
    }
    for (int c = 0; c < kCancellers; ++c) {
      threads.emplace_back([&, c] {
        std::mt19937 rng(static_cast<unsigned>(c) + 1U);
        while (submitted.load() < kTasks) {
          const auto slot = static_cast<std::size_t>(rng() % kTasks);
          if (!published[slot].load(std::memory_order_acquire)) continue;
          if (futures[slot].cancel()) cancel_true[slot].fetch_add(1);
        }
        // A last sweep over everything, racing the workers.
        for (std::size_t slot = static_cast<std::size_t>(c); slot < kTasks; slot += kCancellers) {
          if (futures[slot].cancel()) cancel_true[slot].fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    pool.shutdown(true);
  }
  int cancelled = 0;
  int finished = 0;
  int bad = 0;
  for (std::size_t slot = 0; slot < kTasks; ++slot) {
    const auto& f = futures[slot];
    REQUIRE(f.done());
    bad += callbacks[slot].load() == 1 ? 0 : 1;
    if (f.cancelled()) {
      ++cancelled;
      bad += ran[slot].load() == 0 && cancel_true[slot].load() >= 1 ? 0 : 1;
    } else {
      ++finished;
      bad += ran[slot].load() == 1 && f.result() == static_cast<int>(slot) &&
                     cancel_true[slot].load() == 0
                 ? 0
                 : 1;
    }
  }
  std::printf("thread pool cancel storm: %d tasks, %d cancelled, %d finished\n", kTasks, cancelled,
              finished);
  std::fflush(stdout);
  CHECK(bad == 0);
  CHECK(cancelled + finished == kTasks);
  CHECK(cancelled > 0);
}

TEST_CASE("thread pool: shutdown from several threads while others submit ends every future once",
          "[fault]") {
  int cancelled_total = 0;
  int early_total = 0;
  struct Entry {
    int x;
    concur::Future<int> future;
    std::shared_ptr<std::atomic<int>> ran;
    std::shared_ptr<std::atomic<int>> callbacks;
  };
  for (int round = 0; round < 40; ++round) {
    INFO("round " << round);
    concur_fault_test::ShutdownRace<Entry> race;
    {
      concur::ThreadPoolExecutor pool(3);
      race = concur_fault_test::race_shutdowns<Entry>(pool, 3, 2000, 200, 50, [&pool](int x) {
        auto ran = std::make_shared<std::atomic<int>>(0);
        auto callbacks = std::make_shared<std::atomic<int>>(0);
        concur::Future<int> f = pool.submit([ran, x] {
          ran->fetch_add(1);
          return x;
        });
        f.add_done_callback([callbacks](const concur::Future<int>&) { callbacks->fetch_add(1); });
        return Entry{x, std::move(f), ran, callbacks};
      });
      CHECK_THROWS_AS(pool.submit([] { return 0; }), concur::ShutdownError);
    }
    CHECK(race.early_returns == 0);  // shutdown(wait=true) returned with every call ended
    early_total += race.early_returns;
    int bad = 0;
    for (const Entry& e : race.submitted) {
      REQUIRE(e.future.done());
      bad += e.callbacks->load() == 1 ? 0 : 1;
      if (e.future.cancelled()) {
        ++cancelled_total;
        bad += e.ran->load() == 0 ? 0 : 1;
      } else {
        bad += e.ran->load() == 1 && e.future.result() == e.x ? 0 : 1;
      }
    }
    CHECK(bad == 0);
    CHECK(static_cast<int>(race.submitted.size()) == race.total);
    CHECK(race.refused <= 3);
  }
  std::printf(
      "thread pool concurrent shutdown: 40 rounds, %d calls cancelled in all; %d seen "
      "pending after a shutdown(wait=true) returned\n",
      cancelled_total, early_total);
  std::fflush(stdout);
}

// shutdown(_, cancel_futures=true) takes the queued calls off the queue under the pool's lock
// and cancels them after releasing it (cancelling runs done-callbacks). A shutdown(true) in
// another thread meanwhile joins the workers, which leave as soon as the queue is empty: it
// must still wait until those calls are cancelled.
TEST_CASE("thread pool: shutdown(true) waits for a concurrent shutdown(cancel_futures) to cancel",
          "[fault]") {
  std::atomic<bool> gate{false};
  std::atomic<bool> cancelling{false};
  std::vector<concur::Future<int>> queued;
  int pending_after_return = 0;
  {
    concur::ThreadPoolExecutor pool(1);
    concur::Future<int> blocker = pool.submit([&gate] {
      while (!gate.load()) std::this_thread::yield();
      return 0;
    });
    while (!blocker.running()) std::this_thread::yield();  // the rest stays queued
    for (int i = 0; i < 200; ++i) {
      queued.push_back(pool.submit([i] { return i; }));
      queued.back().add_done_callback([&cancelling](const concur::Future<int>& f) {
        if (!f.cancelled()) return;
        cancelling.store(true);
        std::this_thread::sleep_for(1ms);  // a slow callback widens the window
      });
    }
    std::thread canceller([&pool] { pool.shutdown(false, true); });
    while (!cancelling.load()) std::this_thread::yield();
    gate.store(true);
    pool.shutdown(true);
    for (const auto& f : queued) pending_after_return += f.done() ? 0 : 1;
    canceller.join();
    CHECK(blocker.result() == 0);
  }
  std::printf("thread pool: %d of 200 calls still pending when shutdown(true) returned\n",
              pending_after_return);
  std::fflush(stdout);
  CHECK(pending_after_return == 0);
}

namespace {
// In a child process: gives up root if it has it (root ignores RLIMIT_NPROC), lowers
// RLIMIT_NPROC to 1 (this process), so that no thread can start, then submits. Returns 0 if
// submit threw std::system_error (EAGAIN), queued nothing and started no thread.
int submit_without_threads() {
  if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 10;
  const rlimit one{1, 1};
  if (::setrlimit(RLIMIT_NPROC, &one) != 0) return 11;
  concur::ThreadPoolExecutor pool(2);
  bool ran = false;
  try {
    static_cast<void>(pool.submit([&ran] { ran = true; }));
    return 12;  // a thread started after all
  } catch (const std::system_error& e) {
    if (e.code() != std::errc::resource_unavailable_try_again) return 13;
  }
  if (pool.thread_count() != 0) return 14;
  pool.shutdown(true);  // nothing was queued: nothing to wait for
  return ran ? 15 : 0;
}
}  // namespace

// Root ignores RLIMIT_NPROC, so the test runs in a child that gives root up. Tagged [process]
// (it forks): the TSan builds skip it.
TEST_CASE("thread pool: when no thread can start, submit throws std::system_error, queues nothing",
          "[fault][process]") {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(submit_without_threads());  // _exit: no leak check, it needs a thread
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
