// concur/detail/await.hpp - what `co_await future` and `co_await future.via(executor)` use.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// Every resumption of a coroutine goes through trampoline_run(), so a loop awaiting futures or
// Tasks that complete at once resumes from a flat loop and never grows the stack (g++ 12 does
// not make these hand-offs tail calls under AddressSanitizer; see trampoline.hpp).

#include <concur/errors.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/trampoline.hpp>

#include <atomic>
#include <coroutine>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace concur::detail {

// Resumes h on this thread, after the hand-off running here (if any) returns.
inline void resume_handed_off(std::coroutine_handle<> h) noexcept {
  trampoline_run([h] { h.resume(); });
}

// The outcome of a done state for co_await: a copy of the value (a move-only value is moved out,
// as by take()), the call's exception rethrown, or CancelledError.
template <class T>
T await_outcome(StateBase& base, const char* caller) {
  if (base.state() == FutureState::cancelled) {
    throw CancelledError(std::string(caller) + ": the call was cancelled before it started");
  }
  auto& state = static_cast<State<T>&>(base);
  if constexpr (std::is_void_v<T>) {
    state.value(caller);
  } else if constexpr (std::is_copy_constructible_v<T>) {
    return state.value(caller);
  } else {
    return state.take(caller);
  }
}

// co_await future: no suspension if the future is done; else the coroutine resumes in the
// thread that completes it.
template <class T>
class FutureAwaiter {
 public:
  explicit FutureAwaiter(std::shared_ptr<StateBase> state) noexcept : state_(std::move(state)) {}

  bool await_ready() const noexcept { return state_->done(); }

  // Whichever comes second, this call or the done-callback, resumes the coroutine: this call by
  // returning false (the future completed meanwhile: no suspension, no stack growth), the
  // callback through the trampoline. Neither touches *this after that point.
  bool await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    state_->add_callback(state_, [this](const std::shared_ptr<StateBase>& /*state*/) {
      if (second_.exchange(true, std::memory_order_acq_rel)) resume_handed_off(handle_);
    });
    return !second_.exchange(true, std::memory_order_acq_rel);
  }

  T await_resume() { return await_outcome<T>(*state_, "concur: co_await future"); }

 private:
  std::shared_ptr<StateBase> state_;
  std::coroutine_handle<> handle_;
  std::atomic<bool> second_{false};
};

// The awaiter whose resumption is being submitted by this thread: a resumption destroyed
// unrun while this is set was refused by submit(), which throws the reason.
inline const void*& via_submitting() noexcept {
  thread_local const void* awaiter = nullptr;
  return awaiter;
}

// co_await future.via(executor): once the future is done, the coroutine's resumption is
// submitted to the executor as a task. If submit() throws (ShutdownError, BrokenExecutor...), the
// coroutine resumes in the completing thread and co_await throws that exception. If the executor
// drops the queued resumption without running it (shutdown with cancel_futures, a broken pool),
// the coroutine resumes in the dropping thread and co_await throws CancelledError.
template <class T, class E>
class ViaAwaiter {
 public:
  ViaAwaiter(std::shared_ptr<StateBase> state, E& executor) noexcept
      : state_(std::move(state)), executor_(&executor) {}

  bool await_ready() const noexcept { return false; }

  void await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    state_->add_callback(state_, [this](const std::shared_ptr<StateBase>& /*state*/) { hop(); });
  }

  T await_resume() {
    if (error_) std::rethrow_exception(error_);
    return await_outcome<T>(*state_, "concur: co_await future.via(executor)");
  }

 private:
  // The task submitted to the executor. Destroyed without having run, it resumes the coroutine
  // with an error instead, so a coroutine is never left suspended forever.
  class Resumer {
   public:
    explicit Resumer(ViaAwaiter* awaiter) noexcept : awaiter_(awaiter) {}
    Resumer(Resumer&& other) noexcept : awaiter_(std::exchange(other.awaiter_, nullptr)) {}
    Resumer(const Resumer&) = delete;
    Resumer& operator=(const Resumer&) = delete;
    Resumer& operator=(Resumer&&) = delete;
    ~Resumer() {
      if (awaiter_ != nullptr) awaiter_->dropped();
    }

    void operator()() noexcept { resume_handed_off(std::exchange(awaiter_, nullptr)->handle_); }

   private:
    ViaAwaiter* awaiter_;
  };

  // In the thread that completed the future.
  void hop() noexcept {
    const void* const outer = std::exchange(via_submitting(), this);
    try {
      static_cast<void>(executor_->submit(Resumer(this)));
      via_submitting() = outer;  // from here on *this may be gone (resumed on the executor)
      return;
    } catch (...) {
      via_submitting() = outer;
      error_ = std::current_exception();
    }
    resume_handed_off(handle_);
  }

  void dropped() noexcept {
    if (via_submitting() == this) return;  // unwinding out of submit(): hop() resumes
    try {
      throw CancelledError(
          "concur: co_await future.via(executor): the executor dropped the coroutine's "
          "resumption without running it (shutdown with cancel_futures, or a broken pool); the "
          "coroutine resumed in the thread that dropped it");
    } catch (...) {
      error_ = std::current_exception();
    }
    resume_handed_off(handle_);
  }

  std::shared_ptr<StateBase> state_;
  E* executor_;
  std::coroutine_handle<> handle_;
  std::exception_ptr error_;  // written before the resumption, read after it
};

}  // namespace concur::detail
