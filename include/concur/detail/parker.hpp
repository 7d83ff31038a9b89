// concur/detail/parker.hpp - how a thread blocks: Parker, Waiter, WorkHelper, block_until.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/detail/trampoline.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace concur::detail {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;  // nullopt: wait without a limit

class StateBase;

// Something a completing future tells. notify() runs with that future's mutex held: it must be
// quick, must not throw and must not call back into the future.
class Waiter {
 public:
  virtual void notify(StateBase& state) noexcept = 0;

 protected:
  Waiter() = default;
  Waiter(const Waiter&) = default;
  Waiter& operator=(const Waiter&) = default;
  ~Waiter() = default;
};

// One per thread: the thread sleeps in park() until someone calls unpark(). A token makes an
// unpark that comes before the park count, so no wake-up is lost. Callers always re-check their
// condition after park() returns (wake-ups may be spurious). unpark() of a thread that is not
// asleep is one atomic exchange: no lock, no system call.
//
// Lifetime rule: whoever calls unpark() does so while holding the lock under which the parked
// thread registered (a future's mutex, a pool's mutex), and the thread unregisters under that
// same lock before it moves on; so a parker is never touched after its thread has ended.
class Parker final : public Waiter {
 public:
  void unpark() noexcept {
    if (state_.exchange(notified, std::memory_order_acq_rel) == asleep) {
      std::lock_guard<std::mutex> lock(mutex_);
      cv_.notify_one();  // under the lock: the sleeper is either waiting or will see the token
    }
  }

  // Returns true when woken, false when the deadline passed first.
  bool park_until(const Deadline& deadline) {
    int expected = notified;
    if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire)) return true;
    std::unique_lock<std::mutex> lock(mutex_);
    expected = empty;
    if (!state_.compare_exchange_strong(expected, asleep, std::memory_order_acq_rel)) {
      state_.store(empty, std::memory_order_relaxed);  // a token came meanwhile: take it
      return true;
    }
    const bool forever = !deadline || *deadline == Clock::time_point::max();
    while (true) {
      bool timed_out = false;
      if (forever) {
        cv_.wait(lock);
      } else {
        timed_out = cv_.wait_until(lock, *deadline) == std::cv_status::timeout;
      }
      if (state_.load(std::memory_order_acquire) == notified) {
        state_.store(empty, std::memory_order_relaxed);
        return true;
      }
      if (timed_out) {
        expected = asleep;
        if (state_.compare_exchange_strong(expected, empty, std::memory_order_acq_rel)) {
          return false;
        }
        state_.store(empty, std::memory_order_relaxed);  // woken just as time ran out
        return true;
      }
    }
  }

  void notify(StateBase& /*state*/) noexcept override { unpark(); }

 private:
  static constexpr int empty = 0;     // no token, not asleep
  static constexpr int notified = 1;  // a token waits to be taken
  static constexpr int asleep = 2;    // the owner sleeps on cv_ (set under mutex_)

  std::atomic<int> state_{empty};
  std::mutex mutex_;
  std::condition_variable cv_;
};

// A hint to the CPU that this thread is spinning (x86 pause, Arm yield).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield");
#endif
}

// How long a thread watches a condition before it sleeps: spin_pauses busy checks, then
// spin_yields checks each after giving up the CPU. A few microseconds in all: less than the
// cost of sleeping and being woken, so a quick result or a quick next task costs no system
// call; short enough not to matter to the CPU bill of an idle program. The yields matter on a
// loaded or virtual machine, where the thread we wait for may need this very core.
inline constexpr int spin_pauses = 64;
inline constexpr int spin_yields = 64;

