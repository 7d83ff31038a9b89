// concur/detail/map_range.hpp - the lazy, ordered range Executor::map() returns.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/errors.hpp>
#include <concur/future.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/parker.hpp>
#include <concur/detail/remote.hpp>
#include <concur/detail/task.hpp>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace concur::detail {

template <class Options, class... Ts>
constexpr bool last_is_map_options() {
  if constexpr (sizeof...(Ts) == 0) {
    return false;
  } else {
    return std::is_same_v<std::tuple_element_t<sizeof...(Ts) - 1, std::tuple<Ts...>>, Options>;
  }
}

// An iterable passed to map(): referenced when it came as an lvalue, moved in otherwise.
template <class T>
class Held;
template <class X>
class Held<X&> {
 public:
  using range_type = X;
  explicit Held(X& range) noexcept : range_(&range) {}
  X& get() noexcept { return *range_; }

 private:
  X* range_;
};
template <class X>
class Held<X&&> {
 public:
  using range_type = X;
  explicit Held(X&& range) : range_(std::move(range)) {}
  X& get() noexcept { return range_; }

 private:
  X range_;
};

template <class H>
using held_item_t = std::decay_t<std::ranges::range_reference_t<typename H::range_type>>;

template <class R>
using map_value_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

// The task of one chunk: calls fn on each item, keeping each call's value or exception, so one
// failing call does not lose the others. An empty function object, with fn and the items as
// arguments, so that any executor (a process pool too) can run it.
template <class F, class Items, class R>
struct ChunkRunner {
  ChunkResult<map_value_t<R>> operator()(Shipped<F> shipped, std::vector<Items> batch) const {
    using Result = ChunkResult<map_value_t<R>>;
    F& fn = shipped.fn;
    Result out;
    out.values.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        if constexpr (std::is_void_v<R>) {
          std::apply(fn, std::move(batch[i]));
          out.values.emplace_back();
        } else {
          out.values.emplace_back(std::apply(fn, std::move(batch[i])));
        }
      } catch (...) {
        out.values.emplace_back();  // a placeholder (or nullopt) nobody reads
        out.error_at.push_back(i);
        out.errors.push_back(std::current_exception());
      }
    }
    return out;
  }
};

// Where an in-process executor's map() keeps one iterable's items and their results: two
// arrays in one allocation (one block is what glibc's malloc keeps for the next map() of the
// same size; two were trimmed and faulted in again each time), each chunk task reading and
// writing its own span. Shared by the range and its tasks, so a task still running when the
// range goes keeps them alive. Item and Value are trivially default-constructible and
// trivially copyable: the storage holds them implicitly, uninitialised until written.
template <class Item, class Value>
class MapArrays {
  static constexpr std::size_t align = std::max(alignof(Item), alignof(Value));
  static constexpr std::size_t round_up(std::size_t bytes) {
    return (bytes + alignof(Value) - 1) / alignof(Value) * alignof(Value);
  }

 public:
  explicit MapArrays(std::size_t n)
      : block_(::operator new (round_up(n * sizeof(Item)) + n * sizeof(Value),
                               std::align_val_t{align})),
        items(static_cast<Item*>(block_)),
        results(reinterpret_cast<Value*>(static_cast<std::byte*>(block_) +
                                         round_up(n * sizeof(Item)))) {}
  MapArrays(const MapArrays&) = delete;
  MapArrays& operator=(const MapArrays&) = delete;
  ~MapArrays() { ::operator delete (block_, std::align_val_t{align}); }

 private:
  void* block_;

 public:
  Item* const items;
  Value* const results;
};

// The task of one chunk on the array path: calls fn on items[begin, begin + count) and writes
// the results in place, so its ChunkResult carries only the calls that threw (positions in the
// chunk). The loop runs without a try block per call, so the compiler may vectorise it.
template <class F, class Item, class R>
struct ArrayChunkRunner {
  using Value = map_value_t<R>;
  ChunkResult<Value> operator()(F fn, std::shared_ptr<MapArrays<Item, Value>> arrays,
                                std::size_t begin, std::size_t count) const {
    ChunkResult<Value> out;
    Item* const in = arrays->items + begin;
    Value* const results = arrays->results + begin;
    std::size_t i = 0;
    while (i < count) {
      try {
        for (; i < count; ++i) {
          if constexpr (std::is_void_v<R>) {
            std::invoke(fn, std::move(in[i]));
            results[i] = Value{};
          } else {
            results[i] = std::invoke(fn, std::move(in[i]));
          }
        }
      } catch (...) {
        results[i] = Value{};  // a placeholder nobody reads
        out.error_at.push_back(i);
        out.errors.push_back(std::current_exception());
        ++i;
      }
    }
    return out;
  }
};

