// examples/sleep.cpp - the talks' "sleep" workload (I/O-like tasks that only wait) with concur.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Shows: map() returning results in input order while named threads finish in any order (1),
// a future's state before and after its task runs (2), as_completed() yielding futures in
// completion order (3), done-callbacks reporting a value, an error and a cancellation (4), and
// four sleeps taking about the longest one on threads instead of their sum (5).
// Expect: map prints [0.5, 0.4, 0.3, 0.2, 0.1]; threads take ~0.4 s where serial takes ~1.0 s;
// the program ends with "all checks passed" and exits 0 (1 if a check fails).
// Runs in about 3 s; pass --full for the talks' original durations (about 30 s).

#include <concur/future.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <iomanip>
#include <iostream>
#include <latch>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

int g_scale = 1;     // 10 with --full; set in main before any thread starts
int g_failures = 0;  // touched by the main thread only

// Prints one line; tasks and callbacks print from worker threads, so lines must not interleave.
template <class... Parts>
void say(const Parts&... parts) {
  static std::mutex mutex;
  std::ostringstream line;
  (line << ... << parts);
  const std::lock_guard<std::mutex> lock(mutex);
  std::cout << line.str() << std::endl;
}

void check(bool ok, std::string_view what) {
  if (ok) return;
  ++g_failures;
  std::cerr << "CHECK FAILED: " << what << std::endl;
}

// The only work the tasks do: wait, as a task blocked on I/O does.
void nap(double seconds) {
  std::this_thread::sleep_for(Seconds(seconds * g_scale));
}

std::string thread_name() {
  char name[16] = {};  // Linux: 15 characters + NUL
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return "?";
  return name;
}

const char* state_name(concur::FutureState state) {
  switch (state) {
    case concur::FutureState::pending:
      return "pending";
    case concur::FutureState::running:
      return "running";
    case concur::FutureState::cancelled:
      return "cancelled";
    case concur::FutureState::finished:
      return "finished";
  }
  return "unknown";
}

std::string what(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

template <class T>
std::string to_list(const std::vector<T>& items) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < items.size(); ++i) out << (i == 0 ? "" : ", ") << items[i];
  out << ']';
  return out.str();
}

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string to_seconds(Seconds s) {
  return fixed(s.count(), 2) + " s";
}

// 1. map(): results in input order, whatever order the threads finish in.
std::mutex g_names_mutex;
std::set<std::string> g_names;  // guarded by g_names_mutex: the threads task() ran on

// The talks' task: sleeps n/10 s (n s with --full) and returns n/10.
double task(int n) {
  const std::string name = thread_name();
  {
    const std::lock_guard<std::mutex> lock(g_names_mutex);
    g_names.insert(name);
  }
  say("  ", name, ": task(", n, ") sleeps ", n / 10.0 * g_scale, " s");
  nap(n / 10.0);
  return n / 10.0;
}

void map_keeps_input_order(concur::ThreadPoolExecutor& sleepers) {
  say("\n1. map(task, [5, 4, 3, 2, 1]) on 2 threads named \"sleeper\"");
  std::vector<double> results;
  for (double r : sleepers.map(task, std::vector{5, 4, 3, 2, 1})) results.push_back(r);
  say("  results in input order: ", to_list(results));

  check(results == std::vector{0.5, 0.4, 0.3, 0.2, 0.1}, "map() returns results in input order");
  const std::lock_guard<std::mutex> lock(g_names_mutex);
  check(!g_names.empty() && g_names.size() <= 2, "map() ran on at most max_workers = 2 threads");
  for (const std::string& name : g_names)
    check(name.rfind("sleeper_", 0) == 0, "worker threads are named sleeper_<N>");
}

// 2. One submit: the future's state while the task runs, and after.
void state_before_and_after(concur::ThreadPoolExecutor& sleepers) {
  say("\n2. one submit: the future's state before and after");
  std::latch started(1);
  concur::Future<double> f = sleepers.submit([&started] {
    started.count_down();
    nap(0.2);
    return 0.2;
  });
  started.wait();  // the task has started: a gate, not a guess
  const concur::FutureState before = f.state();
  say("  state before: ", state_name(before), " (done: ", f.done() ? "true" : "false", ")");
  const double value = f.result();  // blocks until the task returns
  const concur::FutureState after = f.state();
  say("  result: ", value);
  say("  state after: ", state_name(after), " (done: ", f.done() ? "true" : "false", ")");

  check(before == concur::FutureState::running, "a started task's future is running");
  check(after == concur::FutureState::finished && value == 0.2, "result() returns once finished");
}

