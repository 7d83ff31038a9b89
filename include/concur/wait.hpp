// concur/wait.hpp - AnyFuture, wait() and as_completed() over any range of futures.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// wait() blocks until some or all of a set of futures are done; as_completed() yields them as
// they finish. Both take any range of Future<T> or AnyFuture (AnyFuture mixes result types), or
// a braced list: concur::wait({f_int, f_string}). Python: concurrent.futures.wait() and
// as_completed(), with the same return_when values and the same order (already-finished
// futures first).
//
// Neither polls: a future that completes wakes the waiting thread. Called on a worker of a
// ThreadPoolExecutor, they run that pool's queued tasks while waiting.
//
// Example:
//   std::vector<concur::Future<int>> fs = ...;
//   for (const concur::Future<int>& f : concur::as_completed(fs, std::chrono::seconds(5)))
//     std::cout << f.result() << "\n";
//   auto [done, not_done] = concur::wait(fs, concur::ReturnWhen::first_completed);

#include <concur/errors.hpp>
#include <concur/future.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/parker.hpp>
#include <concur/detail/trampoline.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur {

/// A type-erased handle to any Future<T>: the state queries, waiting, exception(), cancel() and
/// callbacks, but not the value. Built implicitly from any Future<T>; copies share one state.
class AnyFuture {
 public:
  AnyFuture() noexcept = default;
  template <class T>
  AnyFuture(const Future<T>& future)  // NOLINT(google-explicit-constructor): meant to convert
      : state_(detail::FutureAccess::state(future)) {}

  bool valid() const noexcept { return state_ != nullptr; }
  FutureState state() const { return base("concur::AnyFuture::state").state(); }
  bool done() const { return base("concur::AnyFuture::done").done(); }
  bool running() const { return state() == FutureState::running; }
  bool cancelled() const { return state() == FutureState::cancelled; }

  void wait() const { base("concur::AnyFuture::wait").wait_until(std::nullopt); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return base("concur::AnyFuture::wait_for").wait_until(detail::deadline_after(timeout));
  }
  template <class C, class D>
  bool wait_until(std::chrono::time_point<C, D> deadline) const {
    return base("concur::AnyFuture::wait_until").wait_until(detail::to_deadline(deadline));
  }

  /// As Future<T>::exception(): blocks, null on success, CancelledError if cancelled.
  std::exception_ptr exception() const { return exception_until(std::nullopt); }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return exception_until(detail::deadline_after(timeout));
  }

  /// As Future<T>::cancel().
  bool cancel() const { return base("concur::AnyFuture::cancel").cancel(state_); }

  /// As Future<T>::request_stop().
  bool request_stop() const { return base("concur::AnyFuture::request_stop").request_stop(); }

  /// As Future<T>::add_done_callback(), with fn(const AnyFuture&).
  template <class F>
  void add_done_callback(F&& fn) const {
    static_assert(std::is_invocable_v<std::decay_t<F>&, const AnyFuture&>,
                  "concur::AnyFuture::add_done_callback: fn must be callable as "
                  "fn(const concur::AnyFuture&)");
    base("concur::AnyFuture::add_done_callback")
        .add_callback(state_, [fn = std::forward<F>(fn)](
                                  const std::shared_ptr<detail::StateBase>& state) mutable {
          AnyFuture self;
          self.state_ = state;
          std::invoke(fn, std::as_const(self));
        });
  }

  friend bool operator==(const AnyFuture& a, const AnyFuture& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  friend struct detail::FutureAccess;

  detail::StateBase& base(const char* caller) const {
    if (!state_) detail::throw_invalid_handle(caller);
    return *state_;
  }
  std::exception_ptr exception_until(const detail::Deadline& deadline) const {
    detail::StateBase& s = base("concur::AnyFuture::exception");
    s.wait_or_throw(deadline, "concur::AnyFuture::exception");
    return s.observe_error();
  }

  std::shared_ptr<detail::StateBase> state_;
};