// fn and the zipped iterables; hands out one tuple of (decay-copied) items at a time.
template <class F, class... H>
class MapSource {
  template <class One>
  static constexpr bool bulk_copyable =
      std::random_access_iterator<std::ranges::iterator_t<typename One::range_type>>&&
          std::sized_sentinel_for<std::ranges::sentinel_t<typename One::range_type>,
                                  std::ranges::iterator_t<typename One::range_type>>;

 public:
  using Items = std::tuple<held_item_t<H>...>;
  static constexpr bool invocable =
      std::is_invocable_v<F, held_item_t<H>...> && std::is_invocable_v<F&, held_item_t<H>...>;
  using R = call_result_t<F, held_item_t<H>...>;
  using Value = map_value_t<R>;
  using FirstItem = std::tuple_element_t<0, Items>;
  // One random-access iterable of trivially copyable items whose results are trivially
  // copyable values: an in-process executor may run map() over two flat arrays.
  static constexpr bool array_path =
      sizeof...(H) == 1 && (bulk_copyable<H> && ...) && std::is_trivially_copyable_v<FirstItem> &&
      std::is_trivially_default_constructible_v<FirstItem> &&
      std::is_same_v<typename ChunkResult<Value>::Slot, Value> &&
      std::is_trivially_copyable_v<Value> && std::is_trivially_default_constructible_v<Value>;

  explicit MapSource(F function, H... held) : fn_(std::move(function)), held_(std::move(held)...) {}

  const F& fn() const noexcept { return fn_; }

  // The next items, or nullopt once the shortest iterable has ended. REQUIRES: a stable
  // address from the first call on (the iterators point into held_).
  std::optional<Items> next() { return next_impl(std::index_sequence_for<H...>{}); }

  // REQUIRES: array_path. How many items are left.
  std::size_t remaining() {
    if (!iters_) iters_.emplace(std::ranges::begin(std::get<0>(held_).get()));
    return static_cast<std::size_t>(std::ranges::end(std::get<0>(held_).get()) -
                                    std::get<0>(*iters_));
  }

  // REQUIRES: array_path, n <= remaining(). Copies the next n items to out.
  void copy_out(std::size_t n, FirstItem* out) {
    if (!iters_) iters_.emplace(std::ranges::begin(std::get<0>(held_).get()));
    auto& it = std::get<0>(*iters_);
    std::copy(it, it + static_cast<std::ptrdiff_t>(n), out);
    it += static_cast<std::ptrdiff_t>(n);
  }

  // Appends up to n next items to out; false once the shortest iterable has ended.
  bool next_batch(std::size_t n, std::vector<Items>& out) {
    return next_batch_impl(n, out, std::index_sequence_for<H...>{});
  }

 private:
  template <std::size_t... I>
  std::optional<Items> next_impl(std::index_sequence<I...> /*unused*/) {
    if (!iters_) iters_.emplace(std::ranges::begin(std::get<I>(held_).get())...);
    auto& its = *iters_;
    const bool ended = (ended_at<I>() || ...);
    if (ended) return std::nullopt;
    std::optional<Items> out(std::in_place, *std::get<I>(its)...);
    (++std::get<I>(its), ...);
    return out;
  }

  template <std::size_t... I>
  bool next_batch_impl(std::size_t n, std::vector<Items>& out,
                       std::index_sequence<I...> /*unused*/) {
    if (!iters_) iters_.emplace(std::ranges::begin(std::get<I>(held_).get())...);
    auto& its = *iters_;
    if constexpr (sizeof...(H) == 1 && (bulk_copyable<H> && ...)) {
      // One random-access iterable whose end is a distance away: one bounds check per batch,
      // and a copy loop the compiler can vectorise.
      auto& it = std::get<0>(its);
      const auto left = static_cast<std::size_t>(std::ranges::end(std::get<0>(held_).get()) - it);
      const std::size_t take = left < n ? left : n;
      out.insert(out.end(), it, it + static_cast<std::ptrdiff_t>(take));
      it += static_cast<std::ptrdiff_t>(take);
      return take == n;
    }
    for (std::size_t k = 0; k < n; ++k) {
      if ((ended_at<I>() || ...)) return false;
      out.emplace_back(*std::get<I>(its)...);
      (++std::get<I>(its), ...);
    }
    return true;
  }

  template <std::size_t I>
  bool ended_at() {
    return std::get<I>(*iters_) == std::ranges::end(std::get<I>(held_).get());
  }

