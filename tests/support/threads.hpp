// tests/support/threads.hpp - ThreadSet: which threads ran something.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once
#include <mutex>
#include <set>
#include <thread>

namespace concur_test {

// Records which threads ran something; thread-safe.
class ThreadSet {
 public:
  void add() {
    std::lock_guard<std::mutex> lock(mutex_);
    ids_.insert(std::this_thread::get_id());
  }
  std::set<std::thread::id> ids() {
    std::lock_guard<std::mutex> lock(mutex_);
    return ids_;
  }

 private:
  std::mutex mutex_;
  std::set<std::thread::id> ids_;  // guarded by mutex_
};

}  // namespace concur_test
