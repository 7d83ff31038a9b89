// tests/test_future.cpp - Future<T> and Promise<T>: states, results, callbacks, failure handlers.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/futures.hpp"
#include "support/gate.hpp"

namespace {

using namespace std::chrono_literals;
using concur::FutureState;
using namespace concur_test;  // support/futures.hpp

std::exception_ptr test_error(const char* what) {
  return std::make_exception_ptr(TestError(what));
}

// what() of the TestError inside e; "<not a TestError>" for anything else, "<null>" for null.
std::string test_error_what(const std::exception_ptr& e) {
  if (!e) return "<null>";
  try {
    std::rethrow_exception(e);
  } catch (const TestError& error) {
    return error.what();
  } catch (...) {
    return "<not a TestError>";
  }
}

// True if e holds an exception of type E.
template <class E>
bool holds(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Records every exception_ptr a handler receives; usable from any thread.
class Reports {
 public:
  concur::FailureHandler handler() {
    return [this](std::exception_ptr e) {
      std::lock_guard<std::mutex> lock(mutex_);
      seen_.push_back(std::move(e));
    };
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.size();
  }
  std::exception_ptr last() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.empty() ? nullptr : seen_.back();
  }

 private:
  std::mutex mutex_;
  std::vector<std::exception_ptr> seen_;  // guarded by mutex_
};

// Installs a handler for the scope and puts the previous one (normally the default) back.
class ScopedUnobservedHandler {
 public:
  explicit ScopedUnobservedHandler(concur::FailureHandler handler)
      : previous_(concur::set_unobserved_failure_handler(std::move(handler))) {}
  ~ScopedUnobservedHandler() { concur::set_unobserved_failure_handler(std::move(previous_)); }
  ScopedUnobservedHandler(const ScopedUnobservedHandler&) = delete;
  ScopedUnobservedHandler& operator=(const ScopedUnobservedHandler&) = delete;

 private:
  concur::FailureHandler previous_;
};

class ScopedCallbackErrorHandler {
 public:
  explicit ScopedCallbackErrorHandler(concur::FailureHandler handler)
      : previous_(concur::set_callback_error_handler(std::move(handler))) {}
  ~ScopedCallbackErrorHandler() { concur::set_callback_error_handler(std::move(previous_)); }
  ScopedCallbackErrorHandler(const ScopedCallbackErrorHandler&) = delete;
  ScopedCallbackErrorHandler& operator=(const ScopedCallbackErrorHandler&) = delete;

 private:
  concur::FailureHandler previous_;
};

// Redirects file descriptor 2 into a temporary file until finish() (CPython's captured_stderr).
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    std::cerr.flush();
    file_ = std::tmpfile();
    saved_fd_ = ::dup(2);
    if (file_ != nullptr && saved_fd_ >= 0) ::dup2(::fileno(file_), 2);
  }
  ~StderrCapture() { (void)finish(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Restores stderr and returns everything written to it meanwhile.
  std::string finish() {
    if (finished_) return text_;
    finished_ = true;
    std::fflush(stderr);
    std::cerr.flush();
    if (saved_fd_ >= 0) {
      ::dup2(saved_fd_, 2);
      ::close(saved_fd_);
    }
    if (file_ != nullptr) {
      std::rewind(file_);
      char buffer[512];
      std::size_t n = 0;
      while ((n = std::fread(buffer, 1, sizeof buffer, file_)) > 0) text_.append(buffer, n);
      std::fclose(file_);
    }
    return text_;
  }

 private:
  std::FILE* file_ = nullptr;
  int saved_fd_ = -1;
  bool finished_ = false;
  std::string text_;
};

// A value type without a default constructor (as std::future allows).
struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  int value;
};