  F fn_;
  std::tuple<H...> held_;
  std::optional<std::tuple<std::ranges::iterator_t<typename H::range_type>...>> iters_;
};

// The lazy input range of results. Ex is concur::Executor (a template parameter only to break
// the include cycle).
template <class Ex, class Source>
class MapRange {
  using R = typename Source::R;
  using Value = typename Source::Value;
  using Items = typename Source::Items;
  using Chunk = ChunkResult<Value>;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  using Arrays = MapArrays<typename Source::FirstItem, Value>;

  struct Slot {
    Future<R> single;  // chunksize 1
    Future<Chunk> chunk;
    std::size_t count = 1;
    std::size_t begin = 0;  // on the array path: the chunk's first position in the arrays
    const std::shared_ptr<StateBase>& state() const {
      return single.valid() ? FutureAccess::state(single) : FutureAccess::state(chunk);
    }
  };

 public:
  class iterator {
   public:
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using reference = Value&;
    using pointer = Value*;
    using iterator_category = std::input_iterator_tag;

    iterator() noexcept = default;
    /// Blocks until this call's result is ready; rethrows its exception; TimeoutError once
    /// map's timeout has passed.
    reference operator*() const {
      if (pos_ != stop_ && window_ == range_->window_) [[likely]] {
        return Chunk::get(*pos_);  // a ready result
      }
      Value& value = range_->current();
      sync();
      return value;
    }
    pointer operator->() const { return &**this; }
    iterator& operator++() {
      // (pos_ + 1 only where the window is not empty: pos_ may be null otherwise.)
      if (pos_ != stop_ && pos_ + 1 != stop_ && window_ == range_->window_) [[likely]] {
        range_->pos_ = ++pos_;  // the next result is ready and did not throw
        return *this;
      }
      if (window_ == range_->window_) range_->pos_ = pos_;
      range_->advance();
      sync();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.at_end() == b.at_end();
    }

   private:
    friend class MapRange;
    explicit iterator(MapRange* range) noexcept : range_(range) { sync(); }
    void sync() const noexcept {
      pos_ = range_->pos_;
      stop_ = range_->stop_;
      window_ = range_->window_;
    }
    // (A stale copy may say it is not at the end when it is: dereferencing it then throws.)
    bool at_end() const noexcept {
      return range_ == nullptr || (pos_ == stop_ && range_->slots_.empty());
    }
    // A copy of the range's window of ready results, so that the loop over it keeps pos_ in a
    // register (the range's pos_ is written on each step, never read back here). window_ says
    // which window the copy is of: a stale copy of this iterator (an input iterator's old
    // copies must not be used, but must not crash) never reads memory the range has let go.
    MapRange* range_ = nullptr;
    mutable typename Chunk::Slot* pos_ = nullptr;
    mutable typename Chunk::Slot* stop_ = nullptr;
    mutable std::size_t window_ = 0;
  };

  MapRange(Ex& executor, Source source, std::size_t chunksize,
           std::optional<std::size_t> buffersize, Deadline deadline)
      : executor_(&executor),
        source_(std::make_unique<Source>(std::move(source))),
        chunksize_(chunksize),
        buffersize_(buffersize),
        deadline_(deadline) {
    try {
      if constexpr (Source::array_path) {
        if (!buffersize_ && chunksize_ > 1 && executor.shares_memory()) {
          submit_arrays();
          return;
        }
      }
      fill();
    } catch (...) {
      cancel_all();
      throw;
    }
  }

  MapRange(MapRange&&) noexcept = default;
  MapRange& operator=(MapRange&&) = delete;
  MapRange(const MapRange&) = delete;
  MapRange& operator=(const MapRange&) = delete;

  /// Cancels the calls that have not started.
  ~MapRange() { cancel_all(); }

  iterator begin() noexcept { return iterator(this); }
  iterator end() noexcept { return iterator(); }

  /// The iterator of spans(): each element is a run of consecutive results.
  class span_iterator {
   public:
    using value_type = std::span<Value>;
    using difference_type = std::ptrdiff_t;
    using reference = std::span<Value>;
    using iterator_category = std::input_iterator_tag;

