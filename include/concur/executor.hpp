// concur/executor.hpp - Executor, the abstract base of every pool: submit(), map(), shutdown().
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// An Executor runs calls asynchronously and hands back Futures, like Python's
// concurrent.futures.Executor. It is a plain abstract class: hold any pool as Executor& or
// std::unique_ptr<Executor>, and submit(), map() and shutdown() work through it. submit() and
// map() are written once, here; a concrete pool only queues the packaged calls.
//
// Guarantees: a submitted call runs at most once; its future ends exactly once (value,
// exception or cancelled); shutdown(true) returns after every call already submitted has
// ended. Each concrete executor's destructor calls shutdown(true), Python's `with` block.
//
// Example:
//   concur::ThreadPoolExecutor pool(4);
//   concur::Executor& ex = pool;
//   concur::Future<int> f = ex.submit([](int a, int b) { return a + b; }, 1, 2);
//   for (int& v : ex.map([](int x) { return x * x; }, std::vector{1, 2, 3})) use(v);

#include <concur/errors.hpp>
#include <concur/future.hpp>

#include <concur/detail/coroutine_call.hpp>
#include <concur/detail/map_range.hpp>
#include <concur/detail/task.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

namespace concur {

/// The options of Executor::map(), always its last argument, recognised by type:
/// `ex.map(fn, xs, concur::MapOptions{.timeout = 5s, .chunksize = 100})`.
struct MapOptions {
  /// Total time for the whole map, counted from the call: dereferencing a result that is not
  /// ready by then throws TimeoutError. Python: map(timeout=).
  std::optional<std::chrono::nanoseconds> timeout{};
  /// How many calls one task carries (>= 1). Python: map(chunksize=), but in every executor.
  std::size_t chunksize = 1;
  /// How many tasks may be submitted and not yet consumed (>= 1); unset: all at the call.
  /// Python 3.14: map(buffersize=).
  std::optional<std::size_t> buffersize{};
};

/// The abstract base of every executor. Not copyable or movable.
class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  virtual ~Executor() = default;

  /// Schedules fn(args...) and returns a Future of its (decayed) result. The arguments are
  /// decay-copied, as std::thread does (std::ref passes a reference), and passed as rvalues.
  /// If fn can be called as fn(std::stop_token, args...), it is, with the token tied to its
  /// future (std::jthread's rule): Future::request_stop() asks it to stop.
  /// Throws ShutdownError after shutdown(), and the pool's BrokenExecutor subclass when it is
  /// broken. Thread-safe; may be called from inside a task. Python: submit().
  /// If fn returns a concur::Task<T> (a coroutine, see coroutine.hpp), the result is a Future<T>:
  /// the coroutine starts on a pool thread and the future finishes when the coroutine does.
  template <class F, class... Args>
  [[nodiscard]] auto submit(F&& fn, Args&&... args) {
    using R = detail::submit_result_t<F, Args...>;
    if constexpr (!detail::submittable<F, Args...>) {
      static_assert(detail::submittable<F, Args...>,
                    "concur::Executor::submit: fn cannot be called with these arguments (they are "
                    "decay-copied and passed as rvalues); check the argument types, or wrap "
                    "references in std::ref");
      return Future<void>();
    } else {  // for fn returning Task<V> (a coroutine), a Future<V>
      using V = detail::submitted_value_t<R>;
      std::shared_ptr<detail::StateBase> state;
      detail::Task task =
          detail::make_submitted_task<R>(state, std::forward<F>(fn), std::forward<Args>(args)...);
      Future<V> future = detail::FutureAccess::make<V>(std::move(state));
      submit_task(std::move(task));
      return future;
    }
  }

