// bench/peers/textbook_pool.hpp - TextbookPool: the thread pool every tutorial writes, as a peer.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// One std::mutex, one std::condition_variable, one std::queue<std::function<void()>>, and a
// std::packaged_task per call for the future. Nothing clever: it is the baseline a reader would
// write in an afternoon, so a library that cannot beat it has no business being used.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur_bench {

class TextbookPool {
 public:
  explicit TextbookPool(std::size_t threads) {
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  TextbookPool(const TextbookPool&) = delete;
  TextbookPool& operator=(const TextbookPool&) = delete;

  // Runs what is queued, then joins.
  ~TextbookPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // Queues fn() and returns a future of its result.
  template <class F>
  auto submit(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    // std::function needs a copyable target and packaged_task is move-only: the textbook answer
    // is a shared_ptr (one more allocation per call, which is part of what this peer shows).
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
    std::future<R> future = task->get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.emplace([task = std::move(task)] { (*task)(); });
    }
    ready_.notify_one();
    return future;
  }

 private:
  void work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, and nothing left to run
        job = std::move(jobs_.front());
        jobs_.pop();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::queue<std::function<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace concur_bench
