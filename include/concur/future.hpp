// concur/future.hpp - Future<T>, Promise<T> and FutureState.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// A Future<T> is a handle to the result of a call that may not have finished yet, like
// concurrent.futures.Future. Copies share one state; T is void, a value type or a move-only type.
//
// A future is pending, running, cancelled or finished, and changes state at most twice:
// pending -> running -> finished, or pending -> cancelled. A Promise<T> is the producing end:
// executors use one per call, and so can you (Python: Future() plus set_result()).
//
// Unlike Python's Future, a failure nobody looks at is not lost: when the last reference to a
// failed future goes without result(), take() or exception() having been called, the failure is
// passed to the unobserved-failure handler (default: one line on stderr).
//
// Memory ordering: everything the call did before it finished is visible to a thread once
// result() or wait() returns, or once a done-callback starts.
//
// Example:
//   concur::ThreadPoolExecutor pool(2);
//   concur::Future<int> f = pool.submit([] { return 6 * 7; });
//   f.add_done_callback([](const concur::Future<int>& g) { std::cout << g.result() << "\n"; });
//   int v = f.result();  // 42; rethrows if the call threw

#include <concur/errors.hpp>

#include <concur/detail/await.hpp>
#include <concur/detail/continuation.hpp>
#include <concur/detail/future_state.hpp>
#include <concur/detail/parker.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace concur {

template <class T>
class Future;
template <class T>
class Promise;
class AnyFuture;

namespace detail {
template <class T>
struct ResultRef {
  using type = const T&;
};
template <>
struct ResultRef<void> {
  using type = void;
};

// Lets the library build handles from states without making that public.
struct FutureAccess {
  template <class T>
  static Future<T> make(std::shared_ptr<StateBase> state) {
    return Future<T>(std::move(state));
  }
  template <class F>
  static const std::shared_ptr<StateBase>& state(const F& future) {
    return future.state_;
  }
};

[[noreturn]] inline void throw_invalid_handle(const char* caller) {
  throw InvalidStateError(std::string(caller) +
                          ": this handle has no state (default-constructed or moved-from); get "
                          "futures from submit() or Promise::get_future()");
}
}  // namespace detail

/// Sets the function that receives failures nobody observed, and returns the previous one. An
/// empty function restores the default (one line on stderr naming the exception type and
/// what()). Thread-safe. The handler may run in any thread, from a destructor: it should not
/// throw (if it does, a line on stderr says so).
inline FailureHandler set_unobserved_failure_handler(FailureHandler handler) {
  return detail::exchange_handler(&detail::Handlers::unobserved, std::move(handler));
}

/// Sets the function that receives exceptions escaping done-callbacks, and returns the previous
/// one. An empty function restores the default (one line on stderr). Thread-safe.
inline FailureHandler set_callback_error_handler(FailureHandler handler) {
  return detail::exchange_handler(&detail::Handlers::callback_error, std::move(handler));
}

/// A handle to the outcome of a call. Cheap to copy; copies share one state. Every member is
/// thread-safe except take(), which moves the value out. Python: concurrent.futures.Future.
template <class T>
class Future {
  static_assert(!std::is_reference_v<T>,
                "concur::Future<T>: T must not be a reference; return a value, a pointer or a "
                "std::reference_wrapper");

 public:
  using value_type = T;

  /// An empty handle: valid() is false and every other call throws InvalidStateError.
  Future() noexcept = default;

  /// True if this handle refers to a state.
  bool valid() const noexcept { return state_ != nullptr; }

  /// The current state. Never blocks.
  FutureState state() const { return base("concur::Future::state").state(); }
  /// True if cancelled or finished. Never blocks. Python: done().
  bool done() const { return base("concur::Future::done").done(); }
  /// True while the call runs. Python: running().
  bool running() const { return state() == FutureState::running; }
  /// True if the call was cancelled before it started. Python: cancelled().
  bool cancelled() const { return state() == FutureState::cancelled; }

