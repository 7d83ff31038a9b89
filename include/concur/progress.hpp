// concur/progress.hpp - Progress, a progress bar that as_completed(), map() or callbacks drive.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// A Progress counts finished calls out of a known total and shows count, percentage, rate and
// the estimated time left. On a terminal it redraws one line in place (at most every
// redraw_every); anywhere else (a file, a pipe, a CI log) it prints a plain line each time
// another plain_step_percent of the total is done, so logs stay readable.
//
// advance() is thread-safe: call it from done-callbacks, or let with_progress() call it as you
// iterate over as_completed() or map() (it counts a result once your loop body has handled it).
//
// Example:
//   concur::Progress bar(futures.size(), {.label = "download"});
//   for (concur::Future<int>& f : concur::with_progress(concur::as_completed(futures), bar)) {
//     use(f.result());
//   }
//   bar.close();  // the final line (the destructor does it too)

#include <concur/detail/config.hpp>

#if CONCUR_HAS_POSIX
#include <unistd.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace concur {

/// How a Progress shows itself. All fields have defaults: `Progress bar(n, {.label = "jobs"})`.
struct ProgressOptions {
  /// Printed before the counts.
  std::string label{};
  /// Where to print; nullptr prints nothing (count only). Default: standard output.
  std::FILE* out = stdout;
  /// true: redraw one line in place; false: plain lines; unset: true when out is a terminal.
  std::optional<bool> terminal{};
  /// Cells of the bar on a terminal.
  std::size_t width = 30;
  /// On a terminal, the least time between two redraws (the last one always shows).
  std::chrono::nanoseconds redraw_every = std::chrono::milliseconds(100);
  /// Plain lines: one each time another this many percent of the total is done (1..100).
  unsigned plain_step_percent = 10;
};

/// A thread-safe progress bar over a known number of calls. Not copyable or movable.
class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  /// A bar for `total` calls, starting its clock now. Throws std::invalid_argument for a
  /// plain_step_percent outside 1..100.
  explicit Progress(std::size_t total, ProgressOptions options = {})
      : options_(std::move(options)), total_(total), start_(Clock::now()) {
    if (options_.plain_step_percent == 0 || options_.plain_step_percent > 100) {
      throw std::invalid_argument("concur::Progress: plain_step_percent must be in 1..100");
    }
    terminal_ = options_.terminal ? *options_.terminal : is_terminal(options_.out);
    if (terminal_) draw_locked(start_);
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Shows the final state (see close()).
  ~Progress() { close(); }

  /// Counts n more calls done and redraws if it is time to. Thread-safe; never throws
  /// (a failed write to out is ignored).
  void advance(std::size_t n = 1) noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    count_ += n;
    const Clock::time_point now = Clock::now();
    if (terminal_) {
      if (count_ >= total_ || now - last_draw_ >= options_.redraw_every) draw_locked(now);
      return;
    }
    const std::size_t step = plain_step_of(count_);
    if (step > printed_step_) {
      printed_step_ = step;
      draw_locked(now);
    }
  }

  /// Shows the final state once, ending the line on a terminal; later advance() calls are
  /// ignored. Idempotent; thread-safe.
  void close() noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    closed_ = true;
    const Clock::time_point now = Clock::now();
    if (terminal_) {
      draw_locked(now);
      if (options_.out != nullptr) {
        std::fputc('\n', options_.out);
        std::fflush(options_.out);
      }
    } else if (plain_step_of(count_) > printed_step_ || count_ < total_ || total_ == 0) {
      draw_locked(now);  // the end was not shown yet (or stopped short of the total)
    }
  }

  /// Calls counted so far.
  std::size_t count() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  std::size_t total() const noexcept { return total_; }

  /// The status text as it would be printed now (without the terminal's control characters):
  /// "label [#####-----] 50/100  50%  41.2/s  ETA 1.2s".
  std::string text() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return text_locked(Clock::now());
  }

 private:
  static bool is_terminal(std::FILE* out) noexcept {
#if CONCUR_HAS_POSIX
    return out != nullptr && ::isatty(::fileno(out)) == 1;
#else
    (void)out;
    return false;
#endif
  }

  // How many whole plain steps `count` has passed (count == total is always the last step).
  std::size_t plain_step_of(std::size_t count) const noexcept {
    if (total_ == 0) return 0;
    const std::size_t steps = (100 + options_.plain_step_percent - 1) / options_.plain_step_percent;
    if (count >= total_) return steps;
    return (count * 100 / total_) / options_.plain_step_percent;
  }

  std::string text_locked(Clock::time_point now) const {
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const std::size_t shown = std::min(count_, total_);
    const double fraction =
        total_ == 0 ? 1.0 : static_cast<double>(shown) / static_cast<double>(total_);
    std::string out = options_.label;
    if (!out.empty()) out += ' ';
    if (terminal_) {
      const auto cells = static_cast<std::size_t>(fraction * static_cast<double>(options_.width));
      out += '[';
      out.append(cells, '#');
      out.append(options_.width - cells, '-');
      out += "] ";
    }
    char numbers[160];
    const double rate = seconds > 0 ? static_cast<double>(count_) / seconds : 0.0;
    int n = std::snprintf(numbers, sizeof numbers, "%zu/%zu %3d%%  %.1f/s", count_, total_,
                          static_cast<int>(fraction * 100.0), rate);
    if (n > 0) out.append(numbers, std::min(static_cast<std::size_t>(n), sizeof numbers - 1));
    if (count_ < total_ && rate > 0) {
      n = std::snprintf(numbers, sizeof numbers, "  ETA %.1fs",
                        static_cast<double>(total_ - count_) / rate);
    } else if (count_ >= total_) {
      n = std::snprintf(numbers, sizeof numbers, "  in %.1fs", seconds);
    } else {
      n = std::snprintf(numbers, sizeof numbers, "  ETA ?");
    }
    if (n > 0) out.append(numbers, std::min(static_cast<std::size_t>(n), sizeof numbers - 1));
    return out;
  }

  void draw_locked(Clock::time_point now) noexcept {
    last_draw_ = now;
    if (options_.out == nullptr) return;
    try {
      const std::string line = text_locked(now);
      if (terminal_) {
        std::fprintf(options_.out, "\r%s\x1b[K", line.c_str());  // rewrite, clear the rest
      } else {
        std::fprintf(options_.out, "%s\n", line.c_str());
      }
      std::fflush(options_.out);
    } catch (...) {  // out of memory for the line: skip this redraw
    }
  }

  ProgressOptions options_;
  std::size_t total_;
  Clock::time_point start_;
  bool terminal_ = false;
  mutable std::mutex mutex_;
  std::size_t count_ = 0;          // guarded by mutex_
  std::size_t printed_step_ = 0;   // guarded by mutex_; plain lines: the last step printed
  Clock::time_point last_draw_{};  // guarded by mutex_
  bool closed_ = false;            // guarded by mutex_
};

