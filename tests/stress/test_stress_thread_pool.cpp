// tests/stress/test_stress_thread_pool.cpp - ThreadPoolExecutor under concurrent load. [stress]
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Many threads submit, cancel, add callbacks and wait at once; afterwards every future must have
// ended exactly once: each done-callback ran once, finished + cancelled == submitted, and every
// finished future holds its own call's result. Also nested submit-and-wait while the pool is
// busy with other work. Meant to run under TSan as well: it keeps the full 100 000 tasks there
// too (a few seconds on two cores), so no scaling down under sanitizers.
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/gate.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kTotal = 100'000;
constexpr std::size_t kSubmitters = 8;
constexpr std::size_t kPerSubmitter = kTotal / kSubmitters;
static_assert(kTotal % kSubmitters == 0);

// xorshift64: a fast, deterministic, thread-local source of slot numbers.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed | 1) {}
  std::size_t below(std::size_t n) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return static_cast<std::size_t>(state_ % n);
  }

 private:
  std::uint64_t state_;
};

int value_for(std::size_t slot) {
  return static_cast<int>(slot);
}

}  // namespace

TEST_CASE("100k futures from 8 submitting threads, cancelled at random, each end exactly once",
          "[stress][thread_pool]") {
  concur::ThreadPoolExecutor pool(4);

  // Slot i belongs to the future of call i. ready[i] publishes futures[i] to the other threads.
  std::vector<concur::Future<int>> futures(kTotal);
  std::unique_ptr<std::atomic<bool>[]> ready(new std::atomic<bool>[kTotal]);
  std::unique_ptr<std::atomic<int>[]> callbacks(new std::atomic<int>[kTotal]);
  std::unique_ptr<std::atomic<int>[]> runs(new std::atomic<int>[kTotal]);
  for (std::size_t i = 0; i < kTotal; ++i) {
    ready[i].store(false);
    callbacks[i].store(0);
    runs[i].store(0);
  }
  std::atomic<std::size_t> finished_callbacks{0};
  std::atomic<std::size_t> cancelled_callbacks{0};
  std::atomic<std::size_t> submitters_done{0};
  concur_test::Gate first_share_submitted;

  std::vector<std::thread> submitters;
  for (std::size_t t = 0; t < kSubmitters; ++t) {
    submitters.emplace_back([&, t] {
      for (std::size_t i = t * kPerSubmitter; i < (t + 1) * kPerSubmitter; ++i) {
        concur::Future<int> f = pool.submit([&runs, i] {
          runs[i].fetch_add(1);
          return value_for(i);
        });
        f.add_done_callback([&, i](const concur::Future<int>& g) {
          callbacks[i].fetch_add(1);
          if (g.cancelled()) {
            cancelled_callbacks.fetch_add(1);
          } else {
            finished_callbacks.fetch_add(1);
          }
        });
        futures[i] = f;
        ready[i].store(true, std::memory_order_release);
      }
      if (t == 0) first_share_submitted.open();
      submitters_done.fetch_add(1);
    });
  }

  // Cancels futures at random while the submitters run (a cancel of a running or finished
  // future fails, which is fine), then sweeps over everything once more.
  std::atomic<std::size_t> cancel_attempts{0};
  std::thread canceller([&] {
    Random random(0x9e3779b97f4a7c15ULL);
    while (submitters_done.load() < kSubmitters) {
      const std::size_t i = random.below(kTotal);
      if (ready[i].load(std::memory_order_acquire)) {
        (void)futures[i].cancel();
        cancel_attempts.fetch_add(1);
      }
    }
    for (std::size_t i = 0; i < kTotal; i += 7) (void)futures[i].cancel();
  });

  // Iterates as_completed over the first submitter's share while the rest goes on. A finished
  // future is recognised by its value (unique per slot); cancelled ones are counted.
  std::size_t yielded = 0;
  std::size_t yielded_cancelled = 0;
  std::size_t yielded_twice = 0;
  bool all_yielded_done = true;
  std::thread consumer([&] {
    first_share_submitted.wait();
    std::vector<concur::Future<int>> share(
        futures.begin(), futures.begin() + static_cast<std::ptrdiff_t>(kPerSubmitter));
    std::vector<bool> seen(kPerSubmitter, false);
    for (const concur::Future<int>& f : concur::as_completed(share, std::chrono::seconds(120))) {
      ++yielded;
      if (!f.done()) all_yielded_done = false;
      if (f.cancelled()) {
        ++yielded_cancelled;
        continue;
      }
      const auto slot = static_cast<std::size_t>(f.result());
      if (slot < seen.size()) {
        if (seen[slot]) ++yielded_twice;
        seen[slot] = true;
      }
    }
  });

  for (auto& t : submitters) t.join();
  canceller.join();
  consumer.join();
  pool.shutdown(true);  // every call and every callback has run once this returns

  std::size_t share_cancelled = 0;
  for (std::size_t i = 0; i < kPerSubmitter; ++i)
    share_cancelled += futures[i].cancelled() ? 1U : 0U;
  REQUIRE(yielded == kPerSubmitter);
  REQUIRE(yielded_twice == 0);
  REQUIRE(yielded_cancelled == share_cancelled);
  REQUIRE(all_yielded_done);
  REQUIRE(cancel_attempts > 0);

  std::size_t finished = 0;
  std::size_t cancelled = 0;
  std::size_t bad_callbacks = 0;
  std::size_t bad_runs = 0;
  std::size_t bad_results = 0;
  for (std::size_t i = 0; i < kTotal; ++i) {
    const concur::Future<int>& f = futures[i];
    if (callbacks[i].load() != 1) ++bad_callbacks;
    if (f.cancelled()) {
      ++cancelled;
      if (runs[i].load() != 0) ++bad_runs;
    } else if (f.state() == concur::FutureState::finished) {
      ++finished;
      if (runs[i].load() != 1) ++bad_runs;
      if (f.result() != value_for(i)) ++bad_results;
    }
  }
  CAPTURE(finished, cancelled);
  REQUIRE(bad_callbacks == 0);  // each callback ran exactly once: none lost, none doubled
  REQUIRE(bad_runs == 0);       // a cancelled call never ran, a finished one ran once
  REQUIRE(bad_results == 0);
  REQUIRE(finished + cancelled == kTotal);
  REQUIRE(finished_callbacks.load() == finished);
  REQUIRE(cancelled_callbacks.load() == cancelled);
  REQUIRE(cancelled > 0);  // the canceller did win some races
  REQUIRE(finished > 0);
}