  /// Blocks until done and returns the value; may be called again and again. Rethrows the
  /// call's exception; throws CancelledError if it was cancelled, InvalidStateError after
  /// take(). On a worker of a ThreadPoolExecutor, runs that pool's queued tasks while waiting.
  /// Python: result().
  typename detail::ResultRef<T>::type result() const {
    return result_until("concur::Future::result", std::nullopt);
  }

  /// As result(), but throws TimeoutError if the call is not done within `timeout`.
  template <class Rep, class Period>
  typename detail::ResultRef<T>::type result(std::chrono::duration<Rep, Period> timeout) const {
    return result_until("concur::Future::result", detail::deadline_after(timeout));
  }

  /// Blocks until done and moves the value out; afterwards result() and take() throw
  /// InvalidStateError. Rethrows as result() does. Not thread-safe against other calls that
  /// read the value.
  T take() {
    typed("concur::Future::take").wait_or_throw(std::nullopt, "concur::Future::take");
    return typed("concur::Future::take").take("concur::Future::take");
  }

  /// Blocks until done; returns the call's exception, or null on success. Throws
  /// CancelledError if cancelled. Counts as observing the failure. Python: exception().
  std::exception_ptr exception() const {
    return exception_until("concur::Future::exception", std::nullopt);
  }

