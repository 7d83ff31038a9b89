// concur/detail/task.hpp - a call packaged for an executor, bound to its future's state.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/codec.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/remote.hpp>
#include <concur/detail/trampoline.hpp>
#include <concur/detail/unique_function.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

namespace concur::detail {

// The decayed result of calling a decay-copied fn with decay-copied args as rvalues (what
// std::thread and std::async do), or void when the call is not possible (the caller reports
// that with a static_assert of its own).
template <class F, class... Args>
struct CallResult {
  using type = void;
};
template <class F, class... Args>
requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
struct CallResult<F, Args...> {
  using type = std::decay_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;
};
template <class F, class... Args>
using call_result_t = typename CallResult<F, Args...>::type;

// Executor::submit passes fn the stop token of its future first when fn can take it, as
// std::jthread does: when fn is invocable as fn(std::stop_token, args...).
template <class F, class... Args>
concept takes_stop_token =
    std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<Args>...>;
template <class F, class... Args>
concept submittable =
    takes_stop_token<F, Args...> || std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>;
template <class F, class... Args>
using submit_result_t = typename std::conditional_t<takes_stop_token<F, Args...>,
                                                    CallResult<F, std::stop_token, Args...>,
                                                    CallResult<F, Args...>>::type;

// How a Task reaches the call stored in its state (a CallState<R, C>, below).
struct TaskOps {
  void (*run)(const std::shared_ptr<StateBase>& state) noexcept;  // calls, then drops the call
  void (*drop)(StateBase& state) noexcept;   // destroys the call's fn and arguments, if still there
  void* (*call)(StateBase& state) noexcept;  // the Call object, for RemoteOps::encode
  const RemoteOps* remote;                   // null: the call cannot run in a worker process
  std::stop_token (*stop_token)(StateBase& state) noexcept;  // null: the call takes no token
};

// One queued call: a handle to a future's state that also holds the call (one allocation for
// both). run() marks the future running (unless it was cancelled), calls, and stores the value
// or the exception. The call's fn and arguments are destroyed once it has run, or once the task
// knows it never will (cancelled, failed); not when the last Future goes.
class Task {
 public:
  Task() noexcept = default;
  Task(std::shared_ptr<StateBase> state, const TaskOps* ops) noexcept
      : state_(std::move(state)), ops_(ops) {}

  // Whether this call can run in a worker process (see remote.hpp).
  bool remote_capable() const noexcept { return ops_->remote != nullptr; }

  // Whether the call takes a std::stop_token (only then has its future a stop state).
  bool stoppable() const noexcept { return ops_->stop_token != nullptr; }
  // REQUIRES: stoppable(). The token the call receives.
  std::stop_token stop_token() const noexcept { return ops_->stop_token(*state_); }
  // Future::request_stop() on this call's future.
  bool request_stop() const noexcept { return state_->request_stop(); }

  // Marks the future running; false if it was cancelled (then the call must not run).
  bool start() noexcept {
    try {
      return state_->set_running_or_notify_cancel("concur::Executor");
    } catch (...) {  // only if someone resolved the future behind our back: nothing to run
      return false;
    }
  }

  // REQUIRES: remote_capable(). Writes the call as a message for a worker process.
  void encode(Writer& w) { ops_->remote->encode(ops_->call(*state_), w); }

  // REQUIRES: remote_capable(). Finishes the future from a worker's reply.
  void finish_from(Reader& reply) noexcept {
    ops_->drop(*state_);
    ops_->remote->decode(reply, state_);
  }

  // Runs the call unless its future was cancelled. Never throws. The call gets a trampoline of
  // its own, even on a worker that runs it while it waits inside a hand-off (see trampoline.hpp).
  void run() noexcept {
    if (start()) {
      trampoline_run_fresh([this] { ops_->run(state_); });
    } else {
      ops_->drop(*state_);
    }
  }

  // Fails a call that will never run (a broken pool); false if it was already done.
  bool fail(std::exception_ptr error) noexcept {
    ops_->drop(*state_);
    try {
      return state_->set_exception(state_, std::move(error));
    } catch (...) {
      return false;
    }
  }

  // Cancels a call that will never run (shutdown with cancel_futures).
  bool cancel() noexcept {
    ops_->drop(*state_);
    try {
      return state_->cancel(state_);
    } catch (...) {
      return false;
    }
  }

  const std::shared_ptr<StateBase>& state() const noexcept { return state_; }

