// concur/thread_pool.hpp - ThreadPoolExecutor: an Executor that runs calls on a pool of threads.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// A ThreadPoolExecutor runs submitted calls on up to max_workers threads, like Python's
// concurrent.futures.ThreadPoolExecutor. Threads start on demand (when a call is queued and no
// thread is idle) and idle ones are reused; each is named "<prefix>_<N>".
//
// Unlike Python's pool (and BS::thread_pool's, Taskflow's...), waiting inside the pool never
// deadlocks it: a worker that waits for a future (result(), wait(), exception(), concur::wait,
// as_completed) runs the pool's queued calls meanwhile, so a task that submits a subtask and
// waits for it completes even with max_workers = 1, and no extra thread is started for it.
// Waiting outside the pool never runs calls.
//
// Unlike C++'s std::async, unlike Python's threads, C++ threads run CPU-bound calls in
// parallel.
//
// Example:
//   concur::ThreadPoolExecutor pool(concur::ThreadPoolOptions{.max_workers = 4,
//                                                             .thread_name_prefix = "io"});
//   auto f = pool.submit(download, url);   // Future<std::string>
//   std::string page = f.result();
//   // ~ThreadPoolExecutor() waits for every call, as Python's `with` does.

#include <concur/errors.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>

#include <concur/detail/parker.hpp>
#include <concur/detail/ring_queue.hpp>
#include <concur/detail/task.hpp>
#include <concur/detail/thread_name.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace concur {

/// Options of a ThreadPoolExecutor.
struct ThreadPoolOptions {
  /// At most this many threads; 0 means Python's default, min(32, hardware_concurrency + 4).
  std::size_t max_workers = 0;
  /// Threads are named "<prefix>_<N>"; empty means "concur-<K>", K counting pools.
  std::string thread_name_prefix{};
  /// Runs once at the start of every worker thread. If it throws, the pool breaks: pending
  /// calls fail and later submits throw BrokenThreadPool.
  std::function<void()> initializer{};
};

/// An Executor backed by a pool of threads. Python: concurrent.futures.ThreadPoolExecutor.
class ThreadPoolExecutor final : public Executor, private detail::WorkHelper {
 public:
  /// A pool of at most max_workers threads (0: min(32, hardware_concurrency + 4)).
  explicit ThreadPoolExecutor(std::size_t max_workers = 0)
      : ThreadPoolExecutor(ThreadPoolOptions{max_workers, {}, {}}) {}

  explicit ThreadPoolExecutor(ThreadPoolOptions options)
      : max_workers_(options.max_workers != 0 ? options.max_workers : default_max_workers()),
        prefix_(options.thread_name_prefix.empty() ? default_prefix()
                                                   : std::move(options.thread_name_prefix)),
        initializer_(std::move(options.initializer)) {}

  /// shutdown(true): waits for every submitted call, as Python's `with` block does.
  ~ThreadPoolExecutor() override { shutdown(true); }

  /// Stops accepting calls; see Executor::shutdown. Called from one of this pool's own
  /// workers, shutdown(true) waits for the other workers only. With cancel_futures, running
  /// calls that take a std::stop_token are asked to stop; threads cannot be killed, so a call
  /// that ignores its token runs to its end.
  void shutdown(bool wait = true, bool cancel_futures = false) override {
    std::vector<detail::Task> cancelled;
    {
      std::lock_guard<detail::SpinLock> lock(mutex_);
      shutdown_ = true;
      if (cancel_futures) cancelled = take_all_locked();
      wake_all_idle_locked();
    }
    if (cancel_futures) settle(cancelled, [](detail::Task& task) { task.cancel(); });
    if (cancel_futures) stop_running_.request_stop();  // outside the lock: runs stop_callbacks
    if (wait) join_workers();
  }

  /// The most threads this pool starts.
  std::size_t max_workers() const noexcept { return max_workers_; }

