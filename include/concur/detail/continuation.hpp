// concur/detail/continuation.hpp - the machinery behind Future<T>::then().
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// A continuation is a future's state that also holds the function to run (ThenState, one
// allocation, as CallState in task.hpp is for submitted calls). Its parent holds it through a
// done-callback (a Link); when the parent is done, the Link hands the work to the trampoline,
// so that a chain of 100,000 continuations runs one link after another in constant stack
// instead of 100,000 frames deep. Nothing here blocks a thread.
//
// Who touches the stored function: the thread that claims the state (pending -> running, under
// the state's mutex) calls it and then destroys it; a cancel() that wins instead destroys it at
// once (on_cancelled). Exactly one of them does.

#include <concur/errors.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/trampoline.hpp>

#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace concur {

template <class T>
class Future;

namespace detail {

// An executor then(executor, fn) can use: its submit() takes a callable and returns a
// Future<void> for a void one (every concur executor does).
template <class E>
concept SubmitsCallables = requires(E& executor, void (*fn)()) {
  { executor.submit(fn) } -> std::same_as<Future<void>>;
};

// fn takes the value (nothing for void): errors and cancellation pass it by.
template <class T, class Fn>
inline constexpr bool takes_value_v = std::is_invocable_v<Fn, const T&>;
template <class Fn>
inline constexpr bool takes_value_v<void, Fn> = std::is_invocable_v<Fn>;

// What fn returns and how it is called; `valid` is false when fn fits neither form.
template <class T, class Fn>
struct ThenCall {
  static constexpr bool valid = false;
  static constexpr bool by_value = false;
  using raw = void;
};
template <class T, class Fn>
requires(takes_value_v<T, Fn> && !std::is_void_v<T>) struct ThenCall<T, Fn> {
  static constexpr bool valid = true;
  static constexpr bool by_value = true;
  using raw = std::decay_t<std::invoke_result_t<Fn, const T&>>;
};
template <class T, class Fn>
requires(takes_value_v<T, Fn>&& std::is_void_v<T>) struct ThenCall<T, Fn> {
  static constexpr bool valid = true;
  static constexpr bool by_value = true;
  using raw = std::decay_t<std::invoke_result_t<Fn>>;
};
template <class T, class Fn>
requires(!takes_value_v<T, Fn> &&
         std::is_invocable_v<Fn, const Future<T>&>) struct ThenCall<T, Fn> {
  static constexpr bool valid = true;
  static constexpr bool by_value = false;
  using raw = std::decay_t<std::invoke_result_t<Fn, const Future<T>&>>;
};

// A fn returning Future<U> makes then() return Future<U> (flattened).
template <class X>
struct Flatten {
  using type = X;
  static constexpr bool nested = false;
};
template <class U>
struct Flatten<Future<U>> {
  using type = U;
  static constexpr bool nested = true;
};

// pending -> running; false if the state was cancelled (or, impossibly, already resolved).
inline bool claim(const std::shared_ptr<StateBase>& state) noexcept {
  try {
    return state->set_running_or_notify_cancel("concur::Future::then");
  } catch (...) {
    return false;
  }
}

// A done-callback that holds `target` (a state waiting for the one the callback is on) and,
// when called, hands Target::on_source_done(target, source) to the trampoline. If it is
// destroyed uncalled (its source died unresolved), the target is released through the
// trampoline too: a chain of pending states then unwinds one state at a time, not recursively.
template <class Target>
class Link {
 public:
  explicit Link(std::shared_ptr<StateBase> target) noexcept : target_(std::move(target)) {}
  Link(Link&&) noexcept = default;
  Link& operator=(Link&&) = delete;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link() {
    if (target_) {
      trampoline_run([held = std::move(target_)]() mutable noexcept { held.reset(); });
    }
  }

  void operator()(const std::shared_ptr<StateBase>& source) noexcept {
    trampoline_run([target = std::move(target_), source]() noexcept {
      Target::on_source_done(target, source);
    });
  }

 private:
  std::shared_ptr<StateBase> target_;
};

// Finishes a running state with the outcome of the Future<U> its fn returned.
template <class Access, class U>
struct Forward {
  // REQUIRES: target is a running State<U> that nobody else completes; source is done.
  static void on_source_done(const std::shared_ptr<StateBase>& target,
                             const std::shared_ptr<StateBase>& source) noexcept {
    auto& out = static_cast<State<U>&>(*target);
    try {
      if (source->state() == FutureState::cancelled) {
        out.set_exception(target, std::make_exception_ptr(CancelledError(
                                      "concur::Future::then: the future that fn returned was "
                                      "cancelled")));
      } else if (source->error_unobserved()) {
        out.set_exception(target, source->observe_error());  // passed on: counts as observed
      } else if constexpr (std::is_void_v<U>) {
        out.set_value(target);
      } else {
        auto& in = static_cast<State<U>&>(*source);
        if constexpr (std::is_copy_constructible_v<U>) {
          out.set_value(target, std::as_const(in.value("concur::Future::then")));
        } else {  // move-only: moved out, as take() does
          out.set_value(target, in.take("concur::Future::then"));
        }
      }
    } catch (...) {
      out.set_exception(target, std::current_exception());
    }
  }

