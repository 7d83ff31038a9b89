// concur/coroutine.hpp - Task<T>, a lazy coroutine that can await futures and other Tasks.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// A concur::Task<T> is a coroutine (a function using co_await or co_return) that starts only
// when it is awaited, or when it is submitted: executor.submit(fn, args...) with fn returning
// Task<T> returns a Future<T>, starts the coroutine on a pool thread, and finishes the future
// when the coroutine finishes, with its value or exception. Python: a coroutine function, with
// submit() in the role of asyncio.create_task() (each pool thread is not an event loop, though:
// a coroutine runs on whichever thread resumes it).
//
// Inside any coroutine (a Task or another type), `co_await future` yields the future's value or
// rethrows, and resumes in the thread that completes the future; `co_await future.via(executor)`
// resumes on the executor instead (see future.hpp). `co_await task` starts the Task and yields
// its value or rethrows its exception.
//
// A Task is move-only and owns its coroutine frame: destroying a Task that never started destroys
// the frame (and the arguments in it) without running any of its body. A Task can be awaited
// once. Parameters taken by reference must outlive the coroutine, as with any coroutine; prefer
// values (and std::ref, through submit, to share an object on purpose).
//
// Stack depth: every start and resumption goes through a per-thread trampoline (see
// detail/trampoline.hpp), so a Task awaiting a hundred thousand Tasks that complete at once, or
// a chain of ten thousand nested Tasks, runs in constant stack.
//
// Coroutines cannot run in a ProcessPoolExecutor (their frames live in this process):
// submitting one is a compile-time error through ProcessPoolExecutor, and throws concur::Error
// through Executor&.
//
// Example:
//   concur::Task<int> answer(concur::Executor& pool) {
//     int a = co_await pool.submit([] { return 6; });
//     co_return a * 7;
//   }
//   concur::ThreadPoolExecutor pool(2);
//   int v = pool.submit(answer, std::ref(pool)).result();  // 42

#include <concur/errors.hpp>
#include <concur/future.hpp>

#include <concur/detail/await.hpp>
#include <concur/detail/future_state.hpp>
#include <concur/detail/trampoline.hpp>

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace concur {

template <class T = void>
class Task;

namespace detail {

template <class T>
class TaskPromise;
template <class T>
class TaskAwaiter;
template <class V>
struct TaskAccess;

// The parts of a Task's promise that do not depend on T.
class TaskPromiseBase {
 public:
  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

 protected:
  std::coroutine_handle<> continuation_;  // the awaiting coroutine, resumed at the end
  std::shared_ptr<StateBase> target_;     // submitted: the future to finish; the frame frees itself
  void (*release_)(StateBase&) noexcept = nullptr;  // submitted: frees fn and its arguments
  std::exception_ptr error_;
  bool started_ = false;
};

template <class T>
class TaskPromiseValue : public TaskPromiseBase {
 public:
  template <class U = T>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) { value_.emplace(std::forward<U>(value)); }

 protected:
  T result() {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }

  // Submitted: moves the outcome out, frees the frame, then finishes the future (so that whoever
  // sees the future done also sees the frame, and the values in it, gone).
  template <class P>
  static void finish_target(std::coroutine_handle<P> h) noexcept {
    P& p = h.promise();
    const std::shared_ptr<StateBase> target = std::move(p.target_);
    void (*const release)(StateBase&) noexcept = p.release_;
    auto& state = static_cast<State<T>&>(*target);
    std::exception_ptr error = std::move(p.error_);
    std::optional<T> value;
    if (!error) {
      try {
        value.emplace(std::move(*p.value_));
      } catch (...) {
        error = std::current_exception();
      }
    }
    h.destroy();
    if (release != nullptr) release(*target);
    try {
      if (error) {
        state.set_exception(target, std::move(error));
      } else {
        state.set_value(target, std::move(*value));
      }
    } catch (...) {  // T's move threw: the call failed with that
      state.set_exception(target, std::current_exception());
    }
  }

  std::optional<T> value_;
};

template <>
class TaskPromiseValue<void> : public TaskPromiseBase {
 public:
  void return_void() noexcept {}

 protected:
  void result() {
    if (error_) std::rethrow_exception(error_);
  }

  template <class P>
  static void finish_target(std::coroutine_handle<P> h) noexcept {
    P& p = h.promise();
    const std::shared_ptr<StateBase> target = std::move(p.target_);
    void (*const release)(StateBase&) noexcept = p.release_;
    std::exception_ptr error = std::move(p.error_);
    h.destroy();
    if (release != nullptr) release(*target);
    if (error) {
      target->set_exception(target, std::move(error));
    } else {
      static_cast<State<void>&>(*target).set_value(target);
    }
  }
};

template <class T>
class TaskPromise final : public TaskPromiseValue<T> {
 public:
  using Handle = std::coroutine_handle<TaskPromise>;

  Task<T> get_return_object() noexcept { return Task<T>(Handle::from_promise(*this)); }

  // At the end: a submitted Task finishes its future and frees its frame; an awaited one hands
  // off to its awaiter (queued on the trampoline, which is running: no nesting).
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(Handle h) noexcept {
      TaskPromise& p = h.promise();
      if (p.target_) {
        TaskPromiseValue<T>::finish_target(h);
      } else if (p.continuation_) {
        resume_handed_off(p.continuation_);
      }
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

 private:
  friend class Task<T>;
  friend class TaskPromiseValue<T>;
  friend class TaskAwaiter<T>;
  friend struct TaskAccess<T>;
};

// co_await task: starts the Task (through the trampoline) and resumes the awaiter at its end.
template <class T>
class TaskAwaiter {
 public:
  explicit TaskAwaiter(std::coroutine_handle<TaskPromise<T>> h) noexcept : handle_(h) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation_ = awaiter;
    resume_handed_off(handle_);  // may resume the awaiter before returning: touch nothing after
  }
  T await_resume() { return handle_.promise().result(); }

 private:
  std::coroutine_handle<TaskPromise<T>> handle_;
};

// How Executor::submit starts a Task<V> (see detail/coroutine_call.hpp).
template <class V>
struct TaskAccess {
  // Takes the frame out of `task` and starts it; at its end it frees itself, calls
  // release(*target), then finishes `target`. Throws InvalidStateError if `task` is empty or
  // started.
  static void start_submitted(Task<V>&& task, const std::shared_ptr<StateBase>& target,
                              void (*release)(StateBase&) noexcept) {
    typename TaskPromise<V>::Handle h = task.checked_start("concur::Executor::submit");
    task.handle_ = {};
    h.promise().target_ = target;
    h.promise().release_ = release;
    resume_handed_off(h);
  }
};

}  // namespace detail