// A lock for short critical sections under contention (a pool's queue): spins, then yields,
// never sleeps in the kernel. A std::mutex that finds its lock taken sleeps and must be woken,
// which costs more than the few dozen instructions the holder needs. Meets Lockable.
class SpinLock {
 public:
  void lock() noexcept {
    while (true) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      for (int i = 0; locked_.load(std::memory_order_relaxed); ++i) {
        if (i < spin_pauses) {
          cpu_relax();
        } else {
          std::this_thread::yield();  // the holder may be waiting for this very core
        }
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Watches ready() for a few microseconds (see spin_pauses); true as soon as it holds. Never
// sleeps. Gives up at once when the deadline has passed.
template <class Ready>
bool spin_until(Ready&& ready, const Deadline& deadline) {
  if (deadline && Clock::now() >= *deadline) return ready();
  for (int i = 0; i < spin_pauses; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  for (int i = 0; i < spin_yields; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return ready();
}

inline Parker& this_thread_parker() {
  static thread_local Parker parker;
  return parker;
}

// A non-owning reference to a bool() callable.
class ReadyRef {
 public:
  template <class F>
  explicit ReadyRef(F& fn) noexcept
      : object_(&fn),
        call_([](void* object) { return static_cast<bool>((*static_cast<F*>(object))()); }) {}
  bool operator()() const { return call_(object_); }

 private:
  void* object_;
  bool (*call_)(void*);
};

class StateBase;

// A non-owning reference to a bool(const StateBase*) callable: "is this queued call's future
// one of those the waiter waits for?".
class WantedRef {
 public:
  template <class F>
  explicit WantedRef(F& fn) noexcept
      : object_(&fn), call_([](void* object, const StateBase* state) {
          return static_cast<bool>((*static_cast<F*>(object))(state));
        }) {}
  bool operator()(const StateBase* state) const { return call_(object_, state); }

 private:
  void* object_;
  bool (*call_)(void*, const StateBase*);
};

// A pool whose worker is the current thread: while that worker waits for a future, the pool
// lends it queued work (help-while-waiting, like Taskflow's corun), so a task that submits to
// its own pool and waits cannot deadlock it. A call run that way may wait and help in turn, so
// the pool bounds how deep helping nests: past the bound, a waiting worker runs only the calls
// it waits for (wanted), which nest no deeper than the program's own chain of waits.
class WorkHelper {
 public:
  // Runs the pool's queued tasks on this thread until ready() holds or the deadline passes.
  // The caller has registered `parker` with whatever can make ready() true; wanted(state) says
  // whether a queued call's future is one of those. Returns ready().
  virtual bool help_until(Parker& parker, ReadyRef ready, WantedRef wanted,
                          const Deadline& deadline) = 0;

 protected:
  WorkHelper() = default;
  WorkHelper(const WorkHelper&) = default;
  WorkHelper& operator=(const WorkHelper&) = default;
  ~WorkHelper() = default;
};

// The pool the current thread works for, or nullptr outside every pool.
inline WorkHelper*& current_helper() noexcept {
  static thread_local WorkHelper* helper = nullptr;
  return helper;
}

// Blocks the calling thread until ready() or the deadline; returns ready(). On a pool worker
// the pool's queued tasks run meanwhile; wanted(state) tells the futures waited for (see
// WorkHelper). REQUIRES: this_thread_parker() is registered with everything that can make
// ready() true.
template <class Ready, class Wanted>
bool block_until(Ready&& ready, Wanted&& wanted, const Deadline& deadline) {
  trampoline_drain();  // a hand-off queued on this thread may be what makes it ready
  Parker& parker = this_thread_parker();
  if (WorkHelper* helper = current_helper()) {
    return helper->help_until(parker, ReadyRef(ready), WantedRef(wanted), deadline);
  }
  while (!ready()) {
    if (!parker.park_until(deadline)) return ready();
  }
  return true;
}

// now + timeout, saturated so that a huge timeout means "practically forever".
template <class Rep, class Period>
Clock::time_point deadline_after(const std::chrono::duration<Rep, Period>& timeout) {
  const Clock::time_point now = Clock::now();
  if (timeout <= timeout.zero()) return now;
  const auto room = Clock::time_point::max() - now;
  using LongNanos = std::chrono::duration<long double, std::nano>;
  if (std::chrono::duration_cast<LongNanos>(timeout) >=
      std::chrono::duration_cast<LongNanos>(room)) {
    return Clock::time_point::max();
  }
  return now + std::chrono::ceil<Clock::duration>(timeout);
}

// A deadline of any clock, as a steady_clock deadline.
template <class C, class D>
Clock::time_point to_deadline(const std::chrono::time_point<C, D>& deadline) {
  if constexpr (std::is_same_v<C, Clock>) {
    return std::chrono::time_point_cast<Clock::duration>(deadline);
  } else {
    return deadline_after(deadline - C::now());
  }
}

}  // namespace concur::detail