    span_iterator() noexcept = default;
    /// Blocks until the next result is ready and returns it with the results after it that are
    /// ready too and did not throw (at least one result); rethrows the exception of a call that
    /// threw, as dereferencing the range's iterator does; TimeoutError once map's timeout has
    /// passed.
    reference operator*() const {
      MapRange& r = *range_;
      if (r.pos_ == r.stop_) {
        Value& first = r.current();
        if (r.pos_ == r.stop_) return {&first, 1};  // a call of its own (chunksize 1)
      }
      return {r.pos_, r.stop_};
    }
    /// Moves past the run the last dereference returned (or past the next result).
    span_iterator& operator++() {
      MapRange& r = *range_;
      if (r.pos_ != r.stop_) r.pos_ = r.stop_ - 1;  // the run's last result is the current one
      r.advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const span_iterator& a, const span_iterator& b) noexcept {
      return a.at_end() == b.at_end();
    }

   private:
    friend class MapRange;
    explicit span_iterator(MapRange* range) noexcept : range_(range) {}
    bool at_end() const noexcept {
      return range_ == nullptr || (range_->pos_ == range_->stop_ && range_->slots_.empty());
    }
    MapRange* range_ = nullptr;
  };

  /// The results a run at a time, for loops that want contiguous memory (a loop over a span
  /// vectorises; a loop over the range's iterator goes one result at a time): each element is
  /// a std::span of consecutive results that are ready and did not throw, in input order, as
  /// long as one chunk's results allow. A call that threw stands alone: dereferencing at it
  /// rethrows its exception, and iteration may go on past it. Shares its position with
  /// begin(): both consume the same results. Not for results kept in std::optional (bool, or
  /// types without a default constructor).
  class spans_view {
   public:
    span_iterator begin() const noexcept { return span_iterator(range_); }
    span_iterator end() const noexcept { return span_iterator(); }

   private:
    friend class MapRange;
    explicit spans_view(MapRange* range) noexcept : range_(range) {}
    MapRange* range_;
  };

  [[nodiscard]] spans_view spans() noexcept {
    static_assert(std::is_same_v<typename Chunk::Slot, Value>,
                  "concur::Executor::map: spans() needs results kept as plain values; bool and "
                  "types without a default constructor are kept in std::optional: iterate the "
                  "range itself");
    return spans_view(this);
  }

 private:
  void cancel_all() noexcept {
    for (Slot& slot : slots_) {
      try {
        const std::shared_ptr<StateBase>& state = slot.state();
        state->cancel(state);
      } catch (...) {  // cancel() runs callbacks, which report their own errors; nothing left
      }
    }
  }

  // Submits tasks until buffersize are in flight (all of them when it is unset).
  void fill() {
    while (!exhausted_ && (!buffersize_ || slots_.size() < *buffersize_)) submit_one();
  }

  void submit_one() {
    if (chunksize_ == 1) {
      std::optional<Items> items = source_->next();
      if (!items) {
        exhausted_ = true;
        return;
      }
      Slot slot;
      slot.single = std::apply(
          [this](auto&... xs) { return executor_->submit(source_->fn(), std::move(xs)...); },
          *items);
      slots_.push_back(std::move(slot));
      return;
    }
    std::vector<Items> batch;
    batch.reserve(chunksize_);
    if (!source_->next_batch(chunksize_, batch)) exhausted_ = true;
    if (batch.empty()) {
      exhausted_ = true;
      return;
    }
    Slot slot;
    slot.count = batch.size();
    using Runner = ChunkRunner<std::decay_t<decltype(source_->fn())>, Items, R>;
    slot.chunk = executor_->submit(
        Runner{}, Shipped<std::decay_t<decltype(source_->fn())>>{source_->fn()}, std::move(batch));
    slots_.push_back(std::move(slot));
  }

  // The array path: every item copied into one array, a chunk at a time, each chunk submitted
  // as soon as it is copied (so the workers start while the rest is copied); results land in a
  // second array. One copy per item, three allocations per map() and one task per chunk.
  void submit_arrays() {
    if constexpr (Source::array_path) {
      const std::size_t n = source_->remaining();
      exhausted_ = true;
      if (n == 0) return;
      arrays_ = std::make_shared<Arrays>(n);
      using Runner =
          ArrayChunkRunner<std::decay_t<decltype(source_->fn())>, typename Source::FirstItem, R>;
      for (std::size_t begin = 0; begin < n; begin += chunksize_) {
        const std::size_t count = std::min(chunksize_, n - begin);
        source_->copy_out(count, arrays_->items + begin);
        Slot slot;
        slot.count = count;
        slot.begin = begin;
        slot.chunk = executor_->submit(Runner{}, source_->fn(), arrays_, begin, count);
        slots_.push_back(std::move(slot));
      }
    }
  }