  /// As exception(), but throws TimeoutError if the call is not done within `timeout`.
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return exception_until("concur::Future::exception", detail::deadline_after(timeout));
  }

  /// Blocks until the call is done (finished or cancelled). Throws nothing about the outcome.
  void wait() const { base("concur::Future::wait").wait_until(std::nullopt); }

  /// Blocks until done or `timeout` passes; true if done.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return base("concur::Future::wait_for").wait_until(detail::deadline_after(timeout));
  }

  /// Blocks until done or `deadline` (of any clock; measured on steady_clock); true if done.
  template <class C, class D>
  bool wait_until(std::chrono::time_point<C, D> deadline) const {
    return base("concur::Future::wait_until").wait_until(detail::to_deadline(deadline));
  }

  /// Attempts to cancel the call. A pending call becomes cancelled and true is returned; a
  /// running or finished call is left alone and false is returned; an already cancelled call
  /// returns true. Never blocks. Python: cancel().
  bool cancel() const { return base("concur::Future::cancel").cancel(state_); }

  /// Asks the call to stop, cooperatively. A call submitted as fn(std::stop_token, args...)
  /// (see Executor::submit) receives the token tied to this future, and this makes its
  /// stop_requested() true (and runs its std::stop_callbacks, in this thread; in a process
  /// pool, in the worker's signal handler: see docs/guide.md). Returns true if this call made
  /// the request; false if the call takes no token (it has no stop state) or stop was already
  /// requested. On a pending future the call, when it starts, sees its token already stopped
  /// (use cancel() to keep it from starting at all); on a done future it changes nothing.
  /// A ThreadPoolExecutor call that ignores its token runs to its end. A ProcessPoolExecutor
  /// call that has not ended stop_grace_period after the request is killed with its worker:
  /// the future ends finished, with CancelledError as its exception. Never blocks.
  /// Python: none (concurrent.futures cannot stop a running call).
  bool request_stop() const { return base("concur::Future::request_stop").request_stop(); }

  /// Calls fn(*this) exactly once, when this future finishes or is cancelled, in the thread
  /// that completes it; immediately, in this thread, if it already has. Callbacks run in the
  /// order added. An exception escaping fn goes to the callback error handler and no further.
  /// Python: add_done_callback().
  template <class F>
  void add_done_callback(F&& fn) const {
    static_assert(std::is_invocable_v<std::decay_t<F>&, const Future<T>&>,
                  "concur::Future<T>::add_done_callback: fn must be callable as "
                  "fn(const concur::Future<T>&)");
    base("concur::Future::add_done_callback")
        .add_callback(state_, [fn = std::forward<F>(fn)](
                                  const std::shared_ptr<detail::StateBase>& state) mutable {
          const Future<T> self(state);
          std::invoke(fn, self);
        });
  }

  /// Returns the future of fn applied to this future's outcome; fn runs once, in the thread that
  /// completes this future (at once, in this thread, if it is already done). fn is either
  ///  - fn(const T&) (fn() for Future<void>): called only on success. If this future failed,
  ///    the returned one fails with the same exception and fn is never called; if this future
  ///    was cancelled, the returned one is cancelled (state cancelled). So errors and
  ///    cancellation flow down a chain of value continuations; or
  ///  - fn(const Future<T>&): always called, even on failure or cancellation.
  /// The returned future fails with whatever fn throws. If fn returns a Future<U>, then()
  /// returns Future<U> and finishes as that future does (flattened; if it is cancelled, the
  /// returned one fails with CancelledError). Passing an error down counts as looking at it: only
  /// the end of a chain reports an unobserved failure. Cancelling the returned future before fn
  /// starts cancels it alone (never this future): fn never runs and is destroyed at once.
  /// Chains of any length run (and unwind) in constant stack. A continuation must not block for
  /// long: it holds up the thread that completed this future.
  ///
  ///   auto n = pool.submit(read_file, path).then([](const std::string& s) { return s.size(); });
  template <class F>
  auto then(F&& fn) const {
    base("concur::Future::then");  // throws for an empty handle
    return detail::attach_then<detail::FutureAccess, T, void>(state_, nullptr, std::forward<F>(fn));
  }

  /// As then(fn), but fn is submitted to `executor` (a ThreadPoolExecutor, or any executor whose
  /// submit() runs callables in this process) when this future is done, and runs there. With
  /// fn(const T&), an error or a cancellation passes down at once, in the completing thread,
  /// without a trip through the executor. If the executor refuses the call (shut down, broken),
  /// the returned future fails with its ShutdownError or BrokenExecutor; if it drops the call
  /// unrun (shutdown(cancel_futures=true)), the returned future is cancelled. The executor must
  /// outlive this future's completion.
  template <detail::SubmitsCallables E, class F>
  auto then(E& executor, F&& fn) const {
    base("concur::Future::then");  // throws for an empty handle
    return detail::attach_then<detail::FutureAccess, T, E>(state_, &executor, std::forward<F>(fn));
  }

  /// True if both handles share one state (or both are empty).
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.state_ == b.state_; }

  /// Lets a coroutine `co_await` this future: yields a copy of the value (a move-only value is
  /// moved out, as by take()), rethrows the call's exception, or throws CancelledError. Does not
  /// suspend if the future is done; else the coroutine resumes in the thread that completes the
  /// future, after that thread's running hand-off, if any (so awaiting in a loop never deepens
  /// the stack). Throws InvalidStateError on an empty handle. See also via().
  detail::FutureAwaiter<T> operator co_await() const {
    base("concur::Future::operator co_await");
    return detail::FutureAwaiter<T>(state_);
  }

  /// `co_await future.via(executor)`: as `co_await future`, but the coroutine always resumes on
  /// `executor` (its resumption is submitted there once the future is done). If the executor
  /// refuses it (shut down, broken), the coroutine resumes in the completing thread and co_await
  /// throws that error (ShutdownError...); if the executor drops it unrun (shutdown with
  /// cancel_futures), co_await throws CancelledError. The executor must outlive the await.
  template <class E>
  detail::ViaAwaiter<T, E> via(E& executor) const {
    base("concur::Future::via");
    return detail::ViaAwaiter<T, E>(state_, executor);
  }

 private:
  friend struct detail::FutureAccess;
  friend class Promise<T>;

  explicit Future(std::shared_ptr<detail::StateBase> state) noexcept : state_(std::move(state)) {}

  detail::StateBase& base(const char* caller) const {
    if (!state_) detail::throw_invalid_handle(caller);
    return *state_;
  }
  detail::State<T>& typed(const char* caller) const {
    return static_cast<detail::State<T>&>(base(caller));
  }

  typename detail::ResultRef<T>::type result_until(const char* caller,
                                                   const detail::Deadline& deadline) const {
    detail::State<T>& s = typed(caller);
    s.wait_or_throw(deadline, caller);
    return s.value(caller);
  }

  std::exception_ptr exception_until(const char* caller, const detail::Deadline& deadline) const {
    detail::State<T>& s = typed(caller);
    s.wait_or_throw(deadline, caller);
    return s.observe_error();
  }

  std::shared_ptr<detail::StateBase> state_;
};