/// When wait() returns. Python: FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED.
enum class ReturnWhen {
  first_completed,  ///< when any future is done (finished or cancelled)
  first_exception,  ///< when any future finishes with an exception; else as all_completed
  all_completed,    ///< when every future is done
};

/// What wait() returns: the futures done when it returned, and the others. Each future appears
/// once, in the order of its first occurrence in the input. Python: DoneAndNotDoneFutures.
template <class F>
struct WaitResult {
  std::vector<F> done;
  std::vector<F> not_done;
};

namespace detail {

template <class F>
struct is_future_handle : std::false_type {};
template <class T>
struct is_future_handle<Future<T>> : std::true_type {};
template <>
struct is_future_handle<AnyFuture> : std::true_type {};

template <class Range>
using range_handle_t = std::remove_cvref_t<decltype(*std::begin(std::declval<const Range&>()))>;

template <class Range>
constexpr bool is_future_range() {
  if constexpr (requires(const Range& r) {
                  std::begin(r);
                  std::end(r);
                }) {
    return is_future_handle<range_handle_t<Range>>::value;
  } else {
    return false;
  }
}

// The distinct futures of a range, in order of first occurrence; empty handles are refused.
// A map from states to indexes (which futures were seen, where each one is): open addressing
// in one array, so that 100,000 futures cost one allocation, not one each.
class StateIndex {
 public:
  // Room for `expected` entries; no more may be inserted.
  explicit StateIndex(std::size_t expected) {
    std::size_t capacity = 16;
    while (capacity < 2 * expected) capacity *= 2;
    slots_.assign(capacity, Entry{});
  }

  // Adds state -> index; false (and nothing changed) if state is already there.
  bool insert(const StateBase* state, std::size_t index) {
    Entry& e = find(state);
    if (e.state == state) return false;
    e = Entry{state, index};
    return true;
  }

  // REQUIRES: state was inserted.
  std::size_t at(const StateBase* state) const { return find(state).index; }

  bool contains(const StateBase* state) const { return find(state).state == state; }

 private:
  struct Entry {
    const StateBase* state = nullptr;
    std::size_t index = 0;
  };

  // The entry of state, or the empty entry where it would go.
  Entry& find(const StateBase* state) const {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = (reinterpret_cast<std::uintptr_t>(state) >> 4) * 0x9E3779B97F4A7C15ULL >> 20;
    for (i &= mask;; i = (i + 1) & mask) {
      Entry& e = slots_[i];
      if (e.state == state || e.state == nullptr) return e;
    }
  }

  mutable std::vector<Entry> slots_;
};

template <class F, class Range>
std::vector<F> unique_futures(const Range& futures, const char* caller) {
  std::vector<F> out;
  std::size_t count = 0;
  if constexpr (std::ranges::sized_range<const Range>) {
    count = static_cast<std::size_t>(std::ranges::size(futures));
  } else {
    for (const auto& f : futures) {
      static_cast<void>(f);
      ++count;
    }
  }
  out.reserve(count);
  StateIndex seen(count);
  for (const auto& f : futures) {
    const std::shared_ptr<StateBase>& state = FutureAccess::state(f);
    if (!state) throw_invalid_handle(caller);
    if (seen.insert(state.get(), out.size())) out.push_back(f);
  }
  return out;
}

// Counts the futures that become done, for wait().
class DoneCounter final : public Waiter {
 public:
  void notify(StateBase& state) noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    count_locked(state);
    if (parker_ != nullptr) parker_->unpark();
  }
  void count_done(const StateBase& state) {
    std::lock_guard<std::mutex> lock(mutex_);
    count_locked(state);
  }
  void set_parker(Parker* parker) {
    std::lock_guard<std::mutex> lock(mutex_);
    parker_ = parker;
  }
  bool satisfied(ReturnWhen when, std::size_t total) {
    std::lock_guard<std::mutex> lock(mutex_);
    switch (when) {
      case ReturnWhen::first_completed:
        return done_ > 0 || total == 0;
      case ReturnWhen::first_exception:
        return failed_ || done_ == total;
      case ReturnWhen::all_completed:
        return done_ == total;
    }
    return true;
  }