  /// How many threads this pool has started so far.
  std::size_t thread_count() const {
    std::lock_guard<detail::SpinLock> lock(mutex_);
    return threads_.size();
  }

 protected:
  [[nodiscard]] bool shares_memory() const noexcept override { return true; }

  void submit_task(detail::Task task) override {
    std::lock_guard<detail::SpinLock> lock(mutex_);
    if (broken_) throw BrokenThreadPool("concur::ThreadPoolExecutor::submit: " + broken_reason_);
    if (shutdown_) {
      throw ShutdownError(
          "concur::ThreadPoolExecutor::submit: cannot schedule new tasks after shutdown(); "
          "submit before shutting down, or use a new executor");
    }
    queue_.push_back(std::move(task));
    queued_.store(queue_.size(), std::memory_order_relaxed);
    if (!deep_waiters_.empty()) wake_deep_waiters_locked();
    try {
      wake_or_start_locked();
    } catch (...) {
      const detail::Task given_back = queue_.pop_back();  // no thread can run it: nothing queued
      queued_.store(queue_.size(), std::memory_order_relaxed);
      throw;
    }
  }

 private:
  static std::size_t default_max_workers() {
    const std::size_t cpus = std::thread::hardware_concurrency();
    return std::min<std::size_t>(32, cpus + 4);
  }

  static std::string default_prefix() {
    static std::atomic<std::size_t> pools{0};
    return "concur-" + std::to_string(pools.fetch_add(1, std::memory_order_relaxed));
  }

  // REQUIRES: mutex_ held. Makes sure someone will run the queued calls: nothing to do while
  // enough workers are spinning (they are about to look at the queue); else an idle thread is
  // woken; else, unless enough workers are about to come back (their call's future is already
  // done: its waiter may submit again before the worker is idle), a new thread starts if the
  // pool has room. Throws std::system_error only when no thread at all could be started.
  void wake_or_start_locked() {
    if (queue_.size() <= spinning_) return;
    if (!idle_.empty()) {
      detail::Parker* parker = idle_.back();
      idle_.pop_back();
      parker->unpark();  // under mutex_: see Parker's lifetime rule
      return;
    }
    if (threads_.size() >= max_workers_ || shutdown_) return;
    std::size_t returning = 0;
    for (const WorkerSlot& slot : workers_) {
      if (slot.returning || (slot.call != nullptr && slot.call->done())) ++returning;
    }
    if (queue_.size() <= returning + spinning_) return;
    const std::size_t n = threads_.size();
    idle_.reserve(n + 1);  // every thread may park: registering as idle never allocates
    deep_waiters_.reserve(n + 1);
    try {
      workers_.emplace_back();
      threads_.emplace_back([this, n] { worker_main(n); });
    } catch (const std::system_error&) {
      workers_.pop_back();
      if (threads_.empty()) throw;  // else the running threads will get to it
    }
  }

  // REQUIRES: mutex_ held.
  void wake_all_idle_locked() {
    for (detail::Parker* parker : idle_) parker->unpark();
    idle_.clear();
  }

  // REQUIRES: mutex_ held.
  void wake_deep_waiters_locked() noexcept {
    for (detail::Parker* parker : deep_waiters_) parker->unpark();
    deep_waiters_.clear();
  }

  // REQUIRES: mutex_ held. False if parker was not idle (someone chose it and removed it).
  bool remove_idle_locked(detail::Parker* parker) {
    const auto it = std::find(idle_.begin(), idle_.end(), parker);
    if (it == idle_.end()) return false;
    idle_.erase(it);
    return true;
  }

