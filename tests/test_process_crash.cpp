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
// Tasks talk to the test through FIFOs named by path (see test_process_pool.cpp, which explains
// the same helpers): a doomed task reports its pid, then dies, or waits to be killed.
#include <concur/errors.hpp>
#include <concur/future.hpp>
#include <concur/process_pool.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "support/catch.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto kLongWait = std::chrono::seconds(20);  // a hang turns into a failure after this

// The test process's pid, fixed before any pool forks.
const int g_test_pid = static_cast<int>(::getpid());

int self_pid() {
  return static_cast<int>(::getpid());
}

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

// ---------------------------------------------------------------------------------------------
// FIFOs (as in test_process_pool.cpp).

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// A named pipe the test holds open for reading and writing; declared after the pool, so a
// failed REQUIRE closes it first and tasks waiting on it return.
class Fifo {
 public:
  Fifo() {
    char dir[] = "/tmp/concur-crash-test-XXXXXX";
    if (::mkdtemp(dir) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    dir_ = dir;
    path_ = dir_ + "/fifo";
    if (::mkfifo(path_.c_str(), 0600) != 0) {
      const int error = errno;
      ::rmdir(dir_.c_str());
      throw std::system_error(error, std::generic_category(), "mkfifo");
    }
    fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
      const int error = errno;
      ::unlink(path_.c_str());
      ::rmdir(dir_.c_str());
      throw std::system_error(error, std::generic_category(), "open fifo");
    }
  }
  Fifo(const Fifo&) = delete;
  Fifo& operator=(const Fifo&) = delete;
  ~Fifo() {
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  const std::string& path() const noexcept { return path_; }

  void open_gate(std::size_t n = 1) { REQUIRE(try_open_gate(n)); }
  bool try_open_gate(std::size_t n = 1) noexcept {  // for helper threads: no Catch2 assertion
    const std::string bytes(n, 'g');
    return write_all(fd_, bytes.data(), bytes.size());
  }

  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd wanted{fd_, POLLIN, 0};
      const int ready = ::poll(&wanted, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return std::nullopt;
      char chunk[256];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  int read_int(std::chrono::milliseconds timeout = kLongWait) {
    const std::optional<std::string> line = read_line(timeout);
    REQUIRE(line.has_value());
    return std::stoi(*line);
  }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
};

void send_line(const std::string& path, const std::string& line) noexcept {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  const std::string data = line + '\n';
  static_cast<void>(write_all(fd, data.data(), data.size()));
  ::close(fd);
}

void wait_gate(const std::string& path) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  ::fcntl(fd, F_SETFL, 0);
  char byte = 0;
  while (::read(fd, &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(fd);
}

// ---------------------------------------------------------------------------------------------
// Processes, read from /proc (as in test_process_pool.cpp).

struct ProcStat {
  int pid = 0;
  int ppid = 0;
  char state = '?';
  unsigned long long start = 0;
};

std::optional<ProcStat> read_stat(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const std::size_t name_end = text.rfind(')');
  if (name_end == std::string::npos || name_end + 2 > text.size()) return std::nullopt;
  std::istringstream fields(text.substr(name_end + 2));
  ProcStat info;
  info.pid = pid;
  fields >> info.state >> info.ppid;
  std::string skipped;
  for (int field = 5; field <= 21; ++field) fields >> skipped;
  fields >> info.start;
  if (!fields) return std::nullopt;
  return info;
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (const dirent* entry = ::readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    if (auto info = read_stat(std::stoi(name))) out.push_back(*info);
  }
  ::closedir(proc);
  return out;
}

struct ProcId {
  int pid = 0;
  unsigned long long start = 0;
  auto operator<=>(const ProcId&) const = default;
};

// Our descendants, and among all processes the zombies whose parent is us or a descendant.
struct Family {
  std::set<ProcId> descendants;
  std::set<ProcId> zombies;
};

Family family() {
  const std::vector<ProcStat> all = all_processes();
  std::set<int> members{self_pid()};
  for (bool grew = true; grew;) {
    grew = false;
    for (const ProcStat& p : all) {
      if (members.count(p.ppid) != 0 && members.insert(p.pid).second) grew = true;
    }
  }
  Family out;
  for (const ProcStat& p : all) {
    if (p.pid == self_pid() || members.count(p.pid) == 0) continue;
    out.descendants.insert(ProcId{p.pid, p.start});
    if (p.state == 'Z') out.zombies.insert(ProcId{p.pid, p.start});
  }
  return out;
}

std::set<ProcId> new_since(const std::set<ProcId>& before, const std::set<ProcId>& now) {
  std::set<ProcId> out;
  std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                      std::inserter(out, out.end()));
  return out;
}

std::optional<ProcId> identify(int pid) {
  const std::optional<ProcStat> info = read_stat(pid);
  if (!info) return std::nullopt;
  return ProcId{pid, info->start};
}

bool exists(const ProcId& id) {
  const std::optional<ProcStat> info = read_stat(id.pid);
  return info && info->start == id.start;
}

bool wait_exited(const ProcId& id, std::chrono::milliseconds timeout) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, id.pid, 0));
  if (fd < 0) return errno == ESRCH;
  bool exited = false;
  const std::optional<ProcStat> info = read_stat(id.pid);
  if (!info || info->start != id.start) {
    exited = true;
  } else {
    pollfd wanted{fd, POLLIN, 0};
    int ready = 0;
    do {
      ready = ::poll(&wanted, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    exited = ready > 0;
  }
  ::close(fd);
  return exited;
}

std::size_t open_descriptor_count() {
  std::size_t count = 0;
  DIR* fds = ::opendir("/proc/self/fd");
  REQUIRE(fds != nullptr);
  while (const dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(fds);
  return count;
}

std::string describe(const std::exception_ptr& error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
  return "unreachable";
}

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

int square(int x) {
  return x * x;
}

std::pair<int, int> square_and_pid(int x) {
  return {x * x, self_pid()};
}

int report_and_wait(const std::string& out, const std::string& gate, int value) {
  send_line(out, std::to_string(value));
  wait_gate(gate);
  return value;
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
    Fifo out;
    Fifo gate;
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

// C++ only: replace_worker fails only the call the dead worker ran.
TEST_CASE("a crash in one worker does not disturb the call running in another",
          "[process][crash]") {
  concur::ProcessPoolExecutor pool(2);
  Fifo survivor_out;
  Fifo survivor_gate;
  Fifo doomed_out;
  Fifo doomed_gate;
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
  Fifo out;
  Fifo gate;
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
    Fifo out;
    Fifo gate;
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
  Fifo out;
  Fifo gate;
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