 private:
  void count_locked(const StateBase& state) {
    ++done_;
    if (state.state() == FutureState::finished && state.error_unobserved()) failed_ = true;
  }

  std::mutex mutex_;
  std::size_t done_ = 0;      // guarded by mutex_
  bool failed_ = false;       // guarded by mutex_
  Parker* parker_ = nullptr;  // guarded by mutex_
};

template <class F>
WaitResult<F> split_done(std::vector<F>& futures) {
  WaitResult<F> result;
  for (F& f : futures) {
    (FutureAccess::state(f)->done() ? result.done : result.not_done).push_back(std::move(f));
  }
  return result;
}

template <class F>
WaitResult<F> wait_impl(std::vector<F> futures, const Deadline& deadline, ReturnWhen when) {
  if (when == ReturnWhen::all_completed ||
      (when == ReturnWhen::first_exception && futures.size() <= 1)) {
    // All of them: waiting for each in turn takes as long as waiting for all at once, and
    // registers with one future at a time.
    for (const F& f : futures) {
      if (!FutureAccess::state(f)->wait_until(deadline)) break;
    }
    return split_done(futures);
  }
  DoneCounter counter;
  counter.set_parker(&this_thread_parker());
  std::vector<const StateBase*> registered;
  registered.reserve(futures.size());
  struct Unregister {
    std::vector<const StateBase*>& states;
    DoneCounter& counter;
    ~Unregister() {
      for (const StateBase* s : states) s->remove_waiter(&counter);
    }
  } unregister{registered, counter};

  for (const F& f : futures) {
    const StateBase& state = *FutureAccess::state(f);
    if (state.add_waiter(&counter)) {
      registered.push_back(&state);
    } else {
      counter.count_done(state);
    }
  }
  // Looked up only by a worker whose helping nests deep (see WorkHelper): built then.
  std::optional<StateIndex> awaited;
  auto wanted = [&](const StateBase* queued) {
    if (!awaited) {
      awaited.emplace(registered.size());
      for (std::size_t i = 0; i < registered.size(); ++i) awaited->insert(registered[i], i);
    }
    return awaited->contains(queued);
  };
  block_until([&] { return counter.satisfied(when, futures.size()); }, wanted, deadline);
  return split_done(futures);
}

}  // namespace detail

/// Blocks until the futures satisfy `when` (default: all done) and returns them split into done
/// and not done. Duplicates count once. On a pool worker, runs that pool's queued tasks while it
/// waits. Throws InvalidStateError for an empty handle. Python: concurrent.futures.wait().
template <class Range>
auto wait(const Range& futures, ReturnWhen when = ReturnWhen::all_completed) {
  static_assert(detail::is_future_range<Range>(),
                "concur::wait: pass a range of concur::Future<T> or concur::AnyFuture");
  using F = detail::range_handle_t<Range>;
  return detail::wait_impl(detail::unique_futures<F>(futures, "concur::wait"), std::nullopt, when);
}

/// As wait(futures, when), but returns when `timeout` has passed even if `when` is not
/// satisfied (no exception: look at not_done), as Python does.
template <class Range, class Rep, class Period>
auto wait(const Range& futures, std::chrono::duration<Rep, Period> timeout,
          ReturnWhen when = ReturnWhen::all_completed) {
  static_assert(detail::is_future_range<Range>(),
                "concur::wait: pass a range of concur::Future<T> or concur::AnyFuture");
  using F = detail::range_handle_t<Range>;
  return detail::wait_impl(detail::unique_futures<F>(futures, "concur::wait"),
                           detail::deadline_after(timeout), when);
}

