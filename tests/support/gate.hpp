// tests/support/gate.hpp - Gate: tasks block until the test opens it (no sleeps).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace concur_test {

// A one-shot gate. wait() blocks until open() has been called; open() is idempotent.
class Gate {
 public:
  // Notifies under the lock: a waiter that returns may destroy the gate at once.
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  // Returns true if the gate opened within the timeout.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }
  bool is_open() {
    std::lock_guard<std::mutex> lock(mutex_);
    return open_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;  // guarded by mutex_
};

// Counts arrivals; wait_for_count(n) blocks until at least n threads arrived.
class Latch {
 public:
  void arrive() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++count_;
    cv_.notify_all();
  }
  template <class Rep, class Period>
  bool wait_for_count(std::size_t n, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t count_ = 0;  // guarded by mutex_
};

}  // namespace concur_test