  void worker_main(std::size_t n) {
    detail::set_thread_name(detail::make_thread_name(prefix_, n));
    detail::current_helper() = this;
    if (initializer_) {
      try {
        initializer_();
      } catch (...) {
        detail::current_helper() = nullptr;
        break_pool(std::current_exception());
        return;
      }
    }
    detail::Parker& parker = detail::this_thread_parker();
    detail::Task finished;  // the call this worker ran last: dropped outside the lock
    std::unique_lock<detail::SpinLock> lock(mutex_);
    while (true) {
      if (!queue_.empty()) {
        detail::Task task = pop_locked();
        workers_[n] = WorkerSlot{task.state().get(), false};
        lock.unlock();
        finished = detail::Task();
        run_task(task);
        finished = std::move(task);
        lock.lock();
        workers_[n] = WorkerSlot{nullptr, true};  // before `finished` (maybe its state) goes
        continue;
      }
      workers_[n].returning = false;
      if (shutdown_ || broken_) break;
      // Nothing queued: watch the queue for a few microseconds before sleeping, so that a
      // steady stream of calls costs no wake-ups.
      ++spinning_;
      lock.unlock();
      finished = detail::Task();
      detail::spin_until([this] { return queued_.load(std::memory_order_relaxed) != 0; },
                         std::nullopt);
      lock.lock();
      --spinning_;
      if (!queue_.empty() || shutdown_ || broken_) continue;
      idle_.push_back(&parker);
      lock.unlock();
      parker.park_until(std::nullopt);
      lock.lock();
      remove_idle_locked(&parker);
    }
    lock.unlock();
    detail::current_helper() = nullptr;
  }

  // Runs a call. One that takes a std::stop_token is stopped, too, by shutdown(_, true).
  void run_task(detail::Task& task) noexcept {
    if (!task.stoppable()) {
      task.run();
      return;
    }
    const std::stop_callback relay(stop_running_.get_token(),
                                   [&task]() noexcept { static_cast<void>(task.request_stop()); });
    task.run();
  }

  // REQUIRES: mutex_ held, queue_ not empty.
  detail::Task pop_locked() noexcept {
    detail::Task task = queue_.pop_front();
    queued_.store(queue_.size(), std::memory_order_relaxed);
    return task;
  }

  // REQUIRES: mutex_ held. Takes every queued call out, in order.
  std::vector<detail::Task> drain_locked() {
    std::vector<detail::Task> all;
    all.reserve(queue_.size());
    while (!queue_.empty()) all.push_back(pop_locked());
    return all;
  }

  // REQUIRES: mutex_ held. A helping worker that leaves with calls still queued passes on the
  // wake-up that may have counted on it.
  void pass_on_wakeup_locked() {
    if (queue_.empty()) return;
    try {
      wake_or_start_locked();
    } catch (const std::system_error&) {  // only when no thread exists: impossible here
    }
  }

  // Help-while-waiting: runs queued calls on this worker until ready() or the deadline. While
  // nothing is queued, the worker parks as an idle thread, so a new submit or the awaited
  // future wakes it. A call run this way may wait and help in turn; past max_help_depth nested
  // helps the worker runs only the calls it waits for (help_wanted_until), so that a long queue
  // of calls that all wait cannot pile up on one thread's stack.
  bool help_until(detail::Parker& parker, detail::ReadyRef ready, detail::WantedRef wanted,
                  const detail::Deadline& deadline) override {
    const HelpDepth depth;
    if (depth.level > max_help_depth) return help_wanted_until(parker, ready, wanted, deadline);
    while (true) {
      if (ready()) return true;
      std::unique_lock<detail::SpinLock> lock(mutex_);
      if (!queue_.empty()) {
        detail::Task task = pop_locked();
        lock.unlock();
        run_task(task);
        continue;  // task dies here, outside the lock
      }
      if (deadline && detail::Clock::now() >= *deadline) {
        lock.unlock();
        return ready();
      }
      ++spinning_;
      lock.unlock();
      detail::spin_until([&] { return queued_.load(std::memory_order_relaxed) != 0 || ready(); },
                         deadline);
      lock.lock();
      --spinning_;
      if (ready()) {
        pass_on_wakeup_locked();  // submits made while we spun counted on us
        return true;
      }
      if (!queue_.empty()) {  // ours to run: a submit counted on this spinner
        detail::Task task = pop_locked();
        lock.unlock();
        run_task(task);
        continue;
      }
      if (deadline && detail::Clock::now() >= *deadline) continue;  // handled at the top
      idle_.push_back(&parker);
      lock.unlock();
      parker.park_until(deadline);
      lock.lock();
      const bool chosen = !remove_idle_locked(&parker);
      lock.unlock();
      if (chosen && ready()) {
        lock.lock();
        pass_on_wakeup_locked();  // a submit woke us for a call we will not run
        return true;
      }
    }
  }