  // Makes target (running) finish as `inner` does.
  static void attach(const std::shared_ptr<StateBase>& target, const Future<U>& inner) {
    const std::shared_ptr<StateBase>& source = Access::state(inner);
    if (!source) {
      throw InvalidStateError(
          "concur::Future::then: fn returned an empty Future (default-constructed or "
          "moved-from); return a future from submit(), a Promise or then()");
    }
    source->add_callback(source, Link<Forward>(target));
  }
};

// The state of the future then() returns, holding fn. Exec is void for then(fn) (fn runs in
// the thread that completes the parent), else the executor type of then(executor, fn).
// Access is FutureAccess (future.hpp), passed in because this header comes first.
template <class Access, class T, class Fn, class Exec>
class ThenState final : public State<typename Flatten<typename ThenCall<T, Fn>::raw>::type> {
  using Call = ThenCall<T, Fn>;
  using Raw = typename Call::raw;
  using R = typename Flatten<Raw>::type;
  using ExecPtr = std::conditional_t<std::is_void_v<Exec>, std::nullptr_t, Exec*>;

 public:
  using result_type = R;

  template <class F>
  ThenState(ExecPtr executor, F&& fn)
      : executor_(executor), fn_(std::in_place, std::forward<F>(fn)) {}

  // The parent is done. Value form: an error or a cancellation passes down without calling fn,
  // here and now. Otherwise fn runs, here (then(fn)) or on the executor.
  static void on_source_done(const std::shared_ptr<StateBase>& self,
                             const std::shared_ptr<StateBase>& parent) noexcept {
    if constexpr (Call::by_value) {
      if (parent->state() == FutureState::cancelled) {
        self->cancel(self);  // no-op if already cancelled; on_cancelled drops fn
        return;
      }
      if (parent->error_unobserved()) {
        if (claim(self)) {
          typed(self).fn_.reset();
          self->set_exception(self, parent->observe_error());  // passed on: observed
        }
        return;
      }
    }
    if constexpr (std::is_void_v<Exec>) {
      call(self, parent);
    } else {
      hop(self, parent);
    }
  }

 protected:
  void on_cancelled() noexcept override { fn_.reset(); }

 private:
  static ThenState& typed(const std::shared_ptr<StateBase>& self) noexcept {
    return static_cast<ThenState&>(*self);
  }

  // fn's result, by value (a reference it returns may point into its captures or the handle).
  Raw invoke(const std::shared_ptr<StateBase>& parent) {
    if constexpr (!Call::by_value) {
      const Future<T> handle = Access::template make<T>(parent);
      return std::invoke(std::move(*fn_), handle);
    } else if constexpr (std::is_void_v<T>) {
      return std::invoke(std::move(*fn_));
    } else {
      return std::invoke(
          std::move(*fn_),
          std::as_const(static_cast<State<T>&>(*parent).value("concur::Future::then")));
    }
  }

  // Runs fn (unless this state was cancelled first) and finishes this state with its outcome.
  static void call(const std::shared_ptr<StateBase>& self,
                   const std::shared_ptr<StateBase>& parent) noexcept {
    if (!claim(self)) return;  // cancelled before it started: fn is already gone
    ThenState& me = typed(self);
    try {
      if constexpr (Flatten<Raw>::nested) {
        Raw inner = me.invoke(parent);
        me.fn_.reset();
        Forward<Access, R>::attach(self, inner);
      } else if constexpr (std::is_void_v<R>) {
        me.invoke(parent);
        me.fn_.reset();
        me.set_value(self);
      } else {
        R value = me.invoke(parent);
        me.fn_.reset();
        me.set_value(self, std::move(value));
      }
    } catch (...) {
      me.fn_.reset();
      me.set_exception(self, std::current_exception());
    }
  }

  // The submitted half of then(executor, fn).
  struct Job {
    std::shared_ptr<StateBase> self;
    std::shared_ptr<StateBase> parent;
    void operator()() const noexcept { call(self, parent); }
  };

  // Submits fn to the executor. If submit() throws (shut down, broken), this state fails with
  // that exception; if the executor drops the job without running it, this state ends as the
  // job's future did (cancelled, or failed with the executor's error).
  static void hop(const std::shared_ptr<StateBase>& self,
                  const std::shared_ptr<StateBase>& parent) noexcept {
    try {
      auto job = typed(self).executor_->submit(Job{self, parent});  // a Future<void>
      job.add_done_callback([self](const auto& done) { on_job_done(self, done); });
    } catch (...) {
      if (claim(self)) {
        typed(self).fn_.reset();
        self->set_exception(self, std::current_exception());
      }
    }
  }

  template <class JobFuture>
  static void on_job_done(const std::shared_ptr<StateBase>& self, const JobFuture& job) {
    if (job.cancelled()) {
      self->cancel(self);  // no-op unless the job never started
      return;
    }
    if (std::exception_ptr error = job.exception()) {  // only an executor fails a job
      if (claim(self)) {
        typed(self).fn_.reset();
        self->set_exception(self, std::move(error));
      }
    }
  }

  ExecPtr executor_;
  std::optional<Fn> fn_;  // see the comment at the top of this file
};

// Future<T>::then(fn) and then(executor, fn): a new state holding fn, linked to `parent`.
template <class Access, class T, class Exec, class F>
auto attach_then(const std::shared_ptr<StateBase>& parent,
                 std::conditional_t<std::is_void_v<Exec>, std::nullptr_t, Exec*> executor, F&& fn) {
  using Fn = std::decay_t<F>;
  if constexpr (!ThenCall<T, Fn>::valid) {
    static_assert(ThenCall<T, Fn>::valid,
                  "concur::Future<T>::then: fn must be callable as fn(const T&) (fn() for "
                  "Future<void>) or as fn(const concur::Future<T>&)");
    return;  // no future: the static_assert above says why
  } else {
    using S = ThenState<Access, T, Fn, Exec>;
    std::shared_ptr<StateBase> child = std::make_shared<S>(executor, std::forward<F>(fn));
    parent->add_callback(parent, Link<S>(child));
    return Access::template make<typename S::result_type>(std::move(child));
  }
}

}  // namespace detail
}  // namespace concur