  /// Calls fn on the items of one or more iterables (zipped; the shortest ends it) and returns
  /// a lazy input range of the results in input order. An optional MapOptions comes last.
  /// Calls are submitted here: all of them, or `buffersize` tasks and one more per result
  /// consumed. Dereferencing blocks until that result is ready and rethrows that call's
  /// exception (iteration may go on after it); it throws TimeoutError once the options'
  /// timeout, counted from this call, has passed. Iterables passed as lvalues are referenced
  /// (they must outlive the range), temporaries are moved in. Destroying the range early
  /// cancels the calls that have not started. With buffersize set, the executor must outlive the
  /// range (it submits as you iterate); without, the range holds everything it needs.
  /// Python: map(), which stops at the first exception; this one goes on.
  template <class F, class... Ts>
  [[nodiscard]] auto map(F&& fn, Ts&&... iterables_then_options) {
    constexpr bool has_options =
        detail::last_is_map_options<MapOptions, std::remove_cvref_t<Ts>...>();
    constexpr std::size_t n = sizeof...(Ts) - (has_options ? 1 : 0);
    static_assert(n >= 1,
                  "concur::Executor::map: pass at least one iterable after fn (a vector, a list, "
                  "any range); MapOptions, if given, comes last");
    auto all = std::forward_as_tuple(std::forward<Ts>(iterables_then_options)...);
    MapOptions options;
    if constexpr (has_options) options = std::get<sizeof...(Ts) - 1>(all);
    if (options.chunksize == 0) {
      throw std::invalid_argument("concur::Executor::map: chunksize must be at least 1");
    }
    if (options.buffersize && *options.buffersize == 0) {
      throw std::invalid_argument("concur::Executor::map: buffersize must be at least 1 if set");
    }
    return make_map_range(std::forward<F>(fn), options, all, std::make_index_sequence<n>{});
  }

  /// Stops accepting calls. With cancel_futures, cancels the calls not yet started and asks
  /// the running ones that take a std::stop_token to stop (as Future::request_stop() does).
  /// With wait, blocks until every started or queued call has ended and the workers have exited.
  /// Idempotent; thread-safe. Python: shutdown(wait=True, cancel_futures=False).
  virtual void shutdown(bool wait = true, bool cancel_futures = false) = 0;

 protected:
  /// Queues a packaged call; throws ShutdownError or BrokenExecutor instead when it cannot.
  /// On throw nothing is queued.
  virtual void submit_task(detail::Task task) = 0;

  /// True where calls run in this process, sharing its memory (threads): map() may then give its
  /// tasks pointers to arrays it shares with them instead of copies of their items.
  [[nodiscard]] virtual bool shares_memory() const noexcept { return false; }

  template <class Ex, class Source>
  friend class detail::MapRange;

 private:
  template <class F, class Tuple, std::size_t... I>
  auto make_map_range(F&& fn, const MapOptions& options, Tuple& all,
                      std::index_sequence<I...> /*iterables*/) {
    constexpr bool iterables_ok =
        (std::ranges::input_range<std::remove_reference_t<std::tuple_element_t<I, Tuple>>> && ...);
    if constexpr (!iterables_ok) {
      static_assert(iterables_ok,
                    "concur::Executor::map: every argument after fn must be an iterable (a "
                    "range: vector, list, array...), except a MapOptions, which comes last");
      return 0;
    } else {
      using Source =
          detail::MapSource<std::decay_t<F>, detail::Held<std::tuple_element_t<I, Tuple>>...>;
      if constexpr (!Source::invocable) {
        static_assert(Source::invocable,
                      "concur::Executor::map: fn cannot be called with one item of each "
                      "iterable (items are decay-copied and passed as rvalues)");
        return 0;
      } else {
        static_assert(std::is_copy_constructible_v<std::decay_t<F>>,
                      "concur::Executor::map: fn must be copyable (each task gets a copy)");
        detail::Deadline deadline;
        if (options.timeout) deadline = detail::deadline_after(*options.timeout);
        return detail::MapRange<Executor, Source>(
            *this,
            Source(std::forward<F>(fn),
                   detail::Held<std::tuple_element_t<I, Tuple>>(
                       std::forward<std::tuple_element_t<I, Tuple>>(std::get<I>(all)))...),
            options.chunksize, options.buffersize, deadline);
      }
    }
  }
};

}  // namespace concur
