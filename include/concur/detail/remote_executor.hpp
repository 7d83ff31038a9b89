// concur/detail/remote_executor.hpp - the base of the executors whose calls run in other
// processes of this program (ProcessPoolExecutor, MPIPoolExecutor): submit and map checked at
// compile time for what can cross to another process.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/codec.hpp>
#include <concur/errors.hpp>
#include <concur/executor.hpp>

#include <concur/detail/coroutine_call.hpp>
#include <concur/detail/remote.hpp>
#include <concur/detail/task.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace concur::detail {

class RemoteExecutor : public Executor {
 public:
  /// The call, checked at compile time: fn must be a function pointer, a captureless lambda
  /// or an empty function object of this program (a worker is another process: captured state
  /// would point into this one's memory), and every argument and the result need a Codec.
  /// Otherwise as Executor::submit.
  template <class F, class... Args>
  [[nodiscard]] auto submit(F&& fn, Args&&... args) {
    check_call<F, Args...>();
    return Executor::submit(std::forward<F>(fn), std::forward<Args>(args)...);
  }

  /// As Executor::map, with fn checked at compile time as submit() does.
  template <class F, class... Ts>
  [[nodiscard]] auto map(F&& fn, Ts&&... iterables_then_options) {
    static_assert(forkable_callable<std::decay_t<F>>,
                  "concur::ProcessPoolExecutor/MPIPoolExecutor::map: the task must be a function "
                  "pointer, a captureless lambda or an empty function object; a worker is "
                  "another process of this program, and captured state may point into the "
                  "parent's memory");
    return Executor::map(std::forward<F>(fn), std::forward<Ts>(iterables_then_options)...);
  }

 protected:
  /// Throws Error unless the call can run in another process (a call submitted through
  /// Executor&, which the compile-time checks above do not see). `who`: the executor's name.
  static void require_remote_capable(const Task& task, const char* who) {
    if (!task.remote_capable()) {
      throw Error(std::string(who) +
                  "::submit: this call cannot run in another process: the callable must be a "
                  "function pointer, a captureless lambda or an empty function object, and "
                  "every argument and the result need a concur::Codec; a coroutine (returning "
                  "concur::Task) never can (submitting through the executor's own type says "
                  "which, at compile time)");
    }
  }

 private:
  template <class F, class... Args>
  static constexpr void check_call() {
    if constexpr (is_coroutine_task_v<call_result_t<F, Args...>>) {
      static_assert(!is_coroutine_task_v<call_result_t<F, Args...>>,
                    "concur::ProcessPoolExecutor/MPIPoolExecutor::submit: fn returns a "
                    "concur::Task (a coroutine); a coroutine cannot run in a worker process (its "
                    "frame lives in this process): submit it to a ThreadPoolExecutor");
    } else {
      static_assert(forkable_callable<std::decay_t<F>>,
                    "concur::ProcessPoolExecutor/MPIPoolExecutor::submit: the task must be a "
                    "function pointer, a captureless lambda or an empty function object; a "
                    "worker is another process of this program, and captured state may point "
                    "into the parent's memory");
      (require_argument_codec<std::decay_t<Args>>(), ...);
      using R = submit_result_t<F, Args...>;
      if constexpr (!std::is_void_v<R>) require_result_codec<R>();
    }
  }

  // One function per type, so that the compiler's instantiation note next to the message names
  // the type.
  template <class T>
  static constexpr void require_argument_codec() {
    static_assert(has_codec<T>,
                  "concur::ProcessPoolExecutor/MPIPoolExecutor::submit: an argument type has no "
                  "concur::Codec<T> (the note naming require_argument_codec<T> says which T); "
                  "specialise Codec<T> with encode(Writer&, const T&) and decode(Reader&), or "
                  "opt in with concur::bitwise_codec<T>");
  }
  template <class T>
  static constexpr void require_result_codec() {
    static_assert(has_codec<T>,
                  "concur::ProcessPoolExecutor/MPIPoolExecutor::submit: the result type has no "
                  "concur::Codec<T> (the note naming require_result_codec<T> says which T); "
                  "specialise Codec<T> with encode(Writer&, const T&) and decode(Reader&), or "
                  "opt in with concur::bitwise_codec<T>");
  }
};

}  // namespace concur::detail
