// concur/detail/trampoline.hpp - runs hand-offs (continuations, coroutine resumptions) one after
// another instead of one inside another.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// Completing a future runs its continuation, which completes the next future, which runs the
// next continuation... Done by plain calls, a chain of 100,000 links needs 100,000 stack frames,
// and g++ 12 does not turn those calls (or a coroutine's symmetric transfer) into tail calls
// under AddressSanitizer. trampoline_run() breaks the recursion: the outermost hand-off on a
// thread runs at once; one started while it runs is queued, and the outermost runs the queue
// after it returns. Everything still runs on the thread that completed the first future, in the
// order it was handed off.

#include <concur/detail/unique_function.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace concur::detail {

// A FIFO on a vector, not a std::deque: an empty std::deque already owns memory, and every
// thread that runs a task touches its queue; this one allocates only when something is queued.
struct TrampolineQueue {
  bool active = false;
  std::size_t head = 0;  // pending[head...] are still to run
  std::vector<UniqueFunction<void()>> pending;

  // Drops the hand-offs already run once they are most of the vector (amortised O(1)), so a
  // long chain, which queues one link while running the one before, keeps it short.
  void compact() noexcept {
    if (head == pending.size()) {
      pending.clear();
      head = 0;
    } else if (head >= 32 && 2 * head >= pending.size()) {
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
  }
};

inline TrampolineQueue& this_thread_trampoline() noexcept {
  thread_local TrampolineQueue queue;
  return queue;
}

// Runs the hand-offs queued on this thread now. Called before a thread blocks in a wait: a
// continuation that waits for a future completed by a hand-off queued behind it would
// otherwise wait forever.
inline void trampoline_drain() noexcept {
  TrampolineQueue& queue = this_thread_trampoline();
  while (queue.head < queue.pending.size()) {
    UniqueFunction<void()> next = std::move(queue.pending[queue.head]);
    ++queue.head;
    next();  // may queue more, or drain the queue itself (a wait inside it)
    queue.compact();
  }
  queue.compact();
}

// Runs fn() now if no hand-off is running on this thread, else after the running one (and the
// ones queued before fn) return. fn must not throw: a hand-off reports its own errors.
// Allocates only for a queued hand-off whose captures exceed UniqueFunction's inline buffer.
template <class F>
void trampoline_run(F&& fn) noexcept {
  TrampolineQueue& queue = this_thread_trampoline();
  if (queue.active) {
    queue.pending.emplace_back(std::forward<F>(fn));
    return;
  }
  queue.active = true;
  fn();
  trampoline_drain();
  queue.active = false;
}

// Runs fn as the outermost hand-off of this thread even if one is running already; then as
// trampoline_run. For each task an executor runs: a pool worker that blocks inside a hand-off
// runs queued tasks meanwhile (help-while-waiting), and what such a task hands off (a coroutine
// it resumes) must run before the task returns, not after the blocked hand-off, which may be
// waiting for it. Hand-offs queued before run now too, as the drain before blocking ran them.
// The stack grows by one task, as help-while-waiting grows it anyway.
template <class F>
void trampoline_run_fresh(F&& fn) noexcept {
  TrampolineQueue& queue = this_thread_trampoline();
  const bool was_active = queue.active;
  queue.active = false;
  trampoline_run(std::forward<F>(fn));
  queue.active = was_active;
}

}  // namespace concur::detail
