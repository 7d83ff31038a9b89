// tests/fault/shutdown_race.hpp - shutdown from several threads while others submit: the
// harness the fault tests of both pools share.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/errors.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace concur_fault_test {

// What one race left: every call accepted, how many there were, how many submitters were
// refused, and how many calls a shutdown(wait=true) found still pending when it returned.
template <class Entry>
struct ShutdownRace {
  std::vector<Entry> submitted;
  int total = 0;
  int refused = 0;
  int early_returns = 0;
};

// `submitters` threads each call submit(x) for x = t * 10000 + i, i < per_submitter (submit
// returns an Entry with a `future` member), until the pool throws ShutdownError. Meanwhile four
// threads call shutdown with the (wait, cancel_futures) pairs below, the k-th once
// start_at + k * start_step calls are in (or once every submitter has stopped); after a
// shutdown(wait=true) returns, each counts the calls submitted so far that are still pending.
template <class Entry, class Pool, class Submit>
ShutdownRace<Entry> race_shutdowns(Pool& pool, int submitters, int per_submitter, int start_at,
                                   int start_step, Submit submit) {
  constexpr std::array<std::array<bool, 2>, 4> kShutdowns{
      {{true, false}, {false, true}, {true, true}, {false, false}}};
  std::mutex mutex;
  std::vector<Entry> submitted;  // guarded by mutex
  std::atomic<int> total{0};
  std::atomic<int> refused{0};
  std::atomic<int> early_returns{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < submitters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_submitter; ++i) {
        try {
          Entry entry = submit(t * 10000 + i);
          total.fetch_add(1);
          std::lock_guard<std::mutex> lock(mutex);
          submitted.push_back(std::move(entry));
        } catch (const concur::ShutdownError&) {
          refused.fetch_add(1);
          return;
        }
      }
    });
  }
  for (std::size_t k = 0; k < kShutdowns.size(); ++k) {
    threads.emplace_back([&, k] {
      // Starts once enough calls are in, or once every submitter has stopped (an earlier
      // shutdown refused it).
      while (total.load() < start_at + static_cast<int>(k) * start_step &&
             refused.load() < submitters) {
        std::this_thread::yield();
      }
      pool.shutdown(kShutdowns[k][0], kShutdowns[k][1]);
      if (!kShutdowns[k][0]) return;
      // shutdown(wait=true) returned: every call submitted so far has ended.
      std::lock_guard<std::mutex> lock(mutex);
      for (const Entry& e : submitted) {
        if (!e.future.done()) early_returns.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  return ShutdownRace<Entry>{std::move(submitted), total.load(), refused.load(),
                             early_returns.load()};
}

}  // namespace concur_fault_test