 private:
  std::shared_ptr<StateBase> state_;
  const TaskOps* ops_ = nullptr;
};

// The stop state of a call's future: a std::stop_source for a call whose fn takes a
// std::stop_token (Stoppable), nothing at all otherwise (a std::stop_source allocates).
template <bool Stoppable>
struct StopSlot {
  std::stop_token token() const noexcept { return {}; }
  bool request() noexcept { return false; }
};
template <>
struct StopSlot<true> {
  std::stop_source source;  // thread-safe
  std::stop_token token() const noexcept { return source.get_token(); }
  bool request() noexcept { return source.request_stop(); }
};

// A call: fn and its decay-copied arguments; fn(args...), or fn(token, args...) when Stoppable.
// Runs in this process (operator()), or, when remote_capable, is written as a message for a
// worker process, where the token is the worker's own, tied to this one by the pool's stop
// signal (see remote.hpp).
template <class R, bool Stoppable, class F, class... Args>
struct Call {
  static constexpr bool stoppable = Stoppable;

  template <class G, class... A>
  explicit Call(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}

  F fn;
  std::tuple<Args...> args;

  void operator()(const std::shared_ptr<StateBase>& s,
                  [[maybe_unused]] std::stop_token token) noexcept {
    auto& typed = static_cast<State<R>&>(*s);
    try {
      auto call = [&](Args&... xs) -> R {
        if constexpr (Stoppable) {
          return std::invoke(std::move(fn), std::move(token), std::move(xs)...);
        } else {
          return std::invoke(std::move(fn), std::move(xs)...);
        }
      };
      if constexpr (std::is_void_v<R>) {
        std::apply(call, args);
        typed.set_value(s);
      } else {
        typed.set_value(s, std::apply(call, args));
      }
    } catch (...) {
      typed.set_exception(s, std::current_exception());
    }
  }

  static void encode(void* self, Writer& w) {
    if constexpr (remote_capable<R, F, Args...>) {
      auto& call = *static_cast<Call*>(self);
      write_code_address(w,
                         reinterpret_cast<std::uintptr_t>(&remote_entry<R, Stoppable, F, Args...>));
      encode_callable(w, call.fn);
      std::apply([&](const Args&... xs) { (w.write(xs), ...); }, call.args);
    }
  }

  static constexpr bool remote_capable_here = remote_capable<R, F, Args...>;
  static constexpr RemoteOps remote_ops{&encode, &decode_outcome_into<R>};
};

// The RemoteOps of a Call, or null; instantiates the codecs only for calls that can go remote.
template <class C>
constexpr const RemoteOps* remote_ops_of() noexcept {
  if constexpr (C::remote_capable_here) {
    return &C::remote_ops;
  } else {
    return nullptr;
  }
}

// The state of a submitted call's future, with the call itself (and, for a call that takes a
// std::stop_token, its stop state): one allocation per submit of a call without a token.
template <class R, class C>
class CallState final : public State<R> {
  static std::stop_token token_of(StateBase& state) noexcept {
    return static_cast<CallState&>(state).stop_.token();
  }

 public:
  template <class... A>
  explicit CallState(A&&... a) : call_(std::in_place, std::forward<A>(a)...) {}

  bool request_stop() noexcept override { return stop_.request(); }

  static constexpr TaskOps ops{
      [](const std::shared_ptr<StateBase>& state) noexcept {
        auto& self = static_cast<CallState&>(*state);
        (*self.call_)(state, self.stop_.token());
        self.call_.reset();
      },
      [](StateBase& state) noexcept { static_cast<CallState&>(state).call_.reset(); },
      [](StateBase& state) noexcept -> void* {
        return std::addressof(*static_cast<CallState&>(state).call_);
      },
      remote_ops_of<C>(), C::stoppable ? &token_of : nullptr};

 private:
  [[no_unique_address]] StopSlot<C::stoppable> stop_;
  std::optional<C> call_;  // only the Task's owner touches it
};

// Packages fn(args...) with a new future's state; returns the task and its future's state.
// A fn that takes a std::stop_token gets one (see takes_stop_token).
template <class R, class F, class... Args>
Task make_task(std::shared_ptr<StateBase>& state_out, F&& fn, Args&&... args) {
  using C = Call<R, takes_stop_token<F, Args...>, std::decay_t<F>, std::decay_t<Args>...>;
  auto state = std::make_shared<CallState<R, C>>(std::forward<F>(fn), std::forward<Args>(args)...);
  state_out = state;
  return Task(std::move(state), &CallState<R, C>::ops);
}

}  // namespace concur::detail