  // Helping nests this deep at most before a worker runs only what it waits for: with the
  // frames of a call and of a wait in between, a few dozen KiB of stack.
  static constexpr std::size_t max_help_depth = 8;

  // How many help_until calls are active on this thread, this one included.
  struct HelpDepth {
    HelpDepth() noexcept : level(++current()) {}
    ~HelpDepth() { --current(); }
    HelpDepth(const HelpDepth&) = delete;
    HelpDepth& operator=(const HelpDepth&) = delete;
    static std::size_t& current() noexcept {
      static thread_local std::size_t depth = 0;
      return depth;
    }
    const std::size_t level;
  };

  // Helping past max_help_depth: runs only queued calls whose future is wanted, newest first
  // (the waiter's own subtasks were likely queued last). Otherwise the worker sleeps, but not
  // as an idle thread: no submit counts on it. Every submit wakes it to look again, since the
  // call it waits for may be queued later (a continuation, a coroutine resuming via the pool).
  // A future can also be completed by a call it does not know (a flattened continuation, a
  // when_all): so when every thread of the pool is waiting this way, with calls queued that
  // none of them wants, the last one to look runs the oldest call as plain helping would.
  bool help_wanted_until(detail::Parker& parker, detail::ReadyRef ready, detail::WantedRef wanted,
                         const detail::Deadline& deadline) {
    std::unique_lock<detail::SpinLock> lock(mutex_);
    ++deep_;
    struct Leave {
      std::unique_lock<detail::SpinLock>& lock;
      std::size_t& deep;
      ~Leave() {
        if (!lock.owns_lock()) lock.lock();
        --deep;
      }
    } leave{lock, deep_};
    while (true) {
      lock.unlock();
      if (ready()) return true;
      lock.lock();
      std::size_t i = queue_.size();
      while (i > 0 && !wanted(queue_[i - 1].state().get())) --i;
      if (i == 0 && !queue_.empty() && deep_ == threads_.size()) i = 1;  // all stuck: the oldest
      if (i > 0) {
        detail::Task task = queue_.take(i - 1);
        queued_.store(queue_.size(), std::memory_order_relaxed);
        --deep_;  // running a call, not waiting
        lock.unlock();
        run_task(task);
        task = detail::Task();  // dropped outside the lock
        lock.lock();
        ++deep_;
        continue;
      }
      if (deadline && detail::Clock::now() >= *deadline) {
        lock.unlock();
        return ready();
      }
      deep_waiters_.push_back(&parker);
      lock.unlock();
      parker.park_until(deadline);
      lock.lock();
      const auto it = std::find(deep_waiters_.begin(), deep_waiters_.end(), &parker);
      if (it != deep_waiters_.end()) deep_waiters_.erase(it);
    }
  }

  void break_pool(std::exception_ptr cause) {
    std::vector<detail::Task> pending;
    std::string reason;
    {
      std::lock_guard<detail::SpinLock> lock(mutex_);
      if (!broken_) {
        broken_ = true;
        broken_reason_ = "a thread initializer threw (" + detail::describe(cause) +
                         "); the pool is broken and runs nothing more: create a new pool";
      }
      reason = broken_reason_;
      pending = take_all_locked();
      wake_all_idle_locked();
    }
    settle(pending, [&reason](detail::Task& task) {
      task.fail(std::make_exception_ptr(BrokenThreadPool("concur::ThreadPoolExecutor: " + reason)));
    });
  }

