// concur/detail/future_state.hpp - the state machine behind Future and Promise.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/errors.hpp>

#include <concur/detail/parker.hpp>
#include <concur/detail/trampoline.hpp>
#include <concur/detail/unique_function.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define CONCUR_HAS_CXXABI 1
#else
#define CONCUR_HAS_CXXABI 0
#endif

namespace concur {

/// Where a call is in its life. A future changes state only pending -> running -> finished or
/// pending -> cancelled. Python: the PENDING, RUNNING, CANCELLED and FINISHED states of a Future.
enum class FutureState : unsigned char { pending, running, cancelled, finished };

/// The name of a state, as Python spells it in lower case ("pending", "running", ...).
inline const char* to_string(FutureState state) noexcept {
  switch (state) {
    case FutureState::pending:
      return "pending";
    case FutureState::running:
      return "running";
    case FutureState::cancelled:
      return "cancelled";
    case FutureState::finished:
      return "finished";
  }
  return "unknown";
}

/// Receives failures nobody else will see (see set_unobserved_failure_handler and
/// set_callback_error_handler in future.hpp).
using FailureHandler = std::function<void(std::exception_ptr)>;

}  // namespace concur

namespace concur::detail {

inline std::string demangle(const char* name) {
#if CONCUR_HAS_CXXABI
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  if (status == 0 && out) return out.get();
#endif
  return name;
}

// "std::runtime_error: disk full", or the type alone for exceptions not derived from
// std::exception.
inline std::string describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
#if CONCUR_HAS_CXXABI
    if (const std::type_info* type = abi::__cxa_current_exception_type()) {
      return demangle(type->name()) + " (not derived from std::exception)";
    }
#endif
    return "unknown exception";
  }
}

struct Handlers {
  std::mutex mutex;
  FailureHandler unobserved;      // guarded by mutex; empty: print to stderr
  FailureHandler callback_error;  // guarded by mutex; empty: print to stderr
};

inline Handlers& handlers() {
  static Handlers instance;
  return instance;
}

// Calls the handler in `slot` (outside the lock), or prints `prefix` and the error. Never throws:
// it runs in destructors and after callbacks.
inline void report(FailureHandler Handlers::*slot, const char* prefix,
                   const std::exception_ptr& error) noexcept {
  try {
    FailureHandler handler;
    {
      std::lock_guard<std::mutex> lock(handlers().mutex);
      handler = handlers().*slot;
    }
    if (handler) {
      handler(error);
      return;
    }
    const std::string line = std::string(prefix) + describe(error) + "\n";
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    std::fputs("concur: a failure handler threw; the failure it reported is lost\n", stderr);
  }
}

inline FailureHandler exchange_handler(FailureHandler Handlers::*slot, FailureHandler handler) {
  std::lock_guard<std::mutex> lock(handlers().mutex);
  std::swap(handlers().*slot, handler);
  return handler;
}

// A list whose first element lives inline: most futures have at most one waiter and one
// callback, and then registering one allocates nothing. Keeps insertion order.
template <class T>
class SmallList {
 public:
  SmallList() = default;
  SmallList(SmallList&& other) noexcept
      : first_(std::move(other.first_)),
        has_first_(other.has_first_),
        rest_(std::move(other.rest_)) {
    other.has_first_ = false;
    other.first_ = T();
    other.rest_.clear();
  }
  SmallList& operator=(SmallList&& other) noexcept {
    if (this != &other) {
      first_ = std::move(other.first_);
      has_first_ = other.has_first_;
      rest_ = std::move(other.rest_);
      other.clear();
    }
    return *this;
  }
  SmallList(const SmallList&) = delete;
  SmallList& operator=(const SmallList&) = delete;
  ~SmallList() = default;

  void push_back(T value) {
    if (!has_first_ && rest_.empty()) {
      first_ = std::move(value);
      has_first_ = true;
    } else {
      rest_.push_back(std::move(value));
    }
  }

  // Removes the first element equal to value, if any (for pointers).
  void remove(const T& value) noexcept {
    if (has_first_ && first_ == value) {
      has_first_ = false;
      first_ = T();
      return;
    }
    const auto it = std::find(rest_.begin(), rest_.end(), value);
    if (it != rest_.end()) rest_.erase(it);
  }

  template <class Fn>
  void for_each(Fn&& fn) {
    if (has_first_) fn(first_);
    for (T& value : rest_) fn(value);
  }

  void clear() noexcept {
    has_first_ = false;
    first_ = T();
    rest_.clear();
  }