/// A lazy coroutine returning T (void, a value or a move-only type): its body runs when it is
/// awaited (`co_await task` yields the value or rethrows) or submitted to an executor. Move-only;
/// destroying a Task that never started frees its frame without running it. Awaitable once.
/// Python: a coroutine object.
template <class T>
class [[nodiscard]] Task {
  static_assert(!std::is_reference_v<T>,
                "concur::Task<T>: T must not be a reference; return a value, a pointer or a "
                "std::reference_wrapper");

 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  /// An empty Task; awaiting it throws InvalidStateError.
  Task() noexcept = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  /// Frees the coroutine frame. Destroying a Task while it runs (awaited and not finished) is
  /// undefined; awaiting keeps it alive to the end of the co_await expression.
  ~Task() { reset(); }

  /// True if this Task holds a coroutine (not default-constructed or moved-from).
  bool valid() const noexcept { return static_cast<bool>(handle_); }

  /// `co_await task` (or `co_await make_task(...)`): starts the body, suspends the awaiter until
  /// it ends, then yields its value or rethrows its exception. The awaiter resumes in the thread
  /// where the body ended. Throws InvalidStateError if empty or already started.
  detail::TaskAwaiter<T> operator co_await() & {
    return detail::TaskAwaiter<T>(checked_start("concur::Task::operator co_await"));
  }
  detail::TaskAwaiter<T> operator co_await() && {
    return detail::TaskAwaiter<T>(checked_start("concur::Task::operator co_await"));
  }

 private:
  friend class detail::TaskPromise<T>;
  friend struct detail::TaskAccess<T>;

  explicit Task(typename promise_type::Handle h) noexcept : handle_(h) {}

  typename promise_type::Handle checked_start(const char* caller) {
    if (!handle_) {
      throw InvalidStateError(std::string(caller) +
                              ": this Task is empty (default-constructed or moved-from)");
    }
    if (handle_.promise().started_) {
      throw InvalidStateError(std::string(caller) +
                              ": this Task was already started; a Task can be awaited once");
    }
    handle_.promise().started_ = true;
    return handle_;
  }

  void reset() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

  typename promise_type::Handle handle_;
};

}  // namespace concur
