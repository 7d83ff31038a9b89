// tests/test_process_crash.cpp - ProcessPoolExecutor: worker processes that die.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// DESIGN.md "ProcessPoolExecutor": with CrashPolicy::replace_worker (the default) a worker that
// dies (a signal, exit, killed from outside) fails only the call it was running, with
// WorkerCrashedError, and is replaced; with CrashPolicy::break_pool every pending call fails
// with BrokenProcessPool, as in Python. Also the crash cases of CPython's
// Lib/test/test_concurrent_futures/test_deadlock.py and test_process_pool.py
// (test_killed_child). Every case is tagged [process][crash]; the TSan builds exclude [process].
//
// Tasks talk to the test through FIFOs named by path (Fifo, support/process.hpp; its FIFOs live
// in /tmp/concur-crash-test-*): a doomed task reports its pid, then dies, or waits to be killed.
#include <concur/errors.hpp>
#include <concur/future.hpp>
#include <concur/process_pool.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/futures.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
using namespace concur_test;  // support/process.hpp

namespace {

constexpr auto kLongWait = kProcessLongWait;  // a hang turns into a failure after this

// In a worker, std::exit runs the atexit handlers, LeakSanitizer's end-of-process check among
// them. A forked worker's heap holds objects that only the parent's other threads point to, so
// LSan would report leaks and exit with its own status instead of the task's. A task that calls
// std::exit sets this first; LSan asks __lsan_is_turned_off() before checking.
volatile std::sig_atomic_t g_skip_leak_check = 0;

}  // namespace

extern "C" int __lsan_is_turned_off();
extern "C" int __lsan_is_turned_off() {
  return g_skip_leak_check;
}

namespace {

// True if the future failed with WorkerCrashedError or BrokenProcessPool (with break_pool, the
// call that crashed may report either).
template <class T>
bool failed_by_crash_or_break(const concur::Future<T>& f) {
  try {
    static_cast<void>(f.result());
  } catch (const concur::WorkerCrashedError&) {
    return true;
  } catch (const concur::BrokenProcessPool&) {
    return true;
  } catch (...) {
  }
  return false;
}

concur::ProcessPoolOptions pool_options(
    std::size_t max_workers, concur::CrashPolicy policy = concur::CrashPolicy::replace_worker) {
  concur::ProcessPoolOptions options;
  options.max_workers = max_workers;
  options.on_worker_crash = policy;
  return options;
}

// ---------------------------------------------------------------------------------------------
// Ways to die, and tasks that die.

enum class Death { abort_call, sigkill, exit_call, underscore_exit, sigsegv, killed_from_outside };

const char* name_of(Death how) {
  switch (how) {
    case Death::abort_call:
      return "std::abort()";
    case Death::sigkill:
      return "raise(SIGKILL)";
    case Death::exit_call:
      return "std::exit(3)";
    case Death::underscore_exit:
      return "_exit(3)";
    case Death::sigsegv:
      return "raise(SIGSEGV)";
    case Death::killed_from_outside:
      return "kill(pid, SIGKILL) from the test";
  }
  return "?";
}

int expected_exit_status(Death how) {
  return how == Death::exit_call || how == Death::underscore_exit ? 3 : -1;
}

int expected_signal(Death how) {
  switch (how) {
    case Death::abort_call:
      return SIGABRT;
    case Death::sigsegv:
      return SIGSEGV;
    case Death::sigkill:
    case Death::killed_from_outside:
      return SIGKILL;
    case Death::exit_call:
    case Death::underscore_exit:
      return 0;
  }
  return -1;
}

// Dies as a plain program would. The default dispositions are restored first: Catch2 handles
// SIGABRT and SIGSEGV to report a failure (it would print one from inside the worker), and
// ASan turns SIGSEGV into an exit with status 1. No core file is written.
[[noreturn]] void die(Death how) {
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  switch (how) {
    case Death::abort_call:
      std::signal(SIGABRT, SIG_DFL);
      std::abort();
    case Death::sigkill:
    case Death::killed_from_outside:
      ::raise(SIGKILL);
      break;
    case Death::exit_call:
      g_skip_leak_check = 1;
      std::exit(3);
    case Death::underscore_exit:
      ::_exit(3);
    case Death::sigsegv:
      std::signal(SIGSEGV, SIG_DFL);
      ::raise(SIGSEGV);
      break;
  }
  ::_exit(99);  // not reached
}

// Reports its pid to `out`; waits for the gate first if asked (so the test can queue calls
// behind it); then dies `how`, or, for killed_from_outside, waits to be killed (opening the
// gate instead lets it return -1, which fails the test).
int report_pid_then_die(const std::string& out, const std::string& gate, Death how,
                        bool wait_first) {
  send_line(out, std::to_string(self_pid()));
  if (wait_first || how == Death::killed_from_outside) wait_gate(gate);
  if (how == Death::killed_from_outside) return -1;
  die(how);
}

int die_now(Death how) {
  die(how);
}

// Appends "<i>\n" to the file at path (O_APPEND: one write per line), then returns i: the file
// then shows how many times each call ran.
int append_line(const std::string& path, int i) {
  const std::string line = std::to_string(i) + "\n";
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) return -1;
  std::fputs(line.c_str(), f);
  std::fclose(f);
  return i;
}