/// wait() over a braced list of futures of any types: concur::wait({f1, f2}).
inline WaitResult<AnyFuture> wait(std::initializer_list<AnyFuture> futures,
                                  ReturnWhen when = ReturnWhen::all_completed) {
  return detail::wait_impl(detail::unique_futures<AnyFuture>(futures, "concur::wait"), std::nullopt,
                           when);
}
template <class Rep, class Period>
WaitResult<AnyFuture> wait(std::initializer_list<AnyFuture> futures,
                           std::chrono::duration<Rep, Period> timeout,
                           ReturnWhen when = ReturnWhen::all_completed) {
  return detail::wait_impl(detail::unique_futures<AnyFuture>(futures, "concur::wait"),
                           detail::deadline_after(timeout), when);
}

/// The input range as_completed() returns: each distinct future once, those already done at
/// the call first (in input order), then the others in the order they complete. begin() and
/// ++it block until the next future is done and throw TimeoutError when the timeout, counted
/// from the as_completed() call, expires first. Move it only before calling begin().
template <class F>
class AsCompleted {
 public:
  class iterator {
   public:
    using value_type = F;
    using difference_type = std::ptrdiff_t;
    using reference = const F&;
    using pointer = const F*;
    using iterator_category = std::input_iterator_tag;

    iterator() noexcept = default;
    reference operator*() const { return range_->current(); }
    pointer operator->() const { return &**this; }
    iterator& operator++() {
      if (!range_->advance()) range_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return (a.range_ == nullptr) == (b.range_ == nullptr);
    }

   private:
    friend class AsCompleted;
    explicit iterator(AsCompleted* range) noexcept : range_(range) {}
    AsCompleted* range_ = nullptr;  // nullptr: the end
  };

  AsCompleted(std::vector<F> futures, detail::Deadline deadline)
      : futures_(std::move(futures)),
        deadline_(deadline),
        queue_(std::make_unique<Queue>(futures_.size())),
        registered_(futures_.size(), false),
        position_(futures_.size()) {
    for (std::size_t i = 0; i < futures_.size(); ++i) {
      const detail::StateBase* state = detail::FutureAccess::state(futures_[i]).get();
      if (state->add_waiter(queue_.get())) {
        registered_[i] = true;
        position_.insert(state, i);
      } else {
        already_done_.push_back(i);
      }
    }
  }

  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) = delete;
  AsCompleted(const AsCompleted&) = delete;
  AsCompleted& operator=(const AsCompleted&) = delete;

  ~AsCompleted() {
    if (!queue_) return;  // moved from
    for (std::size_t i = 0; i < futures_.size(); ++i) {
      if (registered_[i]) detail::FutureAccess::state(futures_[i])->remove_waiter(queue_.get());
    }
  }

  /// Blocks until the next future is done (throws TimeoutError as ++it does). Calling it again
  /// returns an iterator to the same future.
  iterator begin() {
    if (current_ == npos && !advance()) return end();
    return iterator(this);
  }
  iterator end() noexcept { return iterator(); }

  /// How many futures have not been yielded yet.
  std::size_t remaining() const noexcept { return futures_.size() - yielded_; }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // Collects the futures that complete after the call, in completion order. Its storage is
  // reserved up front (each registered future notifies once), so notify() never allocates.
  class Queue final : public detail::Waiter {
   public:
    explicit Queue(std::size_t capacity) { ready_.reserve(capacity); }
    void notify(detail::StateBase& state) noexcept override {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.push_back(&state);
      if (parker_ != nullptr) parker_->unpark();
    }
    void set_parker(detail::Parker* parker) {
      std::lock_guard<std::mutex> lock(mutex_);
      parker_ = parker;
    }
    bool has_ready() {
      std::lock_guard<std::mutex> lock(mutex_);
      return next_ < ready_.size();
    }
    // REQUIRES: has_ready().
    const detail::StateBase* pop() {
      std::lock_guard<std::mutex> lock(mutex_);
      return ready_[next_++];
    }

   private:
    std::mutex mutex_;
    std::vector<const detail::StateBase*> ready_;  // guarded by mutex_
    std::size_t next_ = 0;                         // guarded by mutex_
    detail::Parker* parker_ = nullptr;             // guarded by mutex_
  };

  const F& current() const {
    if (current_ == npos) {
      throw InvalidStateError(
          "concur::as_completed: no current future (the last begin() or ++ threw TimeoutError, "
          "or the range is exhausted); increment again to keep waiting");
    }
    return futures_[current_];
  }

  // Moves current_ to the next future to yield; false when all have been yielded. The range
  // lets go of the future it yielded before (as Python's as_completed does), so a long
  // iteration does not keep every result alive.
  bool advance() {
    if (current_ != npos) {
      futures_[current_] = F();
      current_ = npos;
    }
    if (yielded_ == futures_.size()) return false;
    if (next_already_done_ < already_done_.size()) {
      current_ = already_done_[next_already_done_++];
    } else {
      queue_->set_parker(&detail::this_thread_parker());
      const bool ready = detail::block_until(
          [this] { return queue_->has_ready(); },
          [this](const detail::StateBase* queued) { return position_.contains(queued); },
          deadline_);
      queue_->set_parker(nullptr);
      if (!ready) {
        throw TimeoutError("concur::as_completed: " + std::to_string(remaining()) + " (of " +
                           std::to_string(futures_.size()) +
                           ") futures unfinished when the timeout expired");
      }
      current_ = position_.at(queue_->pop());
      registered_[current_] = false;  // it was notified, so no longer registered
    }
    ++yielded_;
    return true;
  }

  std::vector<F> futures_;
  detail::Deadline deadline_;
  std::unique_ptr<Queue> queue_;  // on the heap: its address is registered with the futures
  std::vector<bool> registered_;  // futures_[i] has queue_ registered as a waiter
  std::vector<std::size_t> already_done_;
  std::size_t next_already_done_ = 0;
  std::size_t yielded_ = 0;
  std::size_t current_ = npos;
  detail::StateIndex position_;  // of registered futures
};