// 3. as_completed(): futures come out as their tasks finish, shortest sleep first.
void as_completed_yields_in_completion_order() {
  // Five distinct sleeps from {50, 100, ..., 400} ms, drawn with a fixed seed so that every run
  // shows the same ones (std::mt19937 is specified bit for bit; the shuffle is written out).
  // They are 50 ms apart, so the completion order holds even on a busy machine.
  constexpr unsigned seed = 2024;
  std::mt19937 rng(seed);
  std::vector<int> naps_ms{50, 100, 150, 200, 250, 300, 350, 400};
  for (std::size_t i = naps_ms.size() - 1; i > 0; --i)
    std::swap(naps_ms[i], naps_ms[static_cast<std::size_t>(rng() % (i + 1))]);
  naps_ms.resize(5);
  for (int& ms : naps_ms) ms *= g_scale;
  say("\n3. as_completed() over 5 tasks sleeping ", to_list(naps_ms), " ms (seed ", seed, ")");

  std::mutex finished_mutex;
  std::vector<int> finished;  // guarded by finished_mutex: the order the tasks really ended in
  concur::ThreadPoolExecutor pool(naps_ms.size());  // one thread per task: all sleep at once
  std::vector<concur::Future<int>> futures;
  for (int ms : naps_ms) {
    futures.push_back(pool.submit([&finished_mutex, &finished, ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      const std::lock_guard<std::mutex> lock(finished_mutex);
      finished.push_back(ms);
      return ms;
    }));
  }

  std::vector<int> yielded;
  for (const concur::Future<int>& f : concur::as_completed(futures)) {
    yielded.push_back(f.result());
    say("  done: slept ", f.result(), " ms");
  }
  say("  completion order: ", to_list(yielded), " ms");

  const std::lock_guard<std::mutex> lock(finished_mutex);
  check(yielded.size() == naps_ms.size(), "as_completed() yields every future once");
  check(yielded == finished, "as_completed() yields in completion order");
  check(std::is_sorted(yielded.begin(), yielded.end()), "shorter sleeps complete first");
}

// 4. Done-callbacks: one reports a value, one an error, one a cancellation.
void callbacks_report_value_error_cancelled() {
  say("\n4. add_done_callback() on a 1-thread pool");
  // The callback runs in the thread that completes the future (here: the worker, or this thread
  // for the cancellation) and counts down `reported` when it has printed.
  auto report = [](std::string label, std::latch& reported) {
    return [label, &reported](const concur::Future<int>& f) {
      if (f.cancelled()) {
        say("  ", label, ": cancelled");
      } else if (const std::exception_ptr error = f.exception()) {
        say("  ", label, ": error: ", what(error));
      } else {
        say("  ", label, ": value: ", f.result());
      }
      reported.count_down();
    };
  };

  concur::ThreadPoolExecutor single(1);
  std::latch two_reported(2);
  concur::Future<int> ok = single.submit([] { return 42; });
  concur::Future<int> fails =
      single.submit([]() -> int { throw std::runtime_error("disk on fire"); });
  ok.add_done_callback(report("ok", two_reported));
  fails.add_done_callback(report("fails", two_reported));
  two_reported.wait();

  // `queued` waits behind `holder`, which keeps the only worker busy until released, so it is
  // still pending when cancelled: cancel() succeeds and runs its callback right here.
  std::latch release(1);
  std::latch one_reported(1);
  concur::Future<int> holder = single.submit([&release] {
    release.wait();
    return 0;
  });
  concur::Future<int> queued = single.submit([] { return 7; });
  queued.add_done_callback(report("queued", one_reported));
  const bool cancelled = queued.cancel();
  release.count_down();
  one_reported.wait();

  check(ok.result() == 42, "the ok task returned 42");
  check(fails.exception() != nullptr, "the failing task's exception reached its future");
  check(cancelled && queued.cancelled(), "a pending future can be cancelled");
  check(holder.result() == 0, "the holder ran once released");
}

// 5. Serial vs threads: four waits take their sum one after another, about the longest on threads.
double io_expensive(double seconds) {
  nap(seconds);
  return seconds;
}

void serial_vs_threads() {
  const std::vector<double> sleeps{0.4, 0.3, 0.2, 0.1};  // seconds, times 10 with --full
  std::vector<std::string> shown;
  for (double s : sleeps) shown.push_back(fixed(s * g_scale, 1) + " s");
  say("\n5. io_expensive() for each of ", to_list(shown), ": serial, then on 4 threads");

  auto start = Clock::now();
  for (double s : sleeps) io_expensive(s);
  const Seconds serial = Clock::now() - start;

  start = Clock::now();
  {
    concur::ThreadPoolExecutor pool(4);
    for (double s : pool.map(io_expensive, sleeps)) static_cast<void>(s);
  }  // like Python's with-block: the destructor waits for the pool to shut down
  const Seconds threads = Clock::now() - start;

  say("  serial:  ", to_seconds(serial), " (the sum of the sleeps: ", fixed(g_scale, 1), " s)");
  say("  threads: ", to_seconds(threads), " (the longest sleep: ", fixed(0.4 * g_scale, 1), " s)");
  say("  threads are ", fixed(serial / threads, 1), "x faster");

  check(threads < serial * 0.75, "four sleeps on four threads take clearly less than serially");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--full") {
      g_scale = 10;
    } else {
      std::cerr << "usage: sleep [--full]\n";
      return 2;
    }
  }
  say("concur sleep example (", g_scale == 1 ? "short sleeps; --full for the talks' own" : "--full",
      ")");

  const auto start = Clock::now();
  try {
    {
      concur::ThreadPoolOptions options;
      options.max_workers = 2;
      options.thread_name_prefix = "sleeper";
      concur::ThreadPoolExecutor sleepers(options);
      map_keeps_input_order(sleepers);
      state_before_and_after(sleepers);
    }
    as_completed_yields_in_completion_order();
    callbacks_report_value_error_cancelled();
    serial_vs_threads();
  } catch (const std::exception& e) {
    std::cerr << "sleep: unexpected exception: " << e.what() << std::endl;
    return 1;
  }
  say("\ntotal: ", to_seconds(Clock::now() - start));

  if (g_failures != 0) {
    std::cerr << g_failures << " check(s) failed" << std::endl;
    return 1;
  }
  say("all checks passed");
  return 0;
}
