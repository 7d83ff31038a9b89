// tests/support/process.hpp - FIFOs, /proc readers and tasks of the process-pool tests.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

#include "support/catch.hpp"

// Used by test_process_pool.cpp and test_process_crash.cpp. Tasks run in forked worker
// processes and cannot touch the test process's memory. They talk to the test through their
// results and through FIFOs named by path (Fifo below): a task reports that it started by writing
// a line, and waits until the test "opens the gate" by writing a byte. A Fifo is declared after
// the pool, so when a failed REQUIRE unwinds the test it is closed first: tasks still waiting on
// it read end-of-file and return, and the pool's destructor does not hang.
namespace concur_test {

// A hang in a process test turns into a failure after this.
inline constexpr std::chrono::seconds kProcessLongWait{20};

// The test process's pid, fixed before any pool forks: code that must never run there (a Codec
// meant for the worker side) compares getpid() with it.
inline const int g_test_pid = static_cast<int>(::getpid());

inline int self_pid() {
  return static_cast<int>(::getpid());
}

// ---------------------------------------------------------------------------------------------
// FIFOs: how the test and the tasks in worker processes talk.

// Writes all of data, retrying EINTR and short writes; false on any other failure.
inline bool write_all(int fd, const char* data, std::size_t size) {
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

// A named pipe in its own temporary directory, /tmp/concur-<tag>-test-XXXXXX. The test holds it
// open for reading and writing, so a task can open it either way without blocking, and bytes
// written stay until read.
class Fifo {
 public:
  explicit Fifo(const std::string& tag = "process") {
    std::string dir = "/tmp/concur-" + tag + "-test-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr)
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

  // Lets n tasks waiting in wait_gate(path()) go on (one byte each).
  void open_gate(std::size_t n = 1) { REQUIRE(try_open_gate(n)); }
  // The same without Catch2's assertions, for helper threads.
  bool try_open_gate(std::size_t n = 1) noexcept {
    const std::string bytes(n, 'g');
    return write_all(fd_, bytes.data(), bytes.size());
  }

  // The next line a task sent with send_line(path(), ...), or nullopt after the timeout.
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

  // The next line as an int (a pid or a value a task reported); fails the test after the timeout.
  int read_int(std::chrono::milliseconds timeout = kProcessLongWait) {
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

// In a task: sends one line to the test's Fifo at path. Does nothing if the test has stopped
// listening (a failed test must not leave a worker blocked).
inline void send_line(const std::string& path, const std::string& line) noexcept {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  const std::string data = line + '\n';
  static_cast<void>(write_all(fd, data.data(), data.size()));  // shorter than PIPE_BUF: atomic
  ::close(fd);
}

// In a task: blocks until the test opens the gate at path (Fifo::open_gate), or until the test
// has closed it.
inline void wait_gate(const std::string& path) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  ::fcntl(fd, F_SETFL, 0);  // blocking reads from here on
  char byte = 0;
  while (::read(fd, &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(fd);
}

// ---------------------------------------------------------------------------------------------
// Processes, read from /proc.

struct ProcStat {
  int pid = 0;
  int ppid = 0;
  char state = '?';
  unsigned long long start = 0;  // clock ticks after boot: tells a reused pid apart
};

inline std::optional<ProcStat> read_stat(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const std::size_t name_end = text.rfind(')');  // the command name may hold spaces and ')'
  if (name_end == std::string::npos || name_end + 2 > text.size()) return std::nullopt;
  std::istringstream fields(text.substr(name_end + 2));
  ProcStat info;
  info.pid = pid;
  fields >> info.state >> info.ppid;  // fields 3 and 4
  std::string skipped;
  for (int field = 5; field <= 21; ++field) fields >> skipped;
  fields >> info.start;  // field 22, starttime
  if (!fields) return std::nullopt;
  return info;
}

inline std::vector<ProcStat> all_processes() {
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

// One process, told apart from a later one that reuses its pid.
struct ProcId {
  int pid = 0;
  unsigned long long start = 0;
  auto operator<=>(const ProcId&) const = default;
};

// Our children, their children, and so on (workers may be children of a fork-server child), and
// among them the zombies: exited, not yet reaped by their parent.
struct Family {
  std::set<ProcId> descendants;
  std::set<ProcId> zombies;
};

inline Family family() {
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

inline std::set<ProcId> descendants() {
  return family().descendants;
}

// The processes in `now` that are not in `before`.
inline std::set<ProcId> new_since(const std::set<ProcId>& before, const std::set<ProcId>& now) {
  std::set<ProcId> out;
  std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                      std::inserter(out, out.end()));
  return out;
}

inline std::optional<ProcId> identify(int pid) {
  const std::optional<ProcStat> info = read_stat(pid);
  if (!info) return std::nullopt;
  return ProcId{pid, info->start};
}

// Still in the process table, zombie included.
inline bool exists(const ProcId& id) {
  const std::optional<ProcStat> info = read_stat(id.pid);
  return info && info->start == id.start;
}

// Waits until the process has exited (a zombie counts), through a pidfd: no polling loop.
inline bool wait_exited(const ProcId& id, std::chrono::milliseconds timeout) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, id.pid, 0));
  if (fd < 0) return errno == ESRCH;  // already reaped
  bool exited = false;
  const std::optional<ProcStat> info = read_stat(id.pid);
  if (!info || info->start != id.start) {
    exited = true;  // the pidfd is for a newer process with the same pid: ours is gone
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

inline std::size_t open_descriptor_count() {
  std::size_t count = 0;
  DIR* fds = ::opendir("/proc/self/fd");  // counts its own descriptor, before and after alike
  REQUIRE(fds != nullptr);
  while (const dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(fds);
  return count;
}

// The type and what() of an exception, for INFO messages.
inline std::string describe(const std::exception_ptr& error) {
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

// ---------------------------------------------------------------------------------------------
// Tasks. Each runs in a worker process.

inline int square(int x) {
  return x * x;
}

inline std::pair<int, int> square_and_pid(int x) {
  return {x * x, self_pid()};
}

// Reports `value` to `out`, waits for the gate, returns `value`.
inline int report_and_wait(const std::string& out, const std::string& gate, int value) {
  send_line(out, std::to_string(value));
  wait_gate(gate);
  return value;
}

}  // namespace concur_test