TEST_CASE("nested submit-and-wait under load from several threads completes on max_workers threads",
          "[stress][thread_pool][nested]") {
  constexpr std::size_t kWorkers = 3;
  constexpr int kOuterPerThread = 150;
  constexpr int kExternalThreads = 4;
  constexpr int kChildren = 6;
  concur::ThreadPoolExecutor pool(kWorkers);

  std::mutex mutex;
  std::set<std::thread::id> worker_ids;  // guarded by mutex
  auto note_thread = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    worker_ids.insert(std::this_thread::get_id());
  };

  // Each outer task submits children, some of which submit grandchildren, and waits for all.
  struct Nested {
    concur::ThreadPoolExecutor& pool;
    decltype(note_thread)& note;
    int run(int depth, int seed) {
      note();
      if (depth == 0) return seed;
      std::vector<concur::Future<int>> children;
      for (int c = 0; c < kChildren; ++c) {
        children.push_back(
            pool.submit([this, depth, seed, c] { return run(depth - 1, seed + c); }));
      }
      int sum = 0;
      for (std::size_t c = 0; c < children.size(); ++c) {
        // Mix the ways of waiting: result(), wait() + result(), concur::wait.
        if (c % 3 == 1) children[c].wait();
        sum += children[c].result();
      }
      if (depth % 2 == 0) (void)concur::wait(children);
      return sum;
    }
  };
  Nested nested{pool, note_thread};
  auto expected = [](int depth, int seed) {
    // run(0, s) = s; run(d, s) = sum over c of run(d-1, s+c)
    auto rec = [](auto&& self, int d, int s) -> long long {
      if (d == 0) return s;
      long long sum = 0;
      for (int c = 0; c < kChildren; ++c) sum += self(self, d - 1, s + c);
      return sum;
    };
    return rec(rec, depth, seed);
  };

  std::atomic<int> wrong{0};
  std::atomic<int> completed{0};
  std::vector<std::thread> external;
  for (int t = 0; t < kExternalThreads; ++t) {
    external.emplace_back([&, t] {
      std::vector<concur::Future<int>> outers;
      for (int i = 0; i < kOuterPerThread; ++i) {
        const int depth = 1 + (i + t) % 2;
        outers.push_back(pool.submit([&nested, depth, i] { return nested.run(depth, i); }));
      }
      for (int i = 0; i < kOuterPerThread; ++i) {
        const int depth = 1 + (i + t) % 2;
        if (outers[static_cast<std::size_t>(i)].result() != expected(depth, i)) wrong.fetch_add(1);
        completed.fetch_add(1);
      }
    });
  }
  for (auto& t : external) t.join();
  pool.shutdown();

  REQUIRE(completed == kExternalThreads * kOuterPerThread);
  REQUIRE(wrong == 0);
  REQUIRE(worker_ids.size() <= kWorkers);
  REQUIRE(worker_ids.count(std::this_thread::get_id()) == 0);
  REQUIRE(pool.thread_count() <= kWorkers);
}