/// Yields each distinct future of the range as it completes (those already done first).
/// Python: concurrent.futures.as_completed().
template <class Range>
auto as_completed(const Range& futures) {
  static_assert(detail::is_future_range<Range>(),
                "concur::as_completed: pass a range of concur::Future<T> or concur::AnyFuture");
  using F = detail::range_handle_t<Range>;
  return AsCompleted<F>(detail::unique_futures<F>(futures, "concur::as_completed"), std::nullopt);
}

/// As as_completed(futures); begin() and ++it throw TimeoutError once `timeout`, counted from
/// this call, has passed with futures still unfinished.
template <class Range, class Rep, class Period>
auto as_completed(const Range& futures, std::chrono::duration<Rep, Period> timeout) {
  static_assert(detail::is_future_range<Range>(),
                "concur::as_completed: pass a range of concur::Future<T> or concur::AnyFuture");
  using F = detail::range_handle_t<Range>;
  const detail::Clock::time_point deadline = detail::deadline_after(timeout);
  return AsCompleted<F>(detail::unique_futures<F>(futures, "concur::as_completed"), deadline);
}

/// as_completed() over a braced list of futures of any types.
inline AsCompleted<AnyFuture> as_completed(std::initializer_list<AnyFuture> futures) {
  return AsCompleted<AnyFuture>(detail::unique_futures<AnyFuture>(futures, "concur::as_completed"),
                                std::nullopt);
}
template <class Rep, class Period>
AsCompleted<AnyFuture> as_completed(std::initializer_list<AnyFuture> futures,
                                    std::chrono::duration<Rep, Period> timeout) {
  const detail::Clock::time_point deadline = detail::deadline_after(timeout);
  return AsCompleted<AnyFuture>(detail::unique_futures<AnyFuture>(futures, "concur::as_completed"),
                                deadline);
}

// --- when_all and when_any (beyond Python) -------------------------------------------------------
// Futures of a set of futures, built from done-callbacks: no thread blocks while they wait, so
// they may be called anywhere, a pool's only worker included. They are here, not in future.hpp,
// because their mixed-type forms use AnyFuture.

