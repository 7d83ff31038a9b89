// concur/detail/coroutine_call.hpp - submit() of a function returning Task<T>: a Future<T>.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// Executor::submit(fn, args...) with fn returning Task<T> packages a CoroutineCallState: run on
// a pool thread, it calls fn, starts the coroutine there and lets it finish the Future<T> (maybe
// on another thread, after its own awaits). Such a call never runs in a worker process: it has no
// RemoteOps, so ProcessPoolExecutor::submit_task refuses it.
//
// Task is only declared here; a function returning Task<T> comes with concur/coroutine.hpp,
// which defines it and TaskAccess before any of this is instantiated.

#include <concur/detail/future_state.hpp>
#include <concur/detail/task.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

namespace concur {
template <class T>
class Task;
}  // namespace concur

namespace concur::detail {

template <class V>
struct TaskAccess;

// Whether a (decayed) call result is a concur::Task<T>.
template <class R>
struct IsCoroutineTask : std::false_type {};
template <class T>
struct IsCoroutineTask<concur::Task<T>> : std::true_type {};
template <class R>
inline constexpr bool is_coroutine_task_v = IsCoroutineTask<R>::value;

// The state of a submitted coroutine's future, with fn and its arguments. Unlike a plain call's
// (CallState), fn and the arguments stay until the coroutine ends, not only until it first
// suspends: a lambda's captures and reference parameters bound to the arguments live in them.
// A fn taking a std::stop_token first (takes_stop_token) gets the future's token, as a plain
// call does; only then does the state hold a std::stop_source.
template <class V, bool Stoppable, class F, class... Args>
class CoroutineCallState final : public State<V> {
  struct Call {
    template <class G, class... A>
    explicit Call(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}
    F fn;
    std::tuple<Args...> args;
  };
  static void release(StateBase& state) noexcept {
    static_cast<CoroutineCallState&>(state).call_.reset();
  }

  // fn(args...), or fn(token, args...).
  auto invoke() {
    Call& call = *call_;
    if constexpr (Stoppable) {
      return std::apply(std::move(call.fn),
                        std::tuple_cat(std::make_tuple(stop_.token()), std::move(call.args)));
    } else {
      return std::apply(std::move(call.fn), std::move(call.args));
    }
  }

  static std::stop_token token_of(StateBase& state) noexcept {
    return static_cast<CoroutineCallState&>(state).stop_.token();
  }

 public:
  template <class G, class... A>
  explicit CoroutineCallState(G&& g, A&&... a)
      : call_(std::in_place, std::forward<G>(g), std::forward<A>(a)...) {}

  bool request_stop() noexcept override { return stop_.request(); }

  static constexpr TaskOps ops{
      [](const std::shared_ptr<StateBase>& state) noexcept {
        auto& self = static_cast<CoroutineCallState&>(*state);
        try {
          // Starts the coroutine here; at its end it frees its frame, calls release (fn and the
          // arguments go), then finishes the future. *this may be done by the time this returns.
          TaskAccess<V>::start_submitted(self.invoke(), state, &release);
        } catch (...) {  // fn threw, or returned an empty or started Task: nothing is running
          self.call_.reset();
          state->set_exception(state, std::current_exception());
        }
      },
      &release,
      [](StateBase& state) noexcept -> void* {
        return std::addressof(*static_cast<CoroutineCallState&>(state).call_);
      },
      nullptr,  // no RemoteOps: a coroutine frame lives in this process
      Stoppable ? &token_of : nullptr};

 private:
  [[no_unique_address]] StopSlot<Stoppable> stop_;  // see task.hpp
  std::optional<Call> call_;  // the Task's owner, then the coroutine, touch it
};

// What Executor::submit's future holds for a call returning R: R, or T for a coroutine's
// Task<T>.
template <class R>
struct SubmittedValue {
  using type = R;
};
template <class T>
struct SubmittedValue<concur::Task<T>> {
  using type = T;
};
template <class R>
using submitted_value_t = typename SubmittedValue<R>::type;

// Packages fn(args...), which returns Task<V>, with a new Future<V>'s state.
template <class V, class F, class... Args>
Task make_coroutine_task(std::shared_ptr<StateBase>& state_out, F&& fn, Args&&... args) {
  using S =
      CoroutineCallState<V, takes_stop_token<F, Args...>, std::decay_t<F>, std::decay_t<Args>...>;
  auto state = std::make_shared<S>(std::forward<F>(fn), std::forward<Args>(args)...);
  state_out = state;
  return Task(std::move(state), &S::ops);
}

// Packages a call for Executor::submit: a coroutine (fn returns Task<T>) or a plain call.
template <class R, class F, class... Args>
Task make_submitted_task(std::shared_ptr<StateBase>& state_out, F&& fn, Args&&... args) {
  if constexpr (is_coroutine_task_v<R>) {
    return make_coroutine_task<typename R::value_type>(state_out, std::forward<F>(fn),
                                                       std::forward<Args>(args)...);
  } else {
    return make_task<R>(state_out, std::forward<F>(fn), std::forward<Args>(args)...);
  }
}

}  // namespace concur::detail