namespace detail {
template <class R>
using begin_t = decltype(std::declval<R&>().begin());
template <class R>
using end_t = decltype(std::declval<R&>().end());
}  // namespace detail

/// The range with_progress() returns: the same elements as the range it wraps, in the same
/// order; each step past an element counts one on the bar.
template <class R>
class WithProgress {
  using Inner = detail::begin_t<R>;
  using InnerEnd = detail::end_t<R>;

 public:
  class sentinel {
   public:
    sentinel() = default;
    /// The wrapped range's end.
    const InnerEnd& base() const noexcept { return end_; }

   private:
    friend class WithProgress;
    explicit sentinel(InnerEnd end) : end_(std::move(end)) {}
    InnerEnd end_{};
  };

  class iterator {
   public:
    using value_type = std::iter_value_t<Inner>;
    using difference_type = std::ptrdiff_t;
    using reference = std::iter_reference_t<Inner>;
    using iterator_category = std::input_iterator_tag;

    iterator() = default;
    reference operator*() const { return *it_; }
    /// Steps the wrapped range, then counts the element just left.
    iterator& operator++() {
      ++it_;
      bar_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const sentinel& b) { return a.it_ == b.base(); }

   private:
    friend class WithProgress;
    iterator(Inner it, Progress* bar) : it_(std::move(it)), bar_(bar) {}
    Inner it_{};
    Progress* bar_ = nullptr;
  };

  WithProgress(R&& range, Progress& bar) : range_(std::forward<R>(range)), bar_(&bar) {}

  iterator begin() { return iterator(range_.begin(), bar_); }
  sentinel end() { return sentinel(range_.end()); }

 private:
  R range_;  // a reference for an lvalue, the range itself for a temporary
  Progress* bar_;
};

/// Wraps a range (as_completed(...), the result of map(...), any input range) so that stepping
/// past each element advances bar: an element counts once the loop body has handled it. A
/// temporary range is moved in; an lvalue one is referenced. The bar must outlive the loop.
template <class R>
WithProgress<R> with_progress(R&& range, Progress& bar) {
  return WithProgress<R>(std::forward<R>(range), bar);
}

}  // namespace concur