// ---------------------------------------------------------------------------------------------
// Codecs that kill the worker (test_deadlock.py's CrashAtUnpickle, ExitAtUnpickle,
// CrashAtPickle, ExitAtPickle). They refuse to act in the test process.

struct DieOnDecode {  // an argument: the worker dies decoding it
  Death how = Death::sigkill;
};
struct DieOnEncode {  // a result: the worker dies encoding it
  Death how = Death::sigkill;
};

}  // namespace

template <>
struct concur::Codec<DieOnDecode> {
  static void encode(concur::Writer& w, const DieOnDecode& x) { w.write(x.how); }
  static DieOnDecode decode(concur::Reader& r) {
    const auto how = r.read<Death>();
    if (self_pid() == g_test_pid) throw std::logic_error("DieOnDecode decoded in the test process");
    die(how);
  }
};

template <>
struct concur::Codec<DieOnEncode> {
  static void encode(concur::Writer& /*w*/, const DieOnEncode& x) {
    if (self_pid() == g_test_pid) throw std::logic_error("DieOnEncode encoded in the test process");
    die(x.how);
  }
  static DieOnEncode decode(concur::Reader& r) { return DieOnEncode{r.read<Death>()}; }
};

namespace {

int take_die_on_decode(DieOnDecode /*x*/) {
  return 0;
}

DieOnEncode make_die_on_encode(Death how) {
  return DieOnEncode{how};
}

int ignore_data(const std::string& data) {
  return static_cast<int>(data.size());
}

int crash_with_data(const std::string& /*data*/) {
  die(Death::sigkill);
}

}  // namespace

// =============================================================================================
// CrashPolicy::replace_worker