 private:
  T first_{};
  bool has_first_ = false;
  std::vector<T> rest_;  // after first_ in order; first_ may be empty while rest_ is not
};

// The part of a future's shared state that does not depend on T.
//
// Memory ordering: the value or exception is written under mutex_ before state_ is stored with
// release; readers that see a done state_ (acquire) also see the outcome.
class StateBase {
 public:
  using Callback = UniqueFunction<void(const std::shared_ptr<StateBase>&)>;

  StateBase() = default;
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  // A failure nobody looked at is reported once, when the last reference goes: no cost on the
  // success path (Python loses these silently; cpython#120508).
  virtual ~StateBase() {
    if (error_ && state_.load(std::memory_order_relaxed) == FutureState::finished &&
        !observed_.load(std::memory_order_relaxed)) {
      report(&Handlers::unobserved,
             "concur: a future failed and nobody asked for its result: ", error_);
    }
  }

  FutureState state() const noexcept { return state_.load(std::memory_order_acquire); }
  bool done() const noexcept {
    const FutureState s = state();
    return s == FutureState::cancelled || s == FutureState::finished;
  }

  // pending -> cancelled (true); cancelled stays (true); running or finished: false.
  bool cancel(const std::shared_ptr<StateBase>& self) {
    Callbacks callbacks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const FutureState s = state_.load(std::memory_order_relaxed);
      if (s == FutureState::cancelled) return true;
      if (s != FutureState::pending) return false;
      callbacks = settle_locked(FutureState::cancelled);
    }
    on_cancelled();
    run_callbacks(self, callbacks);
    return true;
  }

  // Future::request_stop: asks the call to stop. Only the state of a call that takes a
  // std::stop_token has a stop state (task.hpp overrides this); true if this made the request.
  virtual bool request_stop() noexcept { return false; }

  // pending -> running (true); cancelled: false; anything else is a misuse.
  bool set_running_or_notify_cancel(const char* caller) {
    std::lock_guard<std::mutex> lock(mutex_);
    const FutureState s = state_.load(std::memory_order_relaxed);
    if (s == FutureState::pending) {
      state_.store(FutureState::running, std::memory_order_release);
      return true;
    }
    if (s == FutureState::cancelled) return false;
    throw InvalidStateError(std::string(caller) + ": the future is already " + to_string(s) +
                            "; call it once, before setting the result");
  }

  // Finishes with an exception; false if already done (the first outcome stays).
  bool set_exception(const std::shared_ptr<StateBase>& self, std::exception_ptr error) {
    return complete(self, [&] { error_ = std::move(error); });
  }

  // Runs fn(self) once this state is done: now, in this thread, if it already is.
  void add_callback(const std::shared_ptr<StateBase>& self, Callback fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!done()) {
        callbacks_.push_back(std::move(fn));
        return;
      }
    }
    invoke_callback(self, fn);
  }

  // Registers w to be notified when this state is done; false (and nothing registered) if it
  // already is. Allocates only for a second waiter of one state.
  bool add_waiter(Waiter* w) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done()) return false;
    waiters_.push_back(w);
    return true;
  }

  void remove_waiter(Waiter* w) const noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    waiters_.remove(w);
  }

  // Blocks until done or the deadline; true when done. Outside a pool's workers it first
  // watches the state for a few microseconds (a quick call's result then costs no sleep and
  // no wake-up), then sleeps.
  bool wait_until(const Deadline& deadline) const {
    if (done()) return true;
    trampoline_drain();  // a hand-off queued on this thread may be what completes this state
    if (done()) return true;
    if (current_helper() == nullptr && spin_until([this] { return done(); }, deadline)) {
      return true;
    }
    Parker& parker = this_thread_parker();
    if (!add_waiter(&parker)) return true;
    struct Unregister {
      const StateBase* state;
      Parker* parker;
      ~Unregister() { state->remove_waiter(parker); }
    } unregister{this, &parker};
    return block_until([this] { return done(); },
                       [this](const StateBase* queued) { return queued == this; }, deadline);
  }

  // Waits, then throws CancelledError or TimeoutError as the public calls document.
  void wait_or_throw(const Deadline& deadline, const char* caller) const {
    if (!wait_until(deadline)) {
      throw TimeoutError(std::string(caller) +
                         ": timed out; the call is still pending or running (wait again, or "
                         "cancel() it)");
    }
    if (state() == FutureState::cancelled) {
      throw CancelledError(std::string(caller) + ": the call was cancelled before it started");
    }
  }

  // The exception of a finished state, without counting as observed (for wait()).
  const std::exception_ptr& error_unobserved() const noexcept { return error_; }

  // REQUIRES: finished. The exception, counted as observed.
  const std::exception_ptr& observe_error() const noexcept {
    if (error_) observed_.store(true, std::memory_order_relaxed);
    return error_;
  }

 protected:
  // Runs store() (which writes the outcome) and marks the state finished, unless it is done
  // already: then returns false and store() is not called.
  template <class Store>
  bool complete(const std::shared_ptr<StateBase>& self, Store&& store) {
    Callbacks callbacks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (done()) return false;
      store();
      callbacks = settle_locked(FutureState::finished);
    }
    run_callbacks(self, callbacks);
    return true;
  }

  // Called once, in the cancelling thread, right after cancel() moved this state from pending to
  // cancelled (before its callbacks run): a state holding a call that will never run (a
  // continuation) releases it here.
  virtual void on_cancelled() noexcept {}

  mutable std::mutex mutex_;

 private:
  using Callbacks = SmallList<Callback>;

  // REQUIRES: mutex_ held. Publishes the final state and wakes waiters; returns the callbacks,
  // to run *after* unlocking so that a callback touching this future cannot deadlock.
  Callbacks settle_locked(FutureState final_state) {
    state_.store(final_state, std::memory_order_release);
    waiters_.for_each([this](Waiter* w) { w->notify(*this); });
    waiters_.clear();
    return std::move(callbacks_);
  }

  static void invoke_callback(const std::shared_ptr<StateBase>& self, Callback& fn) noexcept {
    try {
      fn(self);
    } catch (...) {
      report(&Handlers::callback_error,
             "concur: a done-callback threw: ", std::current_exception());
    }
  }

  static void run_callbacks(const std::shared_ptr<StateBase>& self, Callbacks& callbacks) noexcept {
    callbacks.for_each([&](Callback& fn) { invoke_callback(self, fn); });
  }

  std::atomic<FutureState> state_{FutureState::pending};  // written under mutex_
  mutable std::atomic<bool> observed_{false};
  std::exception_ptr error_;            // written once under mutex_, before state_
  mutable SmallList<Waiter*> waiters_;  // guarded by mutex_
  Callbacks callbacks_;                 // guarded by mutex_
};