/// What when_any() finishes with: the position of the first input to be done (in the argument
/// list or the range, duplicates included) and a handle to it.
template <class F>
struct WhenAny {
  std::size_t index;
  F future;
};

namespace detail {

// The state of when_all's future: holds the inputs and finishes with them once the last is
// done. `remaining` starts one above the number of inputs: when_all() itself drops the extra
// count after registering every callback, so an input already done cannot finish it early.
template <class Held>
class WhenAllState final : public State<Held> {
 public:
  WhenAllState(Held futures, std::size_t count)
      : futures_(std::move(futures)), remaining_(count + 1) {}

  // One input (or when_all's own count) is done.
  static void arrive(const std::shared_ptr<StateBase>& self) noexcept {
    auto& me = static_cast<WhenAllState&>(*self);
    if (me.remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    trampoline_run([self]() noexcept {
      auto& all = static_cast<WhenAllState&>(*self);
      try {
        all.set_value(self, std::move(all.futures_));
      } catch (...) {
        all.set_exception(self, std::current_exception());
      }
    });
  }

  // Counts `input` once it is done (at once if it already is).
  static void watch(const std::shared_ptr<StateBase>& self,
                    const std::shared_ptr<StateBase>& input) {
    input->add_callback(
        input, [self](const std::shared_ptr<StateBase>& /*done*/) noexcept { arrive(self); });
  }

 private:
  Held futures_;  // read only by the last arrival
  std::atomic<std::size_t> remaining_;
};

// The state of when_any's future: the first input to be done wins; the others' callbacks find
// `fired_` set and do nothing. The winner lets go of the other inputs at once.
template <class F>
class WhenAnyState final : public State<WhenAny<F>> {
 public:
  explicit WhenAnyState(std::vector<F> futures) : futures_(std::move(futures)) {}

  static void watch(const std::shared_ptr<StateBase>& self, const std::shared_ptr<StateBase>& input,
                    std::size_t index) {
    input->add_callback(input, [self, index](const std::shared_ptr<StateBase>& /*done*/) noexcept {
      auto& me = static_cast<WhenAnyState&>(*self);
      if (me.fired_.exchange(true, std::memory_order_acq_rel)) return;
      trampoline_run([self, index]() noexcept {
        auto& any = static_cast<WhenAnyState&>(*self);
        try {
          F winner = std::move(any.futures_[index]);
          any.futures_.clear();
          any.set_value(self, WhenAny<F>{index, std::move(winner)});
        } catch (...) {
          any.set_exception(self, std::current_exception());
        }
      });
    });
  }