// test_process_pool.py: ProcessPoolExecutorTest.test_killed_child and
// test_traceback_when_child_process_terminates_abruptly, with replace_worker instead of a broken
// pool; test_deadlock.py: test_crash_during_func_exec_on_worker and
// test_exit_during_func_exec_on_worker.
TEST_CASE("a worker that dies during a call fails only that call with WorkerCrashedError",
          "[process][crash]") {
  const Death how = GENERATE(Death::abort_call, Death::sigkill, Death::exit_call,
                             Death::underscore_exit, Death::sigsegv, Death::killed_from_outside);
  INFO("the worker dies by " << name_of(how));
  const Family before = family();
  std::optional<ProcId> dead;
  {
    std::cout.flush();
    std::fflush(nullptr);  // a worker that calls std::exit flushes its copy of stdio's buffers
    concur::ProcessPoolExecutor pool(1);
    Fifo out("crash");
    Fifo gate("crash");
    auto doomed = pool.submit(report_pid_then_die, out.path(), gate.path(), how, true);
    std::vector<concur::Future<int>> queued;  // behind the crash, in the only worker's queue
    for (int i = 0; i < 10; ++i) queued.push_back(pool.submit(square, i));
    const int pid = out.read_int();
    dead = identify(pid);
    REQUIRE(dead.has_value());  // it is blocked on the gate: alive
    if (how == Death::killed_from_outside) {
      REQUIRE(::kill(pid, SIGKILL) == 0);
    } else {
      gate.open_gate();
    }

    REQUIRE(doomed.wait_for(kLongWait));
    INFO("the call ended with " << describe(doomed.exception()));
    const std::optional<concur::WorkerCrashedError> crash = crash_of(doomed);
    REQUIRE(crash.has_value());
    CHECK(crash->pid() == pid);
    CHECK(crash->exit_status() == expected_exit_status(how));
    CHECK(crash->signal() == expected_signal(how));
    CHECK_THAT(crash->what(), concur_test::ContainsSubstring(std::to_string(pid)));

    // The calls queued behind it, and the next 100, succeed in a replacement.
    for (int i = 0; i < 10; ++i) REQUIRE(queued[static_cast<std::size_t>(i)].result() == i * i);
    std::vector<concur::Future<std::pair<int, int>>> next;
    for (int i = 0; i < 100; ++i) next.push_back(pool.submit(square_and_pid, i));
    for (int i = 0; i < 100; ++i) {
      const auto [value, worker] = next[static_cast<std::size_t>(i)].result();
      REQUIRE(value == i * i);
      REQUIRE(worker != pid);
    }
    REQUIRE_FALSE(new_since(before.descendants, family().descendants).empty());  // we see them
  }
  const Family after = family();
  CHECK(new_since(before.zombies, after.zombies).empty());
  CHECK(new_since(before.descendants, after.descendants).empty());
  REQUIRE_FALSE(exists(*dead));  // reaped, not left a zombie
}

// The pool writes one call ahead to a busy worker (see dispatch() in process_pool.hpp). When that
// worker dies, the call written ahead has not started: it must run once, in another worker.
TEST_CASE("calls written ahead to a worker that dies run exactly once elsewhere",
          "[process][crash]") {
  std::cout.flush();
  std::fflush(nullptr);
  char dir_template[] = "/tmp/concur-ahead-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string log = std::string(dir_template) + "/runs";
  {
    concur::ProcessPoolExecutor pool(1);
    Fifo out("ahead");
    Fifo gate("ahead");
    auto doomed = pool.submit(report_pid_then_die, out.path(), gate.path(), Death::sigkill, true);
    std::vector<concur::Future<int>> behind;
    for (int i = 0; i < 5; ++i) behind.push_back(pool.submit(append_line, log, i));
    static_cast<void>(out.read_int());
    // The first call behind the doomed one is running (written ahead), not pending: it cannot
    // be cancelled any more, as in Python once a call is in the call queue.
    const auto give_up = std::chrono::steady_clock::now() + kLongWait;
    while (behind[0].state() != concur::FutureState::running &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(1ms);
    }
    REQUIRE(behind[0].state() == concur::FutureState::running);
    REQUIRE_FALSE(behind[0].cancel());
    gate.open_gate();
    REQUIRE(crash_of(doomed).has_value());
    for (int i = 0; i < 5; ++i) REQUIRE(behind[static_cast<std::size_t>(i)].result() == i);
  }
  std::FILE* f = std::fopen(log.c_str(), "r");
  REQUIRE(f != nullptr);
  std::vector<int> runs(5, 0);
  int value = 0;
  while (std::fscanf(f, "%d", &value) == 1) {
    REQUIRE((value >= 0 && value < 5));
    ++runs[static_cast<std::size_t>(value)];
  }
  std::fclose(f);
  static_cast<void>(std::remove(log.c_str()));
  static_cast<void>(::rmdir(dir_template));
  for (int i = 0; i < 5; ++i) {
    INFO("call " << i);
    CHECK(runs[static_cast<std::size_t>(i)] == 1);
  }
}

namespace {
// Runs a while (the pool meanwhile writes the calls behind it ahead), then the worker exits.
int pause_then_exit(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::_exit(3);
}

// Counts of runs per call, in memory shared with the workers (mapped before the pool forks).
std::atomic<int>* shared_runs = nullptr;

int count_run(int i) {
  shared_runs[i].fetch_add(1);
  return i;
}

int count_run_after_gate(const std::string& gate, int i) {
  wait_gate(gate);
  return count_run(i);
}
}  // namespace