  // REQUIRES: mutex_ held. Takes every queued call out to be ended by settle(): until it has,
  // shutdown(wait=true) in any thread keeps waiting, as it would for a queued call.
  std::vector<detail::Task> take_all_locked() {
    std::vector<detail::Task> all = drain_locked();
    std::lock_guard<std::mutex> lock(settle_mutex_);
    ++settling_;
    return all;
  }

  // Ends each call taken by take_all_locked(), outside mutex_ (that runs done-callbacks).
  template <class End>
  void settle(std::vector<detail::Task>& tasks, End end) noexcept {
    SettlingHere here{this, settling_here()};
    settling_here() = &here;
    for (detail::Task& task : tasks) end(task);
    tasks.clear();
    settling_here() = here.outer;
    std::lock_guard<std::mutex> lock(settle_mutex_);
    --settling_;
    settled_.notify_all();  // under the lock: a waiter that returns may destroy the pool
  }

  // The settle() calls running on this thread, innermost first: a done-callback run by one
  // may call shutdown(true), which must not wait for the settle() it runs inside.
  struct SettlingHere {
    const ThreadPoolExecutor* pool;
    SettlingHere* outer;
  };
  static SettlingHere*& settling_here() noexcept {
    static thread_local SettlingHere* innermost = nullptr;
    return innermost;
  }

  void join_workers() {
    std::lock_guard<std::mutex> join_lock(join_mutex_);
    // After shutdown_ no thread is added, so threads_ is stable without mutex_.
    std::vector<std::thread*> threads;
    {
      std::lock_guard<detail::SpinLock> lock(mutex_);
      for (std::thread& t : threads_) threads.push_back(&t);
    }
    for (std::thread* t : threads) {
      if (t->joinable() && t->get_id() != std::this_thread::get_id()) t->join();
    }
    std::size_t own = 0;
    for (const SettlingHere* s = settling_here(); s != nullptr; s = s->outer) {
      if (s->pool == this) ++own;
    }
    std::unique_lock<std::mutex> lock(settle_mutex_);
    settled_.wait(lock, [&] { return settling_ <= own; });
  }

  const std::size_t max_workers_;
  const std::string prefix_;
  const std::function<void()> initializer_;

  // Guards the queue and the pool's bookkeeping; held for a few instructions at a time.
  mutable detail::SpinLock mutex_;
  detail::RingQueue<detail::Task> queue_;  // guarded by mutex_
  // Workers helping past max_help_depth, asleep until a submit or their futures wake them.
  std::vector<detail::Parker*> deep_waiters_;  // guarded by mutex_
  std::size_t deep_ = 0;  // guarded by mutex_: workers in help_wanted_until, not running a call
  std::atomic<std::size_t> queued_{0};  // queue_.size(), written under mutex_: for spinners
  std::size_t spinning_ = 0;  // guarded by mutex_: workers watching queued_ before they sleep
  std::vector<detail::Parker*> idle_;  // guarded by mutex_: threads parked waiting for work
  std::deque<std::thread> threads_;    // guarded by mutex_; stable addresses
  // What worker n is doing, so that submit() does not start a thread for a call that a worker
  // about to return would take.
  struct WorkerSlot {
    const detail::StateBase* call = nullptr;  // the call it runs, or null
    bool returning = false;                   // it ran a call and is coming back for more
  };
  std::deque<WorkerSlot> workers_;  // guarded by mutex_
  bool shutdown_ = false;           // guarded by mutex_
  bool broken_ = false;             // guarded by mutex_
  std::string broken_reason_;       // guarded by mutex_
  std::mutex join_mutex_;           // serialises joining
  std::mutex settle_mutex_;
  std::condition_variable settled_;
  std::size_t settling_ = 0;  // guarded by settle_mutex_: settle() calls not yet done
  // shutdown(_, true) requests stop on it; each running call that takes a token relays it.
  std::stop_source stop_running_;
};

}  // namespace concur
