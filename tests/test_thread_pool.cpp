// tests/test_thread_pool.cpp - ThreadPoolExecutor: workers, thread names, nested submit-and-wait.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Ported from CPython's Lib/test/test_concurrent_futures/test_thread_pool.py
// (class ThreadPoolExecutorTest), plus DESIGN.md "ThreadPoolExecutor": threads start on demand,
// are named "<prefix>_<N>", and a worker that waits on a future runs its pool's queued tasks
// (so nested submit-and-wait never deadlocks) while a thread outside the pool never does.
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/gate.hpp"
#include "support/tasks.hpp"
#include "support/threads.hpp"

using namespace std::chrono_literals;
using concur_test::mul;
using concur_test::ThreadSet;

namespace {

constexpr auto kLongWait = std::chrono::seconds(10);  // a hang turns into a failure after this

std::string current_thread_name() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0)
    return "<pthread_getname_np failed>";
  return name;
}

// Keeps the maximum of a value seen by several threads.
void raise_to(std::atomic<int>& maximum, int value) {
  int seen = maximum.load();
  while (value > seen && !maximum.compare_exchange_weak(seen, value)) {
  }
}

// True if `name` is "<digits>" and nothing else.
bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// Runs `workers` tasks that each wait until all have started, so the pool must run them on
// `workers` distinct threads; returns the names those threads had.
std::vector<std::string> names_of_all_workers(concur::ThreadPoolExecutor& pool,
                                              std::size_t workers) {
  concur_test::Latch started;
  std::vector<concur::Future<std::string>> futures;
  for (std::size_t i = 0; i < workers; ++i) {
    futures.push_back(pool.submit([&started, workers] {
      started.arrive();
      started.wait_for_count(workers, kLongWait);
      return current_thread_name();
    }));
  }
  std::vector<std::string> names;
  for (auto& f : futures) names.push_back(f.result());
  std::sort(names.begin(), names.end());
  return names;
}

// fib(n) where every call is its own task and waits for its two children inside the pool.
class NestedFib {
 public:
  NestedFib(concur::ThreadPoolExecutor& pool, ThreadSet& threads)
      : pool_(pool), threads_(threads) {}
  int operator()(int n) {
    threads_.add();
    if (n < 2) return n;
    auto a = pool_.submit([this, n] { return (*this)(n - 1); });
    auto b = pool_.submit([this, n] { return (*this)(n - 2); });
    return a.result() + b.result();
  }

 private:
  concur::ThreadPoolExecutor& pool_;
  ThreadSet& threads_;
};

int plain_fib(int n) {
  return n < 2 ? n : plain_fib(n - 1) + plain_fib(n - 2);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// worker count

// test_thread_pool.py: ThreadPoolExecutorTest.test_default_workers
TEST_CASE("max_workers 0 means min(32, hardware_concurrency + 4)", "[thread_pool][workers]") {
  const std::size_t expected = std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4);
  concur::ThreadPoolExecutor by_default;
  REQUIRE(by_default.max_workers() == expected);
  concur::ThreadPoolExecutor zero(0);
  REQUIRE(zero.max_workers() == expected);
  concur::ThreadPoolExecutor from_options(concur::ThreadPoolOptions{});
  REQUIRE(from_options.max_workers() == expected);
  concur::ThreadPoolExecutor three(3);
  REQUIRE(three.max_workers() == 3);
}