// While quick calls flow, the pool writes many of them ahead to a busy worker (not just one):
// all of those must run again elsewhere when the worker dies, each exactly once, and the call
// it was running fails alone. Every call is queued behind a gate first, so that hundreds of
// quick replies have come back (and the pool writes calls far ahead) by the time the doomed
// call starts.
TEST_CASE("many calls written ahead behind a call that kills its worker each run exactly once",
          "[process][crash]") {
  constexpr int calls = 2000;
  constexpr int doomed_at = 1000;
  static_assert(std::atomic<int>::is_always_lock_free, "shared between processes");
  void* memory = ::mmap(nullptr, sizeof(std::atomic<int>) * calls, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(memory != MAP_FAILED);
  shared_runs = new (memory) std::atomic<int>[calls]();
  {
    concur::ProcessPoolExecutor pool(1);
    Fifo gate("ahead");
    std::vector<concur::Future<int>> futures;
    futures.push_back(pool.submit(count_run_after_gate, gate.path(), 0));
    for (int i = 1; i < calls; ++i) {
      futures.push_back(i == doomed_at ? pool.submit(pause_then_exit, 200)
                                       : pool.submit(count_run, i));
    }
    gate.open_gate();
    for (int i = 0; i < calls; ++i) {
      INFO("call " << i);
      auto& f = futures[static_cast<std::size_t>(i)];
      if (i == doomed_at) {
        const std::optional<concur::WorkerCrashedError> crash = crash_of(f);
        REQUIRE(crash.has_value());
        CHECK(crash->exit_status() == 3);
      } else {
        REQUIRE(f.result(kLongWait) == i);
      }
    }
  }
  int wrong = 0;
  for (int i = 0; i < calls; ++i) {
    if (i != doomed_at && shared_runs[i].load() != 1) ++wrong;
  }
  CHECK(wrong == 0);
  shared_runs = nullptr;
  ::munmap(memory, sizeof(std::atomic<int>) * calls);
}

// C++ only: replace_worker fails only the call the dead worker ran.
TEST_CASE("a crash in one worker does not disturb the call running in another",
          "[process][crash]") {
  concur::ProcessPoolExecutor pool(2);
  Fifo survivor_out("crash");
  Fifo survivor_gate("crash");
  Fifo doomed_out("crash");
  Fifo doomed_gate("crash");
  auto survivor = pool.submit(report_and_wait, survivor_out.path(), survivor_gate.path(), 42);
  REQUIRE(survivor_out.read_int() == 42);
  auto doomed = pool.submit(report_pid_then_die, doomed_out.path(), doomed_gate.path(),
                            Death::sigkill, false);
  const int pid = doomed_out.read_int();
  REQUIRE(doomed.wait_for(kLongWait));
  const std::optional<concur::WorkerCrashedError> crash = crash_of(doomed);
  REQUIRE(crash.has_value());
  REQUIRE(crash->pid() == pid);
  REQUIRE_FALSE(survivor.done());
  survivor_gate.open_gate();
  REQUIRE(survivor.result() == 42);
  REQUIRE(pool.submit(square, 5).result() == 25);
}

// C++ only: a worker that dies with no call running fails nothing; the next call must not be
// sent to the dead worker and lost.
TEST_CASE("a worker killed while idle is replaced and no call fails", "[process][crash]") {
  concur::ProcessPoolExecutor pool(1);
  const int first = pool.submit(self_pid).result();
  const std::optional<ProcId> id = identify(first);
  REQUIRE(id.has_value());
  REQUIRE(::kill(first, SIGKILL) == 0);
  REQUIRE(wait_exited(*id, kLongWait));
  std::vector<concur::Future<std::pair<int, int>>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back(pool.submit(square_and_pid, i));
  for (int i = 0; i < 10; ++i) {
    auto& f = futures[static_cast<std::size_t>(i)];
    REQUIRE(f.wait_for(kLongWait));
    INFO("call " << i << " ended with " << describe(f.exception()));
    const auto [value, worker] = f.result();
    REQUIRE(value == i * i);
    REQUIRE(worker != first);
  }
}

// test_deadlock.py: test_exit_at_task_unpickle, test_crash_at_task_unpickle,
// test_crash_during_result_pickle_on_worker and test_exit_during_result_pickle_on_worker
TEST_CASE("a worker dying while it decodes an argument or encodes a result fails that call",
          "[process][crash][codec]") {
  const bool in_argument = GENERATE(true, false);
  const Death how = GENERATE(Death::exit_call, Death::sigsegv);
  INFO((in_argument ? "decoding the argument, " : "encoding the result, ") << name_of(how));
  std::cout.flush();
  std::fflush(nullptr);
  concur::ProcessPoolExecutor pool(1);
  std::optional<concur::WorkerCrashedError> crash;
  if (in_argument) {
    auto f = pool.submit(take_die_on_decode, DieOnDecode{how});
    REQUIRE(f.wait_for(kLongWait));
    INFO("the call ended with " << describe(f.exception()));
    crash = crash_of(f);
  } else {
    auto f = pool.submit(make_die_on_encode, how);
    REQUIRE(f.wait_for(kLongWait));
    INFO("the call ended with " << describe(f.exception()));
    crash = crash_of(f);
  }
  REQUIRE(crash.has_value());
  CHECK(crash->pid() > 0);
  CHECK(crash->pid() != self_pid());
  CHECK(crash->exit_status() == expected_exit_status(how));
  CHECK(crash->signal() == expected_signal(how));
  for (int i = 0; i < 5; ++i) REQUIRE(pool.submit(square, i).result() == i * i);
}

// test_deadlock.py: ExecutorDeadlockTest.test_shutdown_deadlock
TEST_CASE("a worker that dies while shutdown(wait=true) waits fails its call and shutdown returns",
          "[process][crash][shutdown]") {
  const concur::CrashPolicy policy =
      GENERATE(concur::CrashPolicy::replace_worker, concur::CrashPolicy::break_pool);
  concur::ProcessPoolExecutor pool(pool_options(2, policy));
  Fifo out("crash");
  Fifo gate("crash");
  auto f = pool.submit(report_pid_then_die, out.path(), gate.path(), Death::sigsegv, true);
  out.read_int();
  // Opens the gate a little later, most likely while shutdown() below is already waiting; the
  // assertions hold whatever the timing.
  std::thread opener([&gate] {
    std::this_thread::sleep_for(100ms);
    static_cast<void>(gate.try_open_gate());
  });
  pool.shutdown(true);
  opener.join();
  REQUIRE(f.done());
  INFO("the call ended with " << describe(f.exception()));
  if (policy == concur::CrashPolicy::replace_worker) {
    REQUIRE(crash_of(f).has_value());
  } else {
    REQUIRE(failed_by_crash_or_break(f));
  }
}

// test_deadlock.py: ExecutorDeadlockTest.test_crash_big_data
TEST_CASE("workers dying while large arguments are still being sent fail their calls cleanly",
          "[process][crash][large]") {
  const concur::CrashPolicy policy =
      GENERATE(concur::CrashPolicy::replace_worker, concur::CrashPolicy::break_pool);
  const std::string data((4u << 20) + 1, 'a');  // CPython's support.PIPE_MAX_SIZE
  concur::ProcessPoolExecutor pool(pool_options(2, policy));
  int failed = 0;
  try {
    auto results = pool.map(crash_with_data, std::vector<std::string>(10, data));
    for (auto it = results.begin(); it != results.end(); ++it) {
      try {
        static_cast<void>(*it);
      } catch (const concur::WorkerCrashedError&) {
        ++failed;
      } catch (const concur::BrokenProcessPool&) {
        REQUIRE(policy == concur::CrashPolicy::break_pool);
        ++failed;
      }
    }
    REQUIRE(failed == 10);
  } catch (const concur::BrokenProcessPool&) {
    // break_pool: the pool broke while map was still submitting, as Python's map may raise
    REQUIRE(policy == concur::CrashPolicy::break_pool);
  }
  if (policy == concur::CrashPolicy::replace_worker) {
    REQUIRE(pool.submit(ignore_data, data).result() == static_cast<int>(data.size()));
  } else {
    REQUIRE_THROWS_AS(pool.submit(square, 2), concur::BrokenProcessPool);
  }
}

// C++ only (DESIGN.md: no zombies, no leaked descriptors).
TEST_CASE("twenty crashes in a row leak no descriptor, process or zombie", "[process][crash]") {
  const std::size_t descriptors = open_descriptor_count();
  const Family before = family();
  {
    concur::ProcessPoolExecutor pool(2);
    for (int i = 0; i < 20; ++i) {
      auto f = pool.submit(die_now, Death::sigkill);
      REQUIRE(f.wait_for(kLongWait));
      INFO("crash " << i << " ended the call with " << describe(f.exception()));
      REQUIRE(crash_of(f).has_value());
    }
    for (int i = 0; i < 10; ++i) REQUIRE(pool.submit(square, i).result() == i * i);
    REQUIRE_FALSE(new_since(before.descendants, family().descendants).empty());  // we see them
  }
  const Family after = family();
  CHECK(new_since(before.zombies, after.zombies).empty());
  CHECK(new_since(before.descendants, after.descendants).empty());
  REQUIRE(open_descriptor_count() == descriptors);
}

// =============================================================================================
// CrashPolicy::break_pool

// test_process_pool.py: ProcessPoolExecutorTest.test_killed_child and
// test_broken_process_pool_traceback (each future gets its own BrokenProcessPool in Python; in
// C++ sharing one exception object is harmless, so only the type is checked)
TEST_CASE(
    "with break_pool a crash fails every pending call and later submits with BrokenProcessPool",
    "[process][crash][break_pool]") {
  const bool from_outside = GENERATE(false, true);
  const Family before = family();
  {
    concur::ProcessPoolExecutor pool(pool_options(1, concur::CrashPolicy::break_pool));
    Fifo out("crash");
    Fifo gate("crash");
    auto doomed = pool.submit(report_pid_then_die, out.path(), gate.path(),
                              from_outside ? Death::killed_from_outside : Death::sigkill, true);
    std::vector<concur::Future<int>> pending;
    for (int i = 0; i < 5; ++i) pending.push_back(pool.submit(square, i));
    const int pid = out.read_int();
    if (from_outside) {
      REQUIRE(::kill(pid, SIGKILL) == 0);
    } else {
      gate.open_gate();
    }

    REQUIRE(doomed.wait_for(kLongWait));
    INFO("the crashed call ended with " << describe(doomed.exception()));
    REQUIRE(failed_by_crash_or_break(doomed));
    for (auto& f : pending) {
      REQUIRE(f.wait_for(kLongWait));
      INFO("a pending call ended with " << describe(f.exception()));
      REQUIRE_THROWS_AS(f.result(), concur::BrokenProcessPool);
    }
    REQUIRE_THROWS_AS(pool.submit(square, 1), concur::BrokenProcessPool);
    REQUIRE_THROWS_AS(pool.map(square, std::vector<int>{1, 2}), concur::BrokenProcessPool);
    pool.shutdown();
  }
  const Family after = family();
  CHECK(new_since(before.zombies, after.zombies).empty());
  REQUIRE(new_since(before.descendants, after.descendants).empty());
}

// Python's break_pool also fails the calls still running in the other workers; the contract
// lets them either finish or fail with BrokenProcessPool, but never hang or succeed twice.
TEST_CASE("with break_pool a call running in another worker ends once",
          "[process][crash][break_pool]") {
  concur::ProcessPoolExecutor pool(pool_options(2, concur::CrashPolicy::break_pool));
  Fifo out("crash");
  Fifo gate("crash");
  auto other = pool.submit(report_and_wait, out.path(), gate.path(), 9);
  REQUIRE(out.read_int() == 9);
  auto doomed = pool.submit(die_now, Death::sigkill);
  REQUIRE(doomed.wait_for(kLongWait));
  REQUIRE(failed_by_crash_or_break(doomed));
  gate.open_gate();
  REQUIRE(other.wait_for(kLongWait));
  if (other.exception() != nullptr) {
    REQUIRE_THROWS_AS(other.result(), concur::BrokenProcessPool);
  } else {
    REQUIRE(other.result() == 9);
  }
  REQUIRE_THROWS_AS(pool.submit(square, 1), concur::BrokenProcessPool);
}
