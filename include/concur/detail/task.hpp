// concur/detail/task.hpp - a call packaged for an executor, bound to its future's state.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/codec.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/remote.hpp>
#include <concur/detail/unique_function.hpp>

#include <exception>
#include <functional>
#include <memory>
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

// One queued call: run() marks the future running (unless it was cancelled), calls, and stores
// the value or the exception.
class Task {
 public:
  using Body = UniqueFunction<void(const std::shared_ptr<StateBase>&)>;

  Task() noexcept = default;
  Task(std::shared_ptr<StateBase> state, Body body, const RemoteOps* remote = nullptr) noexcept
      : state_(std::move(state)), body_(std::move(body)), remote_(remote) {}

  // Whether this call can run in a worker process (see remote.hpp).
  bool remote_capable() const noexcept { return remote_ != nullptr; }

  // Marks the future running; false if it was cancelled (then the call must not run).
  bool start() noexcept {
    try {
      return state_->set_running_or_notify_cancel("concur::Executor");
    } catch (...) {  // only if someone resolved the future behind our back: nothing to run
      return false;
    }
  }

  // REQUIRES: remote_capable(). Writes the call as a message for a worker process.
  void encode(Writer& w) { remote_->encode(body_.target(), w); }

  // REQUIRES: remote_capable(). Finishes the future from a worker's reply.
  void finish_from(Reader& reply) noexcept { remote_->decode(reply, state_); }

  // Runs the call unless its future was cancelled. Never throws.
  void run() noexcept {
    if (start()) body_(state_);
  }

  // Fails a call that will never run (a broken pool); false if it was already done.
  bool fail(std::exception_ptr error) noexcept {
    try {
      return state_->set_exception(state_, std::move(error));
    } catch (...) {
      return false;
    }
  }

  // Cancels a call that will never run (shutdown with cancel_futures).
  bool cancel() noexcept {
    try {
      return state_->cancel(state_);
    } catch (...) {
      return false;
    }
  }

  const std::shared_ptr<StateBase>& state() const noexcept { return state_; }

 private:
  std::shared_ptr<StateBase> state_;
  Body body_;
  const RemoteOps* remote_ = nullptr;
};

// A call: fn and its decay-copied arguments. Runs in this process (operator()), or, when
// remote_capable, is written as a message for a worker process.
template <class R, class F, class... Args>
struct Call {
  F fn;
  std::tuple<Args...> args;

  void operator()(const std::shared_ptr<StateBase>& s) noexcept {
    auto& typed = static_cast<State<R>&>(*s);
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(std::move(fn), std::move(args));
        typed.set_value(s);
      } else {
        typed.set_value(s, std::apply(std::move(fn), std::move(args)));
      }
    } catch (...) {
      typed.set_exception(s, std::current_exception());
    }
  }

  static void encode(void* self, Writer& w) {
    if constexpr (remote_capable<R, F, Args...>) {
      auto& call = *static_cast<Call*>(self);
      w.write_raw(reinterpret_cast<std::uintptr_t>(&remote_entry<R, F, Args...>));
      encode_callable(w, call.fn);
      std::apply([&](const Args&... xs) { (w.write(xs), ...); }, call.args);
    }
  }

  static constexpr RemoteOps remote_ops{&encode, &decode_outcome_into<R>};
};

// Packages fn(args...) for the future whose state is given (a State<R>).
template <class R, class F, class... Args>
Task make_task(std::shared_ptr<StateBase> state, F&& fn, Args&&... args) {
  using C = Call<R, std::decay_t<F>, std::decay_t<Args>...>;
  const RemoteOps* remote = nullptr;
  if constexpr (remote_capable<R, std::decay_t<F>, std::decay_t<Args>...>) remote = &C::remote_ops;
  return Task(std::move(state),
              C{std::decay_t<F>(std::forward<F>(fn)),
                std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)},
              remote);
}

}  // namespace concur::detail