// The typed part: where the value lives.
// An executor's call lives in a class derived from State<T> (see task.hpp): one allocation holds
// the future's state and the call.
template <class T>
class State : public StateBase {
 public:
  template <class... Args>
  bool set_value(const std::shared_ptr<StateBase>& self, Args&&... args) {
    return complete(self, [&] { value_.emplace(std::forward<Args>(args)...); });
  }

  // REQUIRES: finished. Rethrows, or returns the value.
  T& value(const char* caller) {
    if (const std::exception_ptr& e = observe_error()) std::rethrow_exception(e);
    if (taken_.load(std::memory_order_acquire)) throw_taken(caller);
    return *value_;
  }

  T take(const char* caller) {
    if (const std::exception_ptr& e = observe_error()) std::rethrow_exception(e);
    if (taken_.exchange(true, std::memory_order_acq_rel)) throw_taken(caller);
    T out = std::move(*value_);
    value_.reset();
    return out;
  }

 private:
  [[noreturn]] static void throw_taken(const char* caller) {
    throw InvalidStateError(std::string(caller) +
                            ": the value was already moved out by take(); keep a copy, or call "
                            "result() instead of take()");
  }

  std::optional<T> value_;  // written once under mutex_, before the state is finished
  std::atomic<bool> taken_{false};
};

template <>
class State<void> : public StateBase {
 public:
  bool set_value(const std::shared_ptr<StateBase>& self) {
    return complete(self, [] {});
  }

  void value(const char* caller) {
    if (const std::exception_ptr& e = observe_error()) std::rethrow_exception(e);
    if (taken_.load(std::memory_order_acquire)) throw_taken(caller);
  }

  void take(const char* caller) {
    if (const std::exception_ptr& e = observe_error()) std::rethrow_exception(e);
    if (taken_.exchange(true, std::memory_order_acq_rel)) throw_taken(caller);
  }

 private:
  [[noreturn]] static void throw_taken(const char* caller) {
    throw InvalidStateError(std::string(caller) + ": the result was already taken by take()");
  }

  std::atomic<bool> taken_{false};
};

}  // namespace concur::detail