 private:
  std::vector<F> futures_;  // touched only by the winner, once
  std::atomic<bool> fired_{false};
};

template <class... Fs>
inline constexpr bool all_future_handles_v = (is_future_handle<Fs>::value && ...);

// Future<T> if every argument is a Future<T>, else AnyFuture.
template <class F, class... Fs>
struct WhenAnyHandle {
  using type = std::conditional_t<(std::is_same_v<F, Fs> && ...), F, AnyFuture>;
};

template <class F>
const std::shared_ptr<StateBase>& checked_state(const F& future, const char* caller) {
  const std::shared_ptr<StateBase>& state = FutureAccess::state(future);
  if (!state) throw_invalid_handle(caller);
  return state;
}

}  // namespace detail

/// A future that finishes, never failing, once every argument is done (finished or cancelled),
/// with a tuple of the arguments' handles: look at each for its value, error or cancellation.
/// Done at once if every argument is (and for no argument). Duplicates are fine. Throws
/// InvalidStateError for an empty handle.
///
///   auto all = concur::when_all(pool.submit(count_words), pool.submit(load_config));
///   all.then([](const std::tuple<concur::Future<int>, concur::Future<Config>>& r) { ... });
template <class... Fs>
requires detail::all_future_handles_v<Fs...> Future<std::tuple<Fs...>> when_all(
    const Fs&... futures) {
  (static_cast<void>(detail::checked_state(futures, "concur::when_all")), ...);
  using Held = std::tuple<Fs...>;
  using S = detail::WhenAllState<Held>;
  std::shared_ptr<detail::StateBase> state = std::make_shared<S>(Held(futures...), sizeof...(Fs));
  (S::watch(state, detail::FutureAccess::state(futures)), ...);
  S::arrive(state);  // when_all's own count
  return detail::FutureAccess::make<Held>(std::move(state));
}

/// As when_all(f1, f2, ...) over a range of Future<T> or AnyFuture: finishes, never failing,
/// once every element is done, with a vector of the elements in range order (duplicates kept).
/// An empty range gives a future that is already finished with an empty vector.
template <class Range>
requires(detail::is_future_range<Range>())
    Future<std::vector<detail::range_handle_t<Range>>> when_all(const Range& futures) {
  using F = detail::range_handle_t<Range>;
  using Held = std::vector<F>;
  using S = detail::WhenAllState<Held>;
  Held held;
  for (const auto& f : futures) {
    detail::checked_state(f, "concur::when_all");
    held.push_back(f);
  }
  std::vector<std::shared_ptr<detail::StateBase>> inputs;
  inputs.reserve(held.size());
  for (const F& f : held) inputs.push_back(detail::FutureAccess::state(f));
  std::shared_ptr<detail::StateBase> state = std::make_shared<S>(std::move(held), inputs.size());
  for (const std::shared_ptr<detail::StateBase>& input : inputs) S::watch(state, input);
  S::arrive(state);  // when_all's own count
  return detail::FutureAccess::make<Held>(std::move(state));
}

/// A future that finishes, never failing, when the first argument is done (finished or
/// cancelled), with its position and handle: WhenAny<F>{index, future}, F being Future<T> when
/// every argument is a Future<T>, else AnyFuture. If several are done already, the first of
/// them in argument order wins. Throws InvalidStateError for an empty handle.
template <class... Fs>
requires detail::all_future_handles_v<Fs...>
auto when_any(const Fs&... futures) {
  static_assert(sizeof...(Fs) > 0, "concur::when_any: pass at least one future");
  if constexpr (sizeof...(Fs) == 0) {
    return Future<WhenAny<AnyFuture>>();
  } else {
    using F = typename detail::WhenAnyHandle<Fs...>::type;
    using S = detail::WhenAnyState<F>;
    (static_cast<void>(detail::checked_state(futures, "concur::when_any")), ...);
    std::shared_ptr<detail::StateBase> state = std::make_shared<S>(std::vector<F>{F(futures)...});
    std::size_t index = 0;
    (S::watch(state, detail::FutureAccess::state(futures), index++), ...);
    return detail::FutureAccess::make<WhenAny<F>>(std::move(state));
  }
}

/// As when_any(f1, f2, ...) over a range of Future<T> or AnyFuture; index is the position in
/// the range (the first one, for a future that appears twice). Throws std::invalid_argument for
/// an empty range: no element could ever be first.
template <class Range>
requires(detail::is_future_range<Range>()) Future<WhenAny<detail::range_handle_t<Range>>> when_any(
    const Range& futures) {
  using F = detail::range_handle_t<Range>;
  using S = detail::WhenAnyState<F>;
  std::vector<F> held;
  for (const auto& f : futures) {
    detail::checked_state(f, "concur::when_any");
    held.push_back(f);
  }
  if (held.empty()) {
    throw std::invalid_argument(
        "concur::when_any: the range is empty, so no future can ever be first; check for an "
        "empty range before calling");
  }
  std::vector<std::shared_ptr<detail::StateBase>> inputs;
  inputs.reserve(held.size());
  for (const F& f : held) inputs.push_back(detail::FutureAccess::state(f));
  std::shared_ptr<detail::StateBase> state = std::make_shared<S>(std::move(held));
  for (std::size_t i = 0; i < inputs.size(); ++i) S::watch(state, inputs[i], i);
  return detail::FutureAccess::make<WhenAny<F>>(std::move(state));
}

}  // namespace concur