TEST_CASE("a pool starts no thread before the first submit, then exactly one",
          "[thread_pool][workers]") {
  concur::ThreadPoolExecutor pool(4);
  REQUIRE(pool.thread_count() == 0);
  REQUIRE(pool.submit(mul, 6, 7).result() == 42);
  REQUIRE(pool.thread_count() == 1);
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_saturation
TEST_CASE("a saturated pool runs exactly max_workers threads", "[thread_pool][workers]") {
  const auto workers = GENERATE(std::size_t{1}, 2, 4);
  concur_test::Gate gate;
  concur_test::Latch started;
  std::atomic<int> active{0};
  std::atomic<int> most_active{0};
  concur::ThreadPoolExecutor pool(workers);

  std::vector<concur::Future<void>> futures;
  for (std::size_t i = 0; i < 15 * workers; ++i) {
    futures.push_back(pool.submit([&] {
      raise_to(most_active, ++active);
      started.arrive();
      gate.wait();
      --active;
    }));
  }
  REQUIRE(started.wait_for_count(workers, kLongWait));
  REQUIRE(pool.thread_count() == workers);
  gate.open();
  for (auto& f : futures) f.result();
  REQUIRE(static_cast<std::size_t>(most_active.load()) == workers);
  REQUIRE(pool.thread_count() == workers);
}

TEST_CASE("each blocked task gets its own thread until max_workers is reached",
          "[thread_pool][workers]") {
  concur_test::Gate gate;
  concur_test::Latch started;
  concur::ThreadPoolExecutor pool(8);
  std::vector<concur::Future<void>> futures;
  for (int i = 0; i < 3; ++i) {
    futures.push_back(pool.submit([&] {
      started.arrive();
      gate.wait();
    }));
  }
  REQUIRE(pool.thread_count() == 3);
  REQUIRE(started.wait_for_count(3, kLongWait));  // all three run at once
  gate.open();
  for (auto& f : futures) f.result();
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_idle_thread_reuse
TEST_CASE("an idle worker is reused instead of starting a new thread", "[thread_pool][workers]") {
  const auto workers = GENERATE(std::size_t{0}, 8);  // 0: the default, as in CPython's test
  concur::ThreadPoolExecutor pool(workers);
  REQUIRE(pool.submit(mul, 21, 2).result() == 42);
  REQUIRE(pool.submit(mul, 6, 7).result() == 42);
  REQUIRE(pool.submit(mul, 3, 14).result() == 42);
  for (int i = 0; i < 50; ++i) REQUIRE(pool.submit(mul, i, 2).result() == 2 * i);
  // One call at a time: when the next submit looks, the worker that ran the previous call is
  // idle or known to be on its way back (its call's future is done), so no thread is added.
  // (CPython's pool has this race; concur's submit() counts returning workers and closes it.)
  REQUIRE(pool.thread_count() == 1);
}

// ---------------------------------------------------------------------------------------------
// thread names

// test_shutdown.py: ThreadPoolShutdownTest.test_thread_names_assigned
TEST_CASE("worker threads are named <prefix>_<N>", "[thread_pool][names]") {
  concur::ThreadPoolExecutor pool(
      concur::ThreadPoolOptions{.max_workers = 5, .thread_name_prefix = "SpecialPool"});
  const std::vector<std::string> names = names_of_all_workers(pool, 5);
  REQUIRE(names == std::vector<std::string>{"SpecialPool_0", "SpecialPool_1", "SpecialPool_2",
                                            "SpecialPool_3", "SpecialPool_4"});
}

// test_shutdown.py: ThreadPoolShutdownTest.test_thread_names_default
TEST_CASE("without a prefix, workers are named concur-<K>_<N>, K different for each pool",
          "[thread_pool][names]") {
  concur::ThreadPoolExecutor first(3);
  concur::ThreadPoolExecutor second(2);
  std::set<std::string> pool_prefixes;
  for (auto* pool : {&first, &second}) {
    const std::size_t workers = pool->max_workers();
    const std::vector<std::string> names = names_of_all_workers(*pool, workers);
    REQUIRE(names.size() == workers);
    std::set<std::string> prefixes;
    for (std::size_t i = 0; i < workers; ++i) {
      const std::string& name = names[i];
      CAPTURE(name);
      const std::size_t underscore = name.rfind('_');
      REQUIRE(underscore != std::string::npos);
      REQUIRE(name.substr(underscore + 1) == std::to_string(i));
      const std::string prefix = name.substr(0, underscore);
      REQUIRE(prefix.rfind("concur-", 0) == 0);
      REQUIRE(all_digits(prefix.substr(7)));
      prefixes.insert(prefix);
    }
    REQUIRE(prefixes.size() == 1);  // one prefix per pool
    pool_prefixes.insert(*prefixes.begin());
  }
  REQUIRE(pool_prefixes.size() == 2);  // and another one for the next pool
}

TEST_CASE("a long prefix is shortened so that the name keeps its _<N> within 15 characters",
          "[thread_pool][names]") {
  const std::string prefix = "AVeryLongThreadPoolPrefix";
  concur::ThreadPoolExecutor pool(
      concur::ThreadPoolOptions{.max_workers = 2, .thread_name_prefix = prefix});
  const std::vector<std::string> names = names_of_all_workers(pool, 2);
  REQUIRE(names ==
          std::vector<std::string>{prefix.substr(0, 13) + "_0", prefix.substr(0, 13) + "_1"});
}

// ---------------------------------------------------------------------------------------------
// map on the thread pool

// test_thread_pool.py: ThreadPoolExecutorTest.test_map_submits_without_iteration
TEST_CASE("map submits every call without being iterated", "[thread_pool][map]") {
  concur::ThreadPoolExecutor pool(5);
  std::mutex mutex;
  std::vector<int> finished;
  std::vector<int> items(10);
  std::iota(items.begin(), items.end(), 0);
  auto results = pool.map(
      [&](int n) {
        std::lock_guard<std::mutex> lock(mutex);
        finished.push_back(n);
      },
      items);
  pool.shutdown(true);
  std::sort(finished.begin(), finished.end());
  REQUIRE(finished == items);
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_executor_map_current_future_cancel
TEST_CASE("map calls still queued when its timeout expires never run once the range is gone",
          "[thread_pool][map][timeout][cancel]") {
  std::mutex mutex;
  std::vector<std::string> log;
  concur_test::Gate stop;
  auto log_n_wait = [&](const std::string& ident) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      log.push_back(ident + " started");
    }
    stop.wait();
    std::lock_guard<std::mutex> lock(mutex);
    log.push_back(ident + " stopped");
  };
  {
    concur::ThreadPoolExecutor pool(1);
    auto first = pool.submit(log_n_wait, std::string("first"));  // saturates the pool
    {
      auto gen = pool.map(log_n_wait, std::vector<std::string>{"second", "third"},
                          concur::MapOptions{.timeout = std::chrono::nanoseconds(0)});
      REQUIRE_THROWS_AS(*gen.begin(), concur::TimeoutError);
    }  // "second" and "third" are cancelled with the range
    stop.open();
    first.result();
  }
  REQUIRE(log == std::vector<std::string>{"first started", "first stopped"});
}

// ---------------------------------------------------------------------------------------------
// submit and wait from inside the pool

TEST_CASE("a task can submit another task to its own pool", "[thread_pool][nested]") {
  const auto workers = GENERATE(std::size_t{1}, 2);
  concur::ThreadPoolExecutor pool(workers);
  concur::Future<int> inner;
  auto outer = pool.submit([&pool, &inner] { inner = pool.submit(mul, 6, 7); });
  outer.result();
  REQUIRE(inner.valid());
  REQUIRE(inner.result() == 42);
}

TEST_CASE("nested submit-and-wait completes and stays on at most max_workers threads",
          "[thread_pool][nested]") {
  const auto workers = GENERATE(std::size_t{1}, 2);
  concur::ThreadPoolExecutor pool(workers);
  ThreadSet threads;

  SECTION("one level: a task waits for a task it submitted") {
    auto outer = pool.submit([&] {
      threads.add();
      auto inner = pool.submit([&] {
        threads.add();
        return 21;
      });
      return inner.result() * 2;
    });
    REQUIRE(outer.result() == 42);
  }
  SECTION("a chain 200 tasks deep, each waiting for the next") {
    struct Chain {
      concur::ThreadPoolExecutor& pool;
      ThreadSet& seen;
      int depth(int n) {
        seen.add();
        if (n == 0) return 0;
        return 1 + pool.submit([this, n] { return depth(n - 1); }).result();
      }
    } chain{pool, threads};
    auto f = pool.submit([&chain] { return chain.depth(200); });
    REQUIRE(f.result() == 200);
  }
  SECTION("recursive fib, every call a task") {
    NestedFib fib(pool, threads);
    auto f = pool.submit([&fib] { return fib(12); });
    REQUIRE(f.result() == plain_fib(12));
  }
  SECTION("many tasks fan out and wait for their children at the same time") {
    NestedFib fib(pool, threads);
    std::vector<concur::Future<int>> roots;
    for (int i = 0; i < 8; ++i) roots.push_back(pool.submit([&fib, i] { return fib(5 + i % 4); }));
    for (std::size_t i = 0; i < roots.size(); ++i) {
      REQUIRE(roots[i].result() == plain_fib(5 + static_cast<int>(i) % 4));
    }
  }
  const std::set<std::thread::id> ids = threads.ids();
  REQUIRE(ids.size() <= workers);
  REQUIRE(ids.count(std::this_thread::get_id()) == 0);
  REQUIRE(pool.thread_count() <= workers);
}

TEST_CASE("wait, as_completed and the future's own waits work inside a task of a one-worker pool",
          "[thread_pool][nested]") {
  concur::ThreadPoolExecutor pool(1);
  auto children = [&pool] {
    std::vector<concur::Future<int>> fs;
    for (int i = 1; i <= 3; ++i) fs.push_back(pool.submit(mul, i, 10));
    return fs;
  };

  SECTION("concur::wait") {
    auto f = pool.submit([&] {
      auto fs = children();
      auto result = concur::wait(fs);
      return result.done.size() == 3 && result.not_done.empty();
    });
    REQUIRE(f.result());
  }
  SECTION("concur::wait with a timeout and first_completed") {
    auto f = pool.submit([&] {
      auto fs = children();
      auto result = concur::wait(fs, kLongWait, concur::ReturnWhen::first_completed);
      return !result.done.empty();
    });
    REQUIRE(f.result());
  }
  SECTION("concur::as_completed") {
    auto f = pool.submit([&] {
      auto fs = children();
      int sum = 0;
      for (const auto& done : concur::as_completed(fs)) sum += done.result();
      return sum;
    });
    REQUIRE(f.result() == 60);
  }
  SECTION("Future::wait, wait_for and exception") {
    auto f = pool.submit([&] {
      auto fs = children();
      fs[0].wait();
      const bool in_time = fs[1].wait_for(kLongWait);
      const bool no_error = fs[2].exception() == nullptr;
      return in_time && no_error && fs[0].done();
    });
    REQUIRE(f.result());
  }
}

TEST_CASE("result() called outside the pool never runs the pool's tasks", "[thread_pool][nested]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  std::atomic<bool> x_ran{false};
  std::thread::id x_thread;
  auto holder = pool.submit([&gate] { gate.wait(); });  // holds the only worker
  auto x = pool.submit([&] {
    x_thread = std::this_thread::get_id();
    x_ran = true;
    return 1;
  });

  REQUIRE_THROWS_AS(x.result(50ms), concur::TimeoutError);
  REQUIRE_FALSE(x_ran);
  REQUIRE_FALSE(x.wait_for(50ms));
  REQUIRE_THROWS_AS(x.exception(50ms), concur::TimeoutError);
  REQUIRE(concur::wait(std::vector<concur::Future<int>>{x}, 50ms).not_done.size() == 1);
  auto completed = concur::as_completed(std::vector<concur::Future<int>>{x}, 50ms);
  REQUIRE_THROWS_AS(completed.begin(), concur::TimeoutError);
  REQUIRE_FALSE(x_ran);
  REQUIRE(x.state() == concur::FutureState::pending);

  gate.open();
  REQUIRE(x.result() == 1);
  holder.result();
  REQUIRE(x_thread != std::this_thread::get_id());
}

TEST_CASE("a worker waiting on a future of another pool does not run that pool's tasks",
          "[thread_pool][nested]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor a(1);
  concur::ThreadPoolExecutor b(1);
  std::atomic<bool> y_ran{false};
  auto holder = b.submit([&gate] { gate.wait(); });  // holds b's only worker
  auto y = b.submit([&y_ran] {
    y_ran = true;
    return 2;
  });
  // A worker of pool a waits on y, a future of pool b: it must time out, y still queued.
  auto waiter = a.submit([&y] {
    try {
      (void)y.result(50ms);
      return false;
    } catch (const concur::TimeoutError&) {
      return true;
    }
  });
  REQUIRE(waiter.result());
  REQUIRE_FALSE(y_ran);
  gate.open();
  REQUIRE(y.result() == 2);
  holder.result();
}

namespace {
// How many task bodies are active on the calling thread, and the most seen on any thread.
struct Nesting {
  std::atomic<int> most{0};
  static int& here() {
    static thread_local int depth = 0;
    return depth;
  }
  struct Enter {
    explicit Enter(Nesting& n) {
      const int d = ++here();
      int seen = n.most.load();
      while (d > seen && !n.most.compare_exchange_weak(seen, d)) {
      }
    }
    ~Enter() { --here(); }
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;
  };
};
}  // namespace

// A waiting worker runs queued calls; if each of those waits too, and runs the next queued
// call, and so on, one thread's stack holds the whole queue (2000 calls here: a stack overflow
// under ASan). Past a small bound, a waiting worker runs only the calls it waits for.
TEST_CASE("helping nests a bounded depth: 2000 queued tasks that each wait for a subtask",
          "[thread_pool][nested]") {
  enum class How { result, wait_first, as_completed };
  const How how = GENERATE(How::result, How::wait_first, How::as_completed);
  constexpr int kTasks = 2000;
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  Nesting nesting;
  auto holder = pool.submit([&gate] { gate.wait(); });  // everything below queues up first
  std::vector<concur::Future<int>> outers;
  outers.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    outers.push_back(pool.submit([&pool, &nesting, how, i] {
      const Nesting::Enter enter(nesting);
      std::vector<concur::Future<int>> child{pool.submit(mul, i, 2)};
      if (how == How::wait_first) {
        (void)concur::wait(child, kLongWait, concur::ReturnWhen::first_completed);
      } else if (how == How::as_completed) {
        for (const auto& done : concur::as_completed(child)) (void)done;
      }
      return child[0].result() + 1;
    }));
  }
  gate.open();
  for (int i = 0; i < kTasks; ++i)
    REQUIRE(outers[static_cast<std::size_t>(i)].result() == 2 * i + 1);
  holder.result();
  CAPTURE(nesting.most.load());
  REQUIRE(nesting.most.load() >= 2);   // helping did happen
  REQUIRE(nesting.most.load() <= 16);  // and stopped early (the pool's bound is 8)
}

