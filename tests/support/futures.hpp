// tests/support/futures.hpp - futures in every state, made from Promises, for the future tests.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once
#include <concur/errors.hpp>
#include <concur/future.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <vector>

#include "support/gate.hpp"

namespace concur_test {

// The WorkerCrashedError a future failed with, if that is what it failed with.
template <class T>
std::optional<concur::WorkerCrashedError> crash_of(const concur::Future<T>& f) {
  try {
    static_cast<void>(f.result());
  } catch (const concur::WorkerCrashedError& e) {
    return e;
  } catch (...) {
  }
  return std::nullopt;
}

// Stands in for the OSError of CPython's util.py: a task's own exception type.
struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The six futures of CPython's util.py (PENDING_FUTURE ... SUCCESSFUL_FUTURE), driven through a
// Promise. concur has no CANCELLED / CANCELLED_AND_NOTIFIED split: a cancelled future is done()
// at once, and "notified" is a cancelled future whose set_running_or_notify_cancel() has already
// returned false.
enum class Kind { pending, running, cancelled, cancelled_and_notified, failed, succeeded };

// A Promise<int> and its future, brought into the state `kind`; a failed one holds
// TestError("specimen failure"), a succeeded one 42.
struct Specimen {
  explicit Specimen(Kind kind) {
    switch (kind) {
      case Kind::pending:
        break;
      case Kind::running:
        (void)promise.set_running_or_notify_cancel();
        break;
      case Kind::cancelled:
        (void)future.cancel();
        break;
      case Kind::cancelled_and_notified:
        (void)future.cancel();
        (void)promise.set_running_or_notify_cancel();
        break;
      case Kind::failed:
        promise.set_exception(std::make_exception_ptr(TestError("specimen failure")));
        break;
      case Kind::succeeded:
        promise.set_result(42);
        break;
    }
  }
  // Keeps teardown quiet: resolves what the test left open and marks failures seen, since a
  // specimen is not about broken promises or unobserved failures.
  ~Specimen() {
    try {
      if (!future.done()) promise.set_result(0);
      if (future.state() == concur::FutureState::finished) (void)future.exception();
    } catch (...) {
    }
  }
  Specimen(const Specimen&) = delete;
  Specimen& operator=(const Specimen&) = delete;

  concur::Promise<int> promise;
  concur::Future<int> future = promise.get_future();
};

// Opens a gate when the scope ends, so a failed REQUIRE cannot leave pool tasks blocked forever.
struct OpenOnExit {
  Gate& gate;
  ~OpenOnExit() { gate.open(); }
};

// True if `got` holds exactly the futures of `want` (in any order), each once.
template <class F>
bool holds_exactly(const std::vector<F>& got, const std::vector<F>& want) {
  if (got.size() != want.size()) return false;
  for (const F& w : want) {
    std::size_t n = 0;
    for (const F& g : got) n += (g == w) ? 1U : 0U;
    if (n != 1) return false;
  }
  return true;
}

}  // namespace concur_test