/// The producing end of a Future: set its result or exception once. Move-only. A promise
/// destroyed before it is resolved fails its future with BrokenPromise. Python: the
/// set_result() / set_exception() / set_running_or_notify_cancel() half of Future.
template <class T>
class Promise {
 public:
  Promise() : state_(std::make_shared<detail::State<T>>()) {}

  Promise(Promise&& other) noexcept
      : state_(std::move(other.state_)), retrieved_(other.retrieved_.exchange(false)) {}
  Promise& operator=(Promise&& other) noexcept {
    if (this != &other) {
      abandon();
      state_ = std::move(other.state_);
      retrieved_.store(other.retrieved_.exchange(false));
    }
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;

  ~Promise() { abandon(); }

  /// A handle to the future this promise resolves; may be called more than once (all handles
  /// share one state).
  Future<T> get_future() const {
    Future<T> future(checked("concur::Promise::get_future"));
    retrieved_.store(true, std::memory_order_relaxed);
    return future;
  }

  /// Finishes the future with a value built from args (nothing for Promise<void>). Throws
  /// InvalidStateError if the future is already finished or cancelled; the first outcome stays.
  template <class... Args>
  void set_result(Args&&... args) {
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(Args) == 0, "concur::Promise<void>::set_result takes no argument");
    } else {
      static_assert(std::is_constructible_v<T, Args&&...>,
                    "concur::Promise<T>::set_result: T cannot be built from these arguments");
    }
    const auto& state = checked("concur::Promise::set_result");
    if (!static_cast<detail::State<T>&>(*state).set_value(state, std::forward<Args>(args)...)) {
      throw_resolved("concur::Promise::set_result");
    }
  }

  /// Finishes the future with an exception. Throws InvalidStateError if it is already finished
  /// or cancelled (the first outcome stays), std::invalid_argument if error is null.
  void set_exception(std::exception_ptr error) {
    const auto& state = checked("concur::Promise::set_exception");
    if (!error) {
      throw std::invalid_argument(
          "concur::Promise::set_exception: the exception_ptr is null; pass "
          "std::current_exception() or std::make_exception_ptr(e)");
    }
    if (!state->set_exception(state, std::move(error))) {
      throw_resolved("concur::Promise::set_exception");
    }
  }

  /// Marks the call as started: pending -> running, returns true; returns false if the future
  /// was cancelled (then do not run the call). Throws InvalidStateError in any other state.
  /// Python: set_running_or_notify_cancel().
  bool set_running_or_notify_cancel() {
    return checked("concur::Promise::set_running_or_notify_cancel")
        ->set_running_or_notify_cancel("concur::Promise::set_running_or_notify_cancel");
  }

 private:
  const std::shared_ptr<detail::StateBase>& checked(const char* caller) const {
    if (!state_) detail::throw_invalid_handle(caller);
    return state_;
  }

  [[noreturn]] void throw_resolved(const char* caller) const {
    throw InvalidStateError(std::string(caller) + ": the future is already " +
                            to_string(state_->state()) + "; a Promise can be resolved only once");
  }

  void abandon() noexcept {
    if (state_ && !state_->done()) {
      try {
        const bool failed = state_->set_exception(
            state_, std::make_exception_ptr(BrokenPromise(
                        "concur::Promise: destroyed before setting a result; the call will "
                        "never finish (resolve every promise before it goes)")));
        // Nobody can see a future that was never handed out: nothing to report.
        if (failed && !retrieved_.load(std::memory_order_relaxed))
          static_cast<void>(state_->observe_error());
      } catch (...) {  // make_exception_ptr may fail to allocate: nothing better to do
      }
    }
  }

  std::shared_ptr<detail::StateBase> state_;
  mutable std::atomic<bool> retrieved_{false};  // get_future() was called
};

}  // namespace concur