// Past the bound the worker runs only what it waits for; what completes its future may be
// queued only later (a continuation on the pool), or be a call it cannot recognise (the inner
// call of a flattened continuation). Neither may hang it, even on the pool's only worker.
TEST_CASE("a worker helping past the depth bound runs calls queued later that complete its wait",
          "[thread_pool][nested]") {
  constexpr int kTasks = 14;  // deeper than the bound
  const bool flattened = GENERATE(false, true);
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  Nesting nesting;
  std::vector<concur::Promise<int>> promises(kTasks);
  std::vector<concur::Future<int>> awaited;
  for (auto& p : promises) {
    if (flattened) {
      awaited.push_back(p.get_future().then(
          [&pool](int v) { return pool.submit([v] { return v + 1; }); }));  // Future<int>
    } else {
      awaited.push_back(p.get_future().then(pool, [](int v) { return v + 1; }));
    }
  }
  auto holder = pool.submit([&gate] { gate.wait(); });
  std::vector<concur::Future<int>> outers;
  for (std::size_t i = 0; i < kTasks; ++i) {
    outers.push_back(pool.submit([&awaited, &nesting, i] {
      const Nesting::Enter enter(nesting);
      return awaited[i].result() * 10;
    }));
  }
  gate.open();
  // Let the worker go as deep as it will, then complete the promises one by one.
  std::this_thread::sleep_for(100ms);
  for (int i = 0; i < kTasks; ++i) promises[static_cast<std::size_t>(i)].set_result(i);
  for (int i = 0; i < kTasks; ++i) {
    REQUIRE(outers[static_cast<std::size_t>(i)].result() == (i + 1) * 10);
  }
  holder.result();
  CAPTURE(nesting.most.load());
  REQUIRE(nesting.most.load() >= 2);
}

// test_thread_pool.py: ThreadPoolExecutorTest.test_process_fork_from_a_threadpool
TEST_CASE("a task can fork a child process that exits cleanly", "[thread_pool][fork]") {
  concur::ThreadPoolExecutor pool(1);
  auto f = pool.submit([] {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);  // the child touches nothing
    if (pid < 0) return -2;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -3;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  });
  REQUIRE(f.result() == 0);
  // The pool still works afterwards.
  REQUIRE(pool.submit(mul, 2, 3).result() == 6);
}