  Value& current() {
    if (chunk_ != nullptr) return chunk_item();  // the front chunk was found done before
    if (slots_.empty()) throw Error("concur::Executor::map: dereferencing the end of the results");
    Slot& slot = slots_.front();
    slot.state()->wait_or_throw(deadline_, "concur::Executor::map");
    if (slot.single.valid()) {
      auto& state = static_cast<State<R>&>(*FutureAccess::state(slot.single));
      if constexpr (std::is_void_v<R>) {
        state.value("concur::Executor::map");
        return unit_;
      } else {
        return state.value("concur::Executor::map");
      }
    }
    Chunk& chunk =
        static_cast<State<Chunk>&>(*FutureAccess::state(slot.chunk)).value("concur::Executor::map");
    const bool in_arrays = arrays_ != nullptr;
    if (chunk.values.size() != (in_arrays ? 0 : slot.count) ||
        chunk.errors.size() != chunk.error_at.size()) {
      throw Error("concur::Executor::map: a chunk's results do not match its calls");
    }
    chunk_ = &chunk;
    if constexpr (Source::array_path) {
      base_ = in_arrays ? arrays_->results + slot.begin : chunk.values.data();
    } else {
      base_ = chunk.values.data();
    }
    next_error_ = 0;
    while (next_error_ < chunk.error_at.size() && chunk.error_at[next_error_] < offset_) {
      ++next_error_;
    }
    error_offset_ = next_error_ < chunk.error_at.size() ? chunk.error_at[next_error_] : npos;
    open_window();
    return chunk_item();
  }

  // REQUIRES: chunk_ set, offset_ current. Lets the iterator read the results from offset_ up
  // to the next call that threw (or the chunk's end) without coming here.
  void open_window() noexcept {
    typename Chunk::Slot* const base = base_;
    const std::size_t count = slots_.front().count;
    ++window_;
    pos_ = base + offset_;
    stop_ = base + (error_offset_ < count ? error_offset_ : count);
    if (offset_ > static_cast<std::size_t>(stop_ - base)) stop_ = pos_;  // at an error: empty
  }

  // Folds a window the iterator moved through back into offset_, and closes it.
  void close_window() noexcept {
    if (pos_ != nullptr) offset_ = static_cast<std::size_t>(pos_ - base_);
    ++window_;
    pos_ = stop_ = nullptr;
  }

  // REQUIRES: chunk_ set. The result at offset_, or its call's exception.
  Value& chunk_item() {
    if (offset_ == error_offset_) std::rethrow_exception(chunk_->errors[next_error_]);
    return Chunk::get(base_[offset_]);
  }

  void advance() {
    if (slots_.empty()) return;  // past the end (a stale iterator copy): nothing to do
    close_window();
    if (offset_ == error_offset_) {  // moving past a call that threw (chunk_ is set)
      ++next_error_;
      error_offset_ = next_error_ < chunk_->error_at.size() ? chunk_->error_at[next_error_] : npos;
    }
    if (++offset_ < front_count_) {  // the next item of the same chunk
      if (chunk_ != nullptr) open_window();
      return;
    }
    if (offset_ < slots_.front().count) {
      front_count_ = slots_.front().count;
      if (chunk_ != nullptr) open_window();
      return;
    }
    slots_.pop_front();
    chunk_ = nullptr;
    base_ = nullptr;
    error_offset_ = npos;
    offset_ = 0;
    front_count_ = 0;
    if (buffersize_) fill();
  }

  Ex* executor_;
  std::unique_ptr<Source> source_;  // on the heap: its iterators must not move
  std::size_t chunksize_;
  std::optional<std::size_t> buffersize_;
  Deadline deadline_;
  std::deque<Slot> slots_;                // submitted, not consumed; front is the current result
  std::size_t offset_ = 0;                // position inside the front chunk
  std::shared_ptr<Arrays> arrays_;        // set on the array path
  Chunk* chunk_ = nullptr;                // the front chunk's results, once it was found done
  typename Chunk::Slot* base_ = nullptr;  // and where its values are (chunk_ or arrays_)
  std::size_t next_error_ = 0;            // in chunk_: the first error at or after offset_
  std::size_t error_offset_ = npos;       // chunk_->error_at[next_error_], or npos
  std::size_t front_count_ = 0;           // slots_.front().count once known, else 0
  bool exhausted_ = false;
  std::monostate unit_;  // what a void call "returns"
  // The iterator's fast path: [pos_, stop_) are results of chunk_ that are ready and did not
  // throw; pos_ is the current one. Empty (equal) whenever the slow path must decide.
  typename Chunk::Slot* pos_ = nullptr;
  typename Chunk::Slot* stop_ = nullptr;
  std::size_t window_ = 0;  // counts the windows opened and closed (see iterator::window_)
};

}  // namespace concur::detail