// Counts how many of its instances are alive.
struct Tracked {
  explicit Tracked(std::atomic<int>& live) : live_(&live) { live_->fetch_add(1); }
  Tracked(const Tracked& other) : live_(other.live_) { live_->fetch_add(1); }
  Tracked& operator=(const Tracked& other) = default;
  ~Tracked() { live_->fetch_sub(1); }
  std::atomic<int>* live_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Done-callbacks (test_future.py: FutureTests.test_done_callback_*)
// ---------------------------------------------------------------------------------------------

// test_future.py: FutureTests.test_done_callback_with_result
TEST_CASE("a done-callback added before set_result() sees the result", "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  int seen = 0;
  future.add_done_callback([&](const concur::Future<int>& g) { seen = g.result(); });
  CHECK(seen == 0);
  promise.set_result(5);
  CHECK(seen == 5);
}

// test_future.py: FutureTests.test_done_callback_with_exception
TEST_CASE("a done-callback added before set_exception() sees the exception", "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::exception_ptr seen;
  future.add_done_callback([&](const concur::Future<int>& g) { seen = g.exception(); });
  promise.set_exception(test_error("test"));
  CHECK(test_error_what(seen) == "test");
}

// test_future.py: FutureTests.test_done_callback_with_cancel
TEST_CASE("a done-callback added before cancel() sees the future cancelled",
          "[future][callback][cancel]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  bool was_cancelled = false;
  future.add_done_callback([&](const concur::Future<int>& g) { was_cancelled = g.cancelled(); });
  CHECK(future.cancel());
  CHECK(was_cancelled);
}

// test_future.py: FutureTests.test_done_callback_raises
TEST_CASE(
    "an exception escaping a done-callback goes to the callback error handler and the next "
    "callback still runs",
    "[future][callback][handler]") {
  Reports reports;
  ScopedCallbackErrorHandler guard(reports.handler());
  concur::Promise<int> promise;
  auto future = promise.get_future();
  bool raising_was_called = false;
  bool fn_was_called = false;
  future.add_done_callback([&](const concur::Future<int>&) {
    raising_was_called = true;
    throw TestError("doh!");
  });
  future.add_done_callback([&](const concur::Future<int>&) { fn_was_called = true; });
  REQUIRE_NOTHROW(promise.set_result(5));
  CHECK(raising_was_called);
  CHECK(fn_was_called);
  REQUIRE(reports.count() == 1);
  CHECK(test_error_what(reports.last()) == "doh!");
  CHECK(future.result() == 5);
}

// test_future.py: FutureTests.test_done_callback_raises (the stderr half)
TEST_CASE("by default an exception escaping a done-callback is written to stderr",
          "[future][callback][handler]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  bool next_ran = false;
  future.add_done_callback([](const concur::Future<int>&) { throw TestError("doh-default!"); });
  future.add_done_callback([&](const concur::Future<int>&) { next_ran = true; });
  StderrCapture capture;
  promise.set_result(5);
  const std::string text = capture.finish();
  CHECK_THAT(text, ContainsSubstring("doh-default!"));
  CHECK(next_ran);
}

// test_future.py: FutureTests.test_done_callback_already_successful
TEST_CASE("a done-callback added to a finished future runs at once and sees the result",
          "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_result(5);
  int seen = 0;
  future.add_done_callback([&](const concur::Future<int>& g) { seen = g.result(); });
  CHECK(seen == 5);
}

// test_future.py: FutureTests.test_done_callback_already_failed
TEST_CASE("a done-callback added to a failed future runs at once and sees the exception",
          "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_exception(test_error("test"));
  std::exception_ptr seen;
  future.add_done_callback([&](const concur::Future<int>& g) { seen = g.exception(); });
  CHECK(test_error_what(seen) == "test");
}

// test_future.py: FutureTests.test_done_callback_already_cancelled
TEST_CASE("a done-callback added to a cancelled future runs at once and sees it cancelled",
          "[future][callback][cancel]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  CHECK(future.cancel());
  bool was_cancelled = false;
  future.add_done_callback([&](const concur::Future<int>& g) { was_cancelled = g.cancelled(); });
  CHECK(was_cancelled);
}

// test_future.py: FutureTests.test_done_callback_raises_already_succeeded
TEST_CASE(
    "an exception escaping a callback that add_done_callback() runs at once goes to the "
    "handler, not to the caller",
    "[future][callback][handler]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_result(5);
  auto raising = [](const concur::Future<int>&) { throw TestError("doh!"); };

  SECTION("a handler that was set receives the exception") {
    Reports reports;
    ScopedCallbackErrorHandler guard(reports.handler());
    REQUIRE_NOTHROW(future.add_done_callback(raising));
    REQUIRE(reports.count() == 1);
    CHECK(test_error_what(reports.last()) == "doh!");
  }
  SECTION("the default handler writes it to stderr") {
    StderrCapture capture;
    REQUIRE_NOTHROW(future.add_done_callback(raising));
    CHECK_THAT(capture.finish(), ContainsSubstring("doh!"));
  }
}

TEST_CASE("done-callbacks run exactly once, in the order they were added", "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) {
    future.add_done_callback([&order, i](const concur::Future<int>&) { order.push_back(i); });
  }
  CHECK(order.empty());
  promise.set_result(1);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  REQUIRE_THROWS_AS(promise.set_result(2), concur::InvalidStateError);
  CHECK_FALSE(future.cancel());
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("cancelling twice runs the done-callbacks once", "[future][callback][cancel]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  int calls = 0;
  future.add_done_callback([&](const concur::Future<int>&) { ++calls; });
  CHECK(future.cancel());
  CHECK(future.cancel());
  CHECK_FALSE(promise.set_running_or_notify_cancel());
  CHECK(calls == 1);
}

TEST_CASE("a done-callback runs in the thread that completes the future", "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::thread::id ran_on;
  future.add_done_callback(
      [&](const concur::Future<int>&) { ran_on = std::this_thread::get_id(); });
  std::thread completer([&] { promise.set_result(1); });
  const std::thread::id completer_id = completer.get_id();
  completer.join();
  CHECK(ran_on == completer_id);
  CHECK(ran_on != std::this_thread::get_id());
}

TEST_CASE("a done-callback added to a done future runs in the caller's thread",
          "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::thread completer([&] { promise.set_result(1); });
  completer.join();
  std::thread::id ran_on;
  future.add_done_callback(
      [&](const concur::Future<int>&) { ran_on = std::this_thread::get_id(); });
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("a done-callback receives a handle to the same, already final, future",
          "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  bool same = false;
  FutureState seen_state = FutureState::pending;
  future.add_done_callback([&](const concur::Future<int>& g) {
    same = (g == future);
    seen_state = g.state();
  });
  promise.set_result(3);
  CHECK(same);
  CHECK(seen_state == FutureState::finished);
}

TEST_CASE("a done-callback may add another done-callback to the same future, which runs at once",
          "[future][callback]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::vector<std::string> order;
  future.add_done_callback([&](const concur::Future<int>& g) {
    order.push_back("outer");
    g.add_done_callback([&](const concur::Future<int>&) { order.push_back("inner"); });
    order.push_back("outer done");
  });
  promise.set_result(1);
  CHECK(order == std::vector<std::string>{"outer", "inner", "outer done"});
}

TEST_CASE("a done-callback sees everything the completing thread wrote before set_result()",
          "[future][callback][threads]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  int plain = 0;  // written before set_result(), read by the callback (TSan checks)
  std::thread setter([&] {
    plain = 11;
    promise.set_result(1);
  });
  int seen = 0;
  // Races with the setter on purpose: the callback runs in the setter's thread or, if the
  // future is already done, in this one; either way it must see plain == 11.
  future.add_done_callback([&](const concur::Future<int>&) { seen = plain; });
  setter.join();
  CHECK(seen == 11);
}

TEST_CASE("an exception escaping a done-callback on a pool worker does not reach the pool",
          "[future][callback][handler][thread_pool]") {
  Reports reports;
  ScopedCallbackErrorHandler guard(reports.handler());
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  OpenOnExit opener{gate};
  auto held = pool.submit([&gate] {
    gate.wait();
    return 1;
  });
  bool second_ran = false;
  held.add_done_callback([](const concur::Future<int>&) { throw TestError("from a worker"); });
  held.add_done_callback([&](const concur::Future<int>&) { second_ran = true; });
  gate.open();
  CHECK(held.result(60s) == 1);
  auto next = pool.submit([] { return 2; });
  CHECK(next.result(60s) == 2);
  pool.shutdown(true);
  CHECK(second_ran);
  REQUIRE(reports.count() == 1);
  CHECK(test_error_what(reports.last()) == "from a worker");
}

TEST_CASE("a callback error handler sees only the callbacks' exceptions, never the task's",
          "[future][callback][handler]") {
  Reports reports;
  ScopedCallbackErrorHandler guard(reports.handler());
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::exception_ptr seen;
  future.add_done_callback([&](const concur::Future<int>& g) { seen = g.exception(); });
  promise.set_exception(test_error("task failure"));
  CHECK(reports.count() == 0);
  CHECK(test_error_what(seen) == "task failure");
}

TEST_CASE(
    "set_callback_error_handler() returns the previous handler and an empty one restores "
    "the default",
    "[future][callback][handler]") {
  Reports first;
  Reports second;
  ScopedCallbackErrorHandler guard({});  // puts the default back even if a REQUIRE fails
  concur::FailureHandler original = concur::set_callback_error_handler(first.handler());
  CHECK_FALSE(static_cast<bool>(original));  // the default is reported as an empty handler
  concur::FailureHandler previous = concur::set_callback_error_handler(second.handler());
  REQUIRE(static_cast<bool>(previous));
  previous(test_error("to the first"));
  CHECK(first.count() == 1);
  CHECK(second.count() == 0);
  concur::FailureHandler restored = concur::set_callback_error_handler(std::move(original));
  REQUIRE(static_cast<bool>(restored));
  restored(test_error("to the second"));
  CHECK(second.count() == 1);

  // The default is back: a raising callback goes to stderr, not to either recorder.
  concur::Promise<int> promise;
  auto future = promise.get_future();
  future.add_done_callback([](const concur::Future<int>&) { throw TestError("back to default"); });
  StderrCapture capture;
  promise.set_result(1);
  CHECK_THAT(capture.finish(), ContainsSubstring("back to default"));
  CHECK(first.count() == 1);
  CHECK(second.count() == 1);
}

// ---------------------------------------------------------------------------------------------
// States (test_future.py: test_cancel, test_cancelled, test_done, test_running)
// ---------------------------------------------------------------------------------------------

// test_future.py: FutureTests.test_cancel
TEST_CASE(
    "cancel() follows Python: true for pending and cancelled, false for running and "
    "finished",
    "[future][cancel]") {
  Specimen f1(Kind::pending);
  Specimen f2(Kind::running);
  Specimen f3(Kind::cancelled);
  Specimen f4(Kind::cancelled_and_notified);
  Specimen f5(Kind::failed);
  Specimen f6(Kind::succeeded);

  CHECK(f1.future.cancel());
  CHECK(f1.future.state() == FutureState::cancelled);

  CHECK_FALSE(f2.future.cancel());
  CHECK(f2.future.state() == FutureState::running);

  CHECK(f3.future.cancel());
  CHECK(f3.future.state() == FutureState::cancelled);

  CHECK(f4.future.cancel());
  CHECK(f4.future.state() == FutureState::cancelled);

  CHECK_FALSE(f5.future.cancel());
  CHECK(f5.future.state() == FutureState::finished);

  CHECK_FALSE(f6.future.cancel());
  CHECK(f6.future.state() == FutureState::finished);
  CHECK(f6.future.result() == 42);
}

// test_future.py: FutureTests.test_cancelled, test_done, test_running (and test_repr's states)
TEST_CASE("state(), cancelled(), done() and running() agree with each of the four states",
          "[future][state]") {
  struct Row {
    Kind kind;
    FutureState state;
    bool cancelled, done, running;
  };
  const Row rows[] = {
      {Kind::pending, FutureState::pending, false, false, false},
      {Kind::running, FutureState::running, false, false, true},
      {Kind::cancelled, FutureState::cancelled, true, true, false},
      {Kind::cancelled_and_notified, FutureState::cancelled, true, true, false},
      {Kind::failed, FutureState::finished, false, true, false},
      {Kind::succeeded, FutureState::finished, false, true, false},
  };
  for (const Row& row : rows) {
    CAPTURE(static_cast<int>(row.kind));
    Specimen s(row.kind);
    CHECK(s.future.valid());
    CHECK(s.future.state() == row.state);
    CHECK(s.future.cancelled() == row.cancelled);
    CHECK(s.future.done() == row.done);
    CHECK(s.future.running() == row.running);
  }
}

TEST_CASE("a future moves pending -> running -> finished", "[future][state]") {
  concur::Promise<std::string> promise;
  auto future = promise.get_future();
  CHECK(future.state() == FutureState::pending);
  CHECK(promise.set_running_or_notify_cancel());
  CHECK(future.state() == FutureState::running);
  CHECK(future.running());
  CHECK_FALSE(future.done());
  promise.set_result("done");
  CHECK(future.state() == FutureState::finished);
  CHECK_FALSE(future.running());
  CHECK(future.result() == "done");
}

// ---------------------------------------------------------------------------------------------
// result() and exception() (test_future.py: test_result_*, test_exception_*)
// ---------------------------------------------------------------------------------------------

// test_future.py: FutureTests.test_result_with_timeout
TEST_CASE("result() with a zero timeout: TimeoutError while not done, else the outcome",
          "[future][result][timeout]") {
  Specimen pending(Kind::pending);
  Specimen running(Kind::running);
  Specimen cancelled(Kind::cancelled);
  Specimen notified(Kind::cancelled_and_notified);
  Specimen failed(Kind::failed);
  Specimen succeeded(Kind::succeeded);

  REQUIRE_THROWS_AS(pending.future.result(0s), concur::TimeoutError);
  REQUIRE_THROWS_AS(running.future.result(0s), concur::TimeoutError);
  REQUIRE_THROWS_AS(cancelled.future.result(0s), concur::CancelledError);
  REQUIRE_THROWS_AS(notified.future.result(0s), concur::CancelledError);
  REQUIRE_THROWS_AS(failed.future.result(0s), TestError);
  CHECK(succeeded.future.result(0s) == 42);
}

TEST_CASE(
    "result(timeout) throws TimeoutError while the promise is unresolved, then returns the "
    "value",
    "[future][result][timeout]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  const auto start = std::chrono::steady_clock::now();
  REQUIRE_THROWS_AS(future.result(50ms), concur::TimeoutError);
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  CHECK(future.state() == FutureState::pending);
  promise.set_result(1);
  CHECK(future.result() == 1);
}

// test_future.py: FutureTests.test_result_with_success
TEST_CASE("result() blocks until another thread sets the result", "[future][result]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  int written_before = 0;  // plain data: set_result() must publish it (TSan checks)
  std::thread setter([&] {
    written_before = 7;
    promise.set_result(42);
  });
  CHECK(future.result(60s) == 42);
  CHECK(written_before == 7);
  setter.join();
}

// test_future.py: FutureTests.test_result_with_cancel
TEST_CASE("result() throws CancelledError when another thread cancels the future",
          "[future][result][cancel]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::atomic<bool> cancel_returned{false};
  std::thread canceller([&cancel_returned, copy = future] { cancel_returned = copy.cancel(); });
  REQUIRE_THROWS_AS(future.result(60s), concur::CancelledError);
  canceller.join();
  CHECK(cancel_returned.load());
  CHECK_FALSE(promise.set_running_or_notify_cancel());
}

// test_future.py: FutureTests.test_exception_with_timeout
TEST_CASE("exception() with a zero timeout: TimeoutError while not done, else the outcome",
          "[future][exception][timeout]") {
  Specimen pending(Kind::pending);
  Specimen running(Kind::running);
  Specimen cancelled(Kind::cancelled);
  Specimen notified(Kind::cancelled_and_notified);
  Specimen failed(Kind::failed);
  Specimen succeeded(Kind::succeeded);

  REQUIRE_THROWS_AS(pending.future.exception(0s), concur::TimeoutError);
  REQUIRE_THROWS_AS(running.future.exception(0s), concur::TimeoutError);
  REQUIRE_THROWS_AS(cancelled.future.exception(0s), concur::CancelledError);
  REQUIRE_THROWS_AS(notified.future.exception(0s), concur::CancelledError);
  CHECK(test_error_what(failed.future.exception(0s)) == "specimen failure");
  CHECK(succeeded.future.exception(0s) == nullptr);
}

// test_future.py: FutureTests.test_exception_with_success
TEST_CASE("exception() blocks until another thread sets the exception", "[future][exception]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::thread setter([&] { promise.set_exception(test_error("from another thread")); });
  CHECK(test_error_what(future.exception(60s)) == "from another thread");
  setter.join();
}

TEST_CASE("result() rethrows the task's exception every time it is called",
          "[future][result][exception]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_exception(test_error("again"));
  REQUIRE_THROWS_AS(future.result(), TestError);
  REQUIRE_THROWS_WITH(future.result(), "again");
  CHECK(holds<TestError>(future.exception()));
}

TEST_CASE("result() can be called again and again and refers to one shared value",
          "[future][result]") {
  concur::Promise<std::string> promise;
  auto future = promise.get_future();
  const concur::Future<std::string> copy = future;
  promise.set_result("shared");
  CHECK(future.result() == "shared");
  CHECK(future.result() == "shared");
  CHECK(&future.result() == &copy.result());
  CHECK(future.exception() == nullptr);
}

TEST_CASE("exception() on a cancelled future throws CancelledError", "[future][exception]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  CHECK(future.cancel());
  REQUIRE_THROWS_AS(future.exception(), concur::CancelledError);
  REQUIRE_THROWS_AS(future.result(), concur::CancelledError);
}

// test_future.py: FutureTests.test_get_snapshot (its concurrent half: readers of a finished future)
TEST_CASE("many threads reading a finished future all see the same outcome",
          "[future][result][threads]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_result(100);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&mismatches, copy = future] {
      for (int i = 0; i < 1000; ++i) {
        if (!copy.done() || copy.cancelled() || copy.result() != 100 ||
            copy.exception() != nullptr) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (auto& reader : readers) reader.join();
  CHECK(mismatches.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// wait(), wait_for(), wait_until()
// ---------------------------------------------------------------------------------------------

TEST_CASE("wait_for() and wait_until() return false while pending and true once done",
          "[future][wait]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  CHECK_FALSE(future.wait_for(0s));
  CHECK_FALSE(future.wait_for(20ms));
  CHECK_FALSE(future.wait_until(std::chrono::steady_clock::now() + 20ms));
  CHECK_FALSE(future.wait_until(std::chrono::steady_clock::now() - 1s));
  promise.set_result(1);
  CHECK(future.wait_for(0s));
  CHECK(future.wait_until(std::chrono::steady_clock::now() - 1s));
  future.wait();
}

TEST_CASE("wait() returns once another thread resolves the future", "[future][wait]") {
  const int outcome = GENERATE(0, 1, 2);  // result, exception, cancel
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::thread resolver([&] {
    if (outcome == 0) promise.set_result(1);
    if (outcome == 1) promise.set_exception(test_error("waited"));
    if (outcome == 2) (void)future.cancel();
  });
  future.wait();
  CHECK(future.done());
  CHECK(future.wait_for(0s));
  resolver.join();
  if (outcome == 1) CHECK(holds<TestError>(future.exception()));
}

TEST_CASE("wait_until() accepts a system_clock deadline", "[future][wait]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  CHECK_FALSE(future.wait_until(std::chrono::system_clock::now() + 20ms));
  CHECK_FALSE(future.wait_until(std::chrono::system_clock::now() - 1h));
  promise.set_result(1);
  CHECK(future.wait_until(std::chrono::system_clock::now() - 1h));
}

TEST_CASE("a timeout may be any duration type and a negative one acts as zero",
          "[future][timeout]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  REQUIRE_THROWS_AS(future.result(std::chrono::duration<double>(0.02)), concur::TimeoutError);
  REQUIRE_THROWS_AS(future.result(-1s), concur::TimeoutError);
  REQUIRE_THROWS_AS(future.exception(std::chrono::duration<float, std::milli>(-5.0f)),
                    concur::TimeoutError);
  CHECK_FALSE(future.wait_for(std::chrono::microseconds(-100)));
  promise.set_result(5);
  CHECK(future.result(-1s) == 5);
  CHECK(future.result(std::chrono::duration<double>(0.0)) == 5);
  CHECK(future.wait_for(-1h));
}

TEST_CASE("result(), exception() and wait_for() with a huge timeout wait without limit",
          "[future][timeout]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  std::thread setter([&] { promise.set_result(3); });
  CHECK(future.result(std::chrono::hours::max()) == 3);
  CHECK(future.wait_for(std::chrono::nanoseconds::max()));
  CHECK(future.exception(std::chrono::duration<double>(1e300)) == nullptr);
  CHECK(future.wait_until(std::chrono::steady_clock::time_point::max()));
  setter.join();
}

TEST_CASE("a cancelled future is done for wait_for()", "[future][wait][cancel]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  CHECK(future.cancel());
  CHECK(future.wait_for(0s));
}

// ---------------------------------------------------------------------------------------------
// Promise (test_future.py: test_multiple_set_*), set_running_or_notify_cancel, BrokenPromise
// ---------------------------------------------------------------------------------------------

// test_future.py: FutureTests.test_multiple_set_result
TEST_CASE("set_result() twice throws InvalidStateError and keeps the first result",
          "[future][promise]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_result(1);
  REQUIRE_THROWS_AS(promise.set_result(2), concur::InvalidStateError);
  REQUIRE_THROWS_WITH(promise.set_result(2), ContainsSubstring("Promise::set_result"));
  CHECK(future.done());
  CHECK(future.result() == 1);
}

// test_future.py: FutureTests.test_multiple_set_exception
TEST_CASE("set_exception() twice throws InvalidStateError and keeps the first exception",
          "[future][promise]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_exception(test_error("first"));
  REQUIRE_THROWS_AS(promise.set_exception(test_error("second")), concur::InvalidStateError);
  REQUIRE_THROWS_WITH(promise.set_exception(test_error("second")),
                      ContainsSubstring("Promise::set_exception"));
  CHECK(test_error_what(future.exception()) == "first");
}

TEST_CASE("mixing set_result() and set_exception() keeps the first outcome", "[future][promise]") {
  SECTION("result first") {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    promise.set_result(1);
    REQUIRE_THROWS_AS(promise.set_exception(test_error("late")), concur::InvalidStateError);
    CHECK(future.result() == 1);
    CHECK(future.exception() == nullptr);
  }
  SECTION("exception first") {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    promise.set_exception(test_error("early"));
    REQUIRE_THROWS_AS(promise.set_result(1), concur::InvalidStateError);
    CHECK(test_error_what(future.exception()) == "early");
  }
}

TEST_CASE("resolving a cancelled future throws InvalidStateError and it stays cancelled",
          "[future][promise][cancel]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  int calls = 0;
  future.add_done_callback([&](const concur::Future<int>&) { ++calls; });
  CHECK(future.cancel());
  REQUIRE_THROWS_AS(promise.set_result(1), concur::InvalidStateError);
  REQUIRE_THROWS_AS(promise.set_exception(test_error("late")), concur::InvalidStateError);
  CHECK(future.cancelled());
  CHECK(calls == 1);
}

TEST_CASE(
    "set_running_or_notify_cancel(): pending -> running, cancelled -> false, else "
    "InvalidStateError",
    "[future][promise]") {
  SECTION("pending") {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    CHECK(promise.set_running_or_notify_cancel());
    CHECK(future.state() == FutureState::running);
    CHECK_FALSE(future.cancel());
    promise.set_result(1);
    CHECK(future.result() == 1);
  }
  SECTION("cancelled") {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    CHECK(future.cancel());
    CHECK_FALSE(promise.set_running_or_notify_cancel());
    CHECK(future.state() == FutureState::cancelled);
  }
  SECTION("running") {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    CHECK(promise.set_running_or_notify_cancel());
    REQUIRE_THROWS_AS(promise.set_running_or_notify_cancel(), concur::InvalidStateError);
    REQUIRE_THROWS_WITH(promise.set_running_or_notify_cancel(),
                        ContainsSubstring("Promise::set_running_or_notify_cancel"));
    CHECK(future.state() == FutureState::running);
    promise.set_result(1);
  }
  SECTION("finished") {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    promise.set_result(1);
    REQUIRE_THROWS_AS(promise.set_running_or_notify_cancel(), concur::InvalidStateError);
    CHECK(future.result() == 1);
  }
}

TEST_CASE("a promise may be resolved from the pending state without running first",
          "[future][promise]") {
  concur::Promise<int> promise;
  auto future = promise.get_future();
  promise.set_result(9);
  CHECK(future.state() == FutureState::finished);
  CHECK(future.result() == 9);
}

TEST_CASE("get_future() may be called more than once and all futures share one state",
          "[future][promise]") {
  concur::Promise<int> promise;
  auto a = promise.get_future();
  auto b = promise.get_future();
  CHECK(a == b);
  CHECK(a.cancel());
  CHECK(b.cancelled());
}

TEST_CASE("copies of a future share one state and futures of different promises differ",
          "[future]") {
  concur::Promise<int> p1;
  concur::Promise<int> p2;
  auto f1 = p1.get_future();
  const concur::Future<int> copy = f1;
  auto f2 = p2.get_future();
  CHECK(copy == f1);
  CHECK_FALSE(f1 == f2);
  p1.set_result(4);
  CHECK(copy.done());
  CHECK(copy.result() == 4);
  CHECK_FALSE(f2.done());
  p2.set_result(0);
}

TEST_CASE("a promise destroyed unresolved fails its future with BrokenPromise",
          "[future][promise][broken]") {
  const bool started = GENERATE(false, true);
  concur::Future<int> future;
  int callbacks = 0;
  {
    concur::Promise<int> promise;
    future = promise.get_future();
    future.add_done_callback([&](const concur::Future<int>&) { ++callbacks; });
    if (started) CHECK(promise.set_running_or_notify_cancel());
  }
  REQUIRE(future.done());  // else result() below would block forever
  CHECK(future.state() == FutureState::finished);
  CHECK(callbacks == 1);
  REQUIRE_THROWS_AS(future.result(), concur::BrokenPromise);
  CHECK(holds<concur::BrokenPromise>(future.exception()));
  CHECK(holds<concur::Error>(future.exception()));
}

TEST_CASE("a promise destroyed after it resolved, or after a cancel, leaves the outcome alone",
          "[future][promise][broken]") {
  concur::Future<int> succeeded;
  concur::Future<int> cancelled;
  {
    concur::Promise<int> p1;
    concur::Promise<int> p2;
    succeeded = p1.get_future();
    cancelled = p2.get_future();
    p1.set_result(3);
    CHECK(cancelled.cancel());
  }
  CHECK(succeeded.result() == 3);
  CHECK(cancelled.cancelled());
  REQUIRE_THROWS_AS(cancelled.result(), concur::CancelledError);
}

TEST_CASE("a moved-from promise does not break the future when destroyed",
          "[future][promise][broken]") {
  std::optional<concur::Promise<int>> target;
  concur::Future<int> future;
  {
    concur::Promise<int> source;
    future = source.get_future();
    target.emplace(std::move(source));
  }
  CHECK(future.state() == FutureState::pending);
  target->set_result(8);
  CHECK(future.result() == 8);
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<concur::Promise<int>>);
  STATIC_REQUIRE(std::is_move_constructible_v<concur::Promise<int>>);
}

// ---------------------------------------------------------------------------------------------
// void, move-only and unusual T; take()
// ---------------------------------------------------------------------------------------------

TEST_CASE("Future<void>: result() returns once set_result() is called, and rethrows failures",
          "[future][void]") {
  SECTION("success") {
    concur::Promise<void> promise;
    concur::Future<void> future = promise.get_future();
    STATIC_REQUIRE(std::is_void_v<decltype(future.result())>);
    CHECK_FALSE(future.wait_for(0s));
    std::thread setter([&] { promise.set_result(); });
    REQUIRE_NOTHROW(future.result());
    setter.join();
    CHECK(future.exception() == nullptr);
    CHECK(future.state() == FutureState::finished);
    REQUIRE_THROWS_AS(promise.set_result(), concur::InvalidStateError);
  }
  SECTION("failure") {
    concur::Promise<void> promise;
    concur::Future<void> future = promise.get_future();
    promise.set_exception(test_error("void failure"));
    REQUIRE_THROWS_AS(future.result(), TestError);
    REQUIRE_THROWS_AS(future.result(0s), TestError);
  }
  SECTION("timeout and cancel") {
    concur::Promise<void> promise;
    concur::Future<void> future = promise.get_future();
    REQUIRE_THROWS_AS(future.result(10ms), concur::TimeoutError);
    bool called = false;
    future.add_done_callback([&](const concur::Future<void>& g) { called = g.cancelled(); });
    CHECK(future.cancel());
    CHECK(called);
    REQUIRE_THROWS_AS(future.result(), concur::CancelledError);
  }
}

TEST_CASE("a move-only result is readable through result() and moved out once by take()",
          "[future][take][move_only]") {
  concur::Promise<std::unique_ptr<int>> promise;
  concur::Future<std::unique_ptr<int>> future = promise.get_future();
  promise.set_result(std::make_unique<int>(5));
  STATIC_REQUIRE(std::is_same_v<decltype(future.result()), const std::unique_ptr<int>&>);
  REQUIRE(future.result() != nullptr);
  CHECK(*future.result() == 5);
  std::unique_ptr<int> taken = future.take();
  REQUIRE(taken != nullptr);
  CHECK(*taken == 5);
  REQUIRE_THROWS_AS(future.result(), concur::InvalidStateError);
  REQUIRE_THROWS_WITH(future.result(), ContainsSubstring("Future::result"));
  REQUIRE_THROWS_AS(future.take(), concur::InvalidStateError);
  REQUIRE_THROWS_WITH(future.take(), ContainsSubstring("Future::take"));
}

TEST_CASE("take() on one copy empties the value for every copy", "[future][take]") {
  concur::Promise<std::string> promise;
  auto future = promise.get_future();
  const concur::Future<std::string> copy = future;
  promise.set_result(std::string(100, 'x'));  // long enough to live on the heap
  CHECK(future.take() == std::string(100, 'x'));
  REQUIRE_THROWS_AS(copy.result(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(copy.result(0s), concur::InvalidStateError);
  CHECK(copy.done());
  CHECK(copy.state() == FutureState::finished);
}

TEST_CASE("take() blocks until the result is set", "[future][take]") {
  concur::Promise<std::unique_ptr<int>> promise;
  concur::Future<std::unique_ptr<int>> future = promise.get_future();
  std::thread setter([&] { promise.set_result(std::make_unique<int>(11)); });
  std::unique_ptr<int> taken = future.take();
  setter.join();
  REQUIRE(taken != nullptr);
  CHECK(*taken == 11);
}

TEST_CASE("take() rethrows the task's exception and throws CancelledError when cancelled",
          "[future][take]") {
  SECTION("failed") {
    concur::Promise<std::unique_ptr<int>> promise;
    concur::Future<std::unique_ptr<int>> future = promise.get_future();
    promise.set_exception(test_error("no value"));
    REQUIRE_THROWS_AS(future.take(), TestError);
    CHECK(test_error_what(future.exception()) == "no value");
  }
  SECTION("cancelled") {
    concur::Promise<std::unique_ptr<int>> promise;
    concur::Future<std::unique_ptr<int>> future = promise.get_future();
    CHECK(future.cancel());
    REQUIRE_THROWS_AS(future.take(), concur::CancelledError);
  }
}

TEST_CASE("set_result() moves a move-only value into the future", "[future][move_only]") {
  concur::Promise<std::unique_ptr<int>> promise;
  concur::Future<std::unique_ptr<int>> future = promise.get_future();
  auto value = std::make_unique<int>(3);
  int* const address = value.get();
  promise.set_result(std::move(value));
  CHECK(future.result().get() == address);
  bool seen = false;
  future.add_done_callback(
      [&](const concur::Future<std::unique_ptr<int>>& g) { seen = (*g.result() == 3); });
  CHECK(seen);
}

TEST_CASE("a value type without a default constructor works", "[future][value]") {
  concur::Promise<NoDefault> promise;
  concur::Future<NoDefault> future = promise.get_future();
  CHECK_FALSE(future.done());
  promise.set_result(NoDefault(6));
  CHECK(future.result().value == 6);
  CHECK(future.take().value == 6);
}

TEST_CASE("the value is destroyed with the last handle", "[future][value]") {
  std::atomic<int> live{0};
  {
    concur::Future<Tracked> future;
    {
      concur::Promise<Tracked> promise;
      future = promise.get_future();
      promise.set_result(Tracked(live));
    }
    CHECK(live.load() == 1);
    const concur::Future<Tracked> copy = future;
    CHECK(live.load() == 1);
  }
  CHECK(live.load() == 0);
}

// ---------------------------------------------------------------------------------------------
// Invalid handles
// ---------------------------------------------------------------------------------------------

TEST_CASE("a default-constructed future is invalid and its calls throw InvalidStateError",
          "[future][invalid]") {
  concur::Future<int> future;
  CHECK_FALSE(future.valid());
  REQUIRE_THROWS_AS(future.state(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.done(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.result(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.result(0s), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.exception(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.cancel(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.wait(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.take(), concur::InvalidStateError);
  REQUIRE_THROWS_AS(future.add_done_callback([](const concur::Future<int>&) {}),
                    concur::InvalidStateError);

  concur::Promise<int> promise;
  future = promise.get_future();
  CHECK(future.valid());
  promise.set_result(1);
}

// test_future.py: FutureTests.test_class_str (the error classes, as a hierarchy)
TEST_CASE("every concur error derives from concur::Error and std::runtime_error",
          "[future][errors]") {
  STATIC_REQUIRE(std::is_base_of_v<std::runtime_error, concur::Error>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::CancelledError>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::TimeoutError>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::InvalidStateError>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::BrokenPromise>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::ShutdownError>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::BrokenExecutor>);
  STATIC_REQUIRE(std::is_base_of_v<concur::BrokenExecutor, concur::BrokenThreadPool>);
  STATIC_REQUIRE(std::is_base_of_v<concur::BrokenExecutor, concur::BrokenProcessPool>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::WorkerCrashedError>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::RemoteError>);
  STATIC_REQUIRE(std::is_base_of_v<concur::Error, concur::CodecError>);
  const concur::TimeoutError error("concur::Future::result: timed out");
  CHECK(std::string(error.what()) == "concur::Future::result: timed out");
}

// ---------------------------------------------------------------------------------------------
// Unobserved failures
// ---------------------------------------------------------------------------------------------

TEST_CASE("a failed future dropped without being observed is reported once",
          "[future][unobserved]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  {
    concur::Future<int> future;
    {
      concur::Promise<int> promise;
      future = promise.get_future();
      promise.set_exception(test_error("nobody looked"));
    }
    // Waiting and querying the state are not observing the failure.
    future.wait();
    CHECK(future.done());
    CHECK(future.state() == FutureState::finished);
    CHECK(reports.count() == 0);
  }
  REQUIRE(reports.count() == 1);
  CHECK(test_error_what(reports.last()) == "nobody looked");
}

TEST_CASE("only dropping the last copy of an unobserved failed future reports it",
          "[future][unobserved]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  std::optional<concur::Future<int>> a;
  std::optional<concur::Future<int>> b;
  {
    concur::Promise<int> promise;
    a = promise.get_future();
    b = *a;
    promise.set_exception(test_error("two copies"));
  }
  CHECK(reports.count() == 0);
  a.reset();
  CHECK(reports.count() == 0);
  b.reset();
  CHECK(reports.count() == 1);
}

TEST_CASE("a failure set after every future handle was dropped is reported",
          "[future][unobserved]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  {
    concur::Promise<int> promise;
    (void)promise.get_future();
    CHECK(promise.set_running_or_notify_cancel());
    promise.set_exception(test_error("fire and forget"));
  }
  REQUIRE(reports.count() == 1);
  CHECK(test_error_what(reports.last()) == "fire and forget");
}

TEST_CASE("an unobserved BrokenPromise is reported when its future is dropped",
          "[future][unobserved][broken]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  {
    concur::Future<int> future;
    {
      concur::Promise<int> promise;
      future = promise.get_future();
    }
    CHECK(future.done());
    CHECK(reports.count() == 0);
  }
  REQUIRE(reports.count() == 1);
  CHECK(holds<concur::BrokenPromise>(reports.last()));
}

TEST_CASE("an unobserved failure whose last handle is dropped on another thread is reported once",
          "[future][unobserved][threads]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  concur::Future<int> future;
  {
    concur::Promise<int> promise;
    future = promise.get_future();
    promise.set_exception(test_error("dropped elsewhere"));
  }
  std::thread dropper([moved = std::move(future)]() mutable { moved = concur::Future<int>(); });
  dropper.join();
  REQUIRE(reports.count() == 1);
  CHECK(test_error_what(reports.last()) == "dropped elsewhere");
}

TEST_CASE("an observed failure is not reported", "[future][unobserved]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  {
    concur::Promise<std::unique_ptr<int>> promise;
    concur::Future<std::unique_ptr<int>> future = promise.get_future();
    const concur::Future<std::unique_ptr<int>> copy = future;
    promise.set_exception(test_error("seen"));

    SECTION("by result()") {
      REQUIRE_THROWS_AS(future.result(), TestError);
    }
    SECTION("by result(timeout)") {
      REQUIRE_THROWS_AS(future.result(1s), TestError);
    }
    SECTION("by take()") {
      REQUIRE_THROWS_AS(future.take(), TestError);
    }
    SECTION("by exception()") {
      CHECK(future.exception() != nullptr);
    }
    SECTION("by exception(timeout)") {
      CHECK(future.exception(1s) != nullptr);
    }
    SECTION("through another copy") {
      CHECK(copy.exception() != nullptr);
    }
  }
  CHECK(reports.count() == 0);
}

TEST_CASE("a failure observed inside a done-callback is not reported", "[future][unobserved]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  bool saw = false;
  {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    future.add_done_callback([&](const concur::Future<int>& g) { saw = g.exception() != nullptr; });
    promise.set_exception(test_error("seen by a callback"));
  }
  CHECK(saw);
  CHECK(reports.count() == 0);
}

TEST_CASE("successful and cancelled futures are never reported as unobserved failures",
          "[future][unobserved]") {
  Reports reports;
  ScopedUnobservedHandler guard(reports.handler());
  {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    promise.set_result(1);
  }
  {
    concur::Promise<void> promise;
    (void)promise.get_future();
    promise.set_result();
  }
  {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    CHECK(future.cancel());
  }
  {
    concur::Promise<int> promise;
    auto future = promise.get_future();
    CHECK(future.cancel());
    CHECK_FALSE(promise.set_running_or_notify_cancel());
  }
  CHECK(reports.count() == 0);
}

TEST_CASE("by default an unobserved failure is written to stderr with its what()",
          "[future][unobserved]") {
  StderrCapture capture;
  {
    concur::Promise<int> promise;
    (void)promise.get_future();
    promise.set_exception(test_error("lost failure 4711"));
  }
  const std::string text = capture.finish();
  CHECK_THAT(text, ContainsSubstring("lost failure 4711"));
}

TEST_CASE(
    "set_unobserved_failure_handler() returns the previous handler and an empty one "
    "restores the default",
    "[future][unobserved][handler]") {
  Reports first;
  Reports second;
  ScopedUnobservedHandler guard({});  // puts the default back even if a REQUIRE fails
  concur::FailureHandler original = concur::set_unobserved_failure_handler(first.handler());
  CHECK_FALSE(static_cast<bool>(original));  // the default is reported as an empty handler
  concur::FailureHandler previous = concur::set_unobserved_failure_handler(second.handler());
  REQUIRE(static_cast<bool>(previous));
  previous(test_error("to the first"));
  CHECK(first.count() == 1);
  {
    concur::Promise<int> promise;
    (void)promise.get_future();
    promise.set_exception(test_error("to the second"));
  }
  CHECK(first.count() == 1);
  CHECK(second.count() == 1);

  concur::FailureHandler restored = concur::set_unobserved_failure_handler(std::move(original));
  REQUIRE(static_cast<bool>(restored));
  StderrCapture capture;
  {
    concur::Promise<int> promise;
    (void)promise.get_future();
    promise.set_exception(test_error("to stderr again"));
  }
  CHECK_THAT(capture.finish(), ContainsSubstring("to stderr again"));
  CHECK(first.count() == 1);
  CHECK(second.count() == 1);
  CHECK_FALSE(static_cast<bool>(concur::set_unobserved_failure_handler({})));
}
