// tests/fault/test_fault_syscall.cpp - descriptor and process exhaustion, injected through the
// CONCUR_SYSCALL seam (detail/config.hpp).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// An executable of its own: it defines CONCUR_SYSCALL before any concur include, so that every
// socketpair, pipe2 and fork the pool, its fork server and its workers make goes through the
// wrappers below, which fail with a chosen errno while a fault is set (EMFILE, EAGAIN: root
// ignores RLIMIT_NPROC, so running out of processes can only be injected). The switches live in
// a shared anonymous mapping made before any pool forks, so that the test also reaches into the
// fork server. Whatever fails, the pool reports a clear error, never hangs, leaks nothing, and
// serves again once the fault is lifted. Tagged [fault][process]: the TSan builds skip it.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace concur_fault {

// Which processes a fault hits.
enum Where : int { kNowhere = 0, kEverywhere = 1, kChildrenOnly = 2, kParentOnly = 3 };

struct Switch {
  std::atomic<int> where{kNowhere};
  std::atomic<int> error{0};
  std::atomic<int> failed{0};  // calls failed on purpose, in any process
};

struct Faults {
  pid_t test_pid = 0;
  Switch socketpair;
  Switch pipe2;
  Switch fork;
  Switch interrupt;  // every other recv, send, recvmsg, sendmsg, read, writev fails with EINTR
  Switch drop_fd;    // recvmsg drops the descriptors it carries, as the kernel does at EMFILE
  std::atomic<int> interrupt_calls{0};
};
static_assert(std::atomic<int>::is_always_lock_free, "shared between processes");

// Made at static initialisation, before any pool (and so any fork).
inline Faults& faults() {
  static Faults* const shared = [] {
    void* memory =
        ::mmap(nullptr, sizeof(Faults), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) std::abort();
    auto* f = new (memory) Faults();
    f->test_pid = ::getpid();
    return f;
  }();
  return *shared;
}
inline const bool made_early = (faults(), true);

// True (errno set) if s is on for this process.
inline bool trips(Switch& s) {
  const int where = s.where.load();
  const bool parent = ::getpid() == faults().test_pid;
  if (where == kNowhere || (where == kChildrenOnly && parent) ||
      (where == kParentOnly && !parent)) {
    return false;
  }
  s.failed.fetch_add(1);
  errno = s.error.load();
  return true;
}

inline int socketpair(int domain, int type, int protocol, int sv[2]) {
  return trips(faults().socketpair) ? -1 : ::socketpair(domain, type, protocol, sv);
}
inline int pipe2(int fds[2], int flags) {
  return trips(faults().pipe2) ? -1 : ::pipe2(fds, flags);
}
inline pid_t fork() {
  return trips(faults().fork) ? -1 : ::fork();
}
// A signal landing in a blocking call: fails every other call (in any process) with EINTR,
// which the caller must retry. Every other, so that a retry loop can get through.
inline bool interrupted() {
  if (faults().interrupt.where.load() == kNowhere) return false;
  if (faults().interrupt_calls.fetch_add(1) % 2 != 0) return false;
  faults().interrupt.failed.fetch_add(1);
  errno = EINTR;
  return true;
}
inline ssize_t recv(int fd, void* buffer, size_t size, int flags) {
  return interrupted() ? -1 : ::recv(fd, buffer, size, flags);
}
inline ssize_t send(int fd, const void* buffer, size_t size, int flags) {
  return interrupted() ? -1 : ::send(fd, buffer, size, flags);
}
// A worker's replies travel on a pipe: read() in the pool, writev() in the worker.
inline ssize_t read(int fd, void* buffer, size_t size) {
  return interrupted() ? -1 : ::read(fd, buffer, size);
}
inline ssize_t writev(int fd, const iovec* pieces, int count) {
  return interrupted() ? -1 : ::writev(fd, pieces, count);
}
// A receiver out of descriptors gets the message without the descriptors it carried: the
// kernel drops them and sets MSG_CTRUNC. Here they arrive, are closed and are taken out.
inline ssize_t recvmsg(int fd, msghdr* message, int flags) {
  if (interrupted()) return -1;
  const ssize_t n = ::recvmsg(fd, message, flags);
  if (n <= 0 || message->msg_controllen == 0 || faults().drop_fd.where.load() == kNowhere) {
    return n;
  }
  bool carried = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(message); c != nullptr; c = CMSG_NXTHDR(message, c)) {
    carried = carried || (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS);
  }
  if (!carried || !trips(faults().drop_fd)) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(message); c != nullptr; c = CMSG_NXTHDR(message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {  // a worker's socket and its replies' pipe
      int passed = -1;
      std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
      ::close(passed);
    }
  }
  message->msg_controllen = 0;
  message->msg_flags |= MSG_CTRUNC;
  return n;
}
inline ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  return interrupted() ? -1 : ::sendmsg(fd, message, flags);
}
using ::close;
using ::sigqueue;

// Sets a fault for the scope.
class Fault {
 public:
  Fault(Switch& s, int where, int error) : s_(s) {
    s_.error.store(error);
    s_.failed.store(0);
    s_.where.store(where);
  }
  Fault(const Fault&) = delete;
  Fault& operator=(const Fault&) = delete;
  ~Fault() { lift(); }
  void lift() { s_.where.store(kNowhere); }
  int failed() const { return s_.failed.load(); }

 private:
  Switch& s_;
};

}  // namespace concur_fault

#define CONCUR_SYSCALL(name) ::concur_fault::name

#include <concur/errors.hpp>
#include <concur/future.hpp>
#include <concur/process_pool.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>
#include <vector>

#include "support/catch.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
using concur_fault::Fault;
using concur_fault::faults;

namespace {

int square(int x) {
  return x * x;
}

// What an exception says, for the checks on messages.
std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "?";
  }
}

// The pool serves: 20 calls from 2 workers.
void check_serves(concur::ProcessPoolExecutor& pool) {
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(pool.submit(square, i));
  for (int i = 0; i < 20; ++i) {
    REQUIRE(futures[static_cast<std::size_t>(i)].wait_for(concur_test::kProcessLongWait));
    CHECK(futures[static_cast<std::size_t>(i)].result() == i * i);
  }
}

// Leaves nothing behind: the descriptor count and the process family of the test.
class NoLeaks {
 public:
  NoLeaks() : fds_(concur_test::open_descriptor_count()), family_(concur_test::family()) {}
  void check() const {
    const concur_test::Family now = concur_test::family();
    CHECK(concur_test::new_since(family_.descendants, now.descendants).empty());
    CHECK(now.zombies.empty());
    CHECK(concur_test::open_descriptor_count() == fds_);
  }

 private:
  std::size_t fds_;
  concur_test::Family family_;
};

void print_line(const char* what, int injected, const std::string& observed) {
  std::printf("syscall fault: %-40s injected %3d  observed: %s\n", what, injected,
              observed.c_str());
  std::fflush(stdout);
}

}  // namespace

TEST_CASE("socketpair, pipe2 or fork failing in the constructor throws std::system_error",
          "[fault][process]") {
  struct Case {
    const char* name;
    concur_fault::Switch* where;
    int error;
    const char* call;
  };
  const Case cases[] = {
      {"socketpair EMFILE in the constructor", &faults().socketpair, EMFILE, "socketpair"},
      {"pipe2 EMFILE in the constructor", &faults().pipe2, EMFILE, "pipe2"},
      {"fork EAGAIN in the constructor", &faults().fork, EAGAIN, "fork"}};
  for (const Case& c : cases) {
    INFO(c.name);
    const NoLeaks leaks;
    {
      Fault fault(*c.where, concur_fault::kEverywhere, c.error);
      std::string observed = "no exception";
      try {
        concur::ProcessPoolExecutor pool(2);
      } catch (const std::system_error& e) {
        observed = e.what();
        CHECK(e.code().value() == c.error);
        CHECK_THAT(std::string(e.what()), concur_test::ContainsSubstring(c.call));
      }
      print_line(c.name, fault.failed(), "std::system_error: " + observed);
      CHECK(fault.failed() == 1);
      CHECK(observed != "no exception");
    }
    leaks.check();
    concur::ProcessPoolExecutor pool(2);  // the fault is lifted: a pool starts and serves
    check_serves(pool);
  }
}

// Takes every free descriptor number below the current RLIMIT_NOFILE but `room` of them, so that
// exactly `room` more descriptors can be opened however the inherited ones are laid out (a
// descriptor count alone is not enough: inherited descriptors can leave holes or sit high). No
// Catch assertion runs while the descriptors are all taken: UBSan's checks inside one may need a
// descriptor. Check ok() afterwards.
class DescriptorFiller {
 public:
  explicit DescriptorFiller(int room) {
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) return;
    held_.reserve(1024);
    held_.push_back(null_fd);
    int fd = 0;
    while ((fd = ::fcntl(null_fd, F_DUPFD_CLOEXEC, 0)) >= 0) held_.push_back(fd);
    const bool exhausted = errno == EMFILE;
    for (int i = 0; i < room && !held_.empty(); ++i) {
      ::close(held_.back());
      held_.pop_back();
    }
    ok_ = exhausted && !held_.empty();
  }
  DescriptorFiller(const DescriptorFiller&) = delete;
  DescriptorFiller& operator=(const DescriptorFiller&) = delete;
  ~DescriptorFiller() {
    for (const int fd : held_) ::close(fd);
  }
  bool ok() const { return ok_; }

 private:
  std::vector<int> held_;
  bool ok_ = false;
};

// The highest open descriptor number.
inline int highest_open_descriptor() {
  int highest = -1;
  DIR* fds = ::opendir("/proc/self/fd");
  REQUIRE(fds != nullptr);
  while (const dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] != '.') highest = std::max(highest, std::atoi(entry->d_name));
  }
  ::closedir(fds);
  return highest;
}

TEST_CASE("a real RLIMIT_NOFILE exhaustion makes the constructor throw EMFILE, then it serves",
          "[fault][process]") {
  const NoLeaks leaks;
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  std::string observed = "no exception";
  // UBSan checks dynamic types (of a std::system_error being built, of the pool in its
  // constructor), and the first check of each type needs two descriptors (a pipe, to probe
  // memory). The system_error's check is made here, while there is room; the pool's is made as
  // its constructor starts, when the two free descriptors below are still free.
  try {
    throw std::system_error(EMFILE, std::generic_category(), "warm-up");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EMFILE);
  }
  {
    // A limit a little above the open descriptors, then every number below it taken but two:
    // the constructor's socketpair gets them and its pipe fails.
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(highest_open_descriptor() + 16);
    REQUIRE(tight.rlim_cur <= saved.rlim_cur);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    std::exception_ptr thrown;
    bool filled = false;
    {
      const DescriptorFiller filler(2);
      filled = filler.ok();
      try {
        if (filled) concur::ProcessPoolExecutor pool(2);
      } catch (...) {
        thrown = std::current_exception();  // looked at once the descriptors are back
      }
    }
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    REQUIRE(filled);
    int error = 0;
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const std::system_error& e) {
      observed = e.what();
      error = e.code().value();
    }
    CHECK(error == EMFILE);
  }
  print_line("RLIMIT_NOFILE (real) in the constructor", 1, observed);
  CHECK(observed != "no exception");
  leaks.check();
  concur::ProcessPoolExecutor pool(2);
  check_serves(pool);
}

// Signals interrupt blocking calls (EINTR) in the pool, its fork server and its workers; each
// such call is retried, so the calls' results are intact and nothing fails.
TEST_CASE("EINTR on every other socket or pipe call, in every process, is retried: all succeed",
          "[fault][process]") {
  const NoLeaks leaks;
  {
    Fault fault(faults().interrupt, concur_fault::kEverywhere, EINTR);
    {
      concur::ProcessPoolExecutor pool(2);
      check_serves(pool);
      const std::vector<int> big(200000, 7);  // several sends and receives per message
      auto sum = pool.submit(
          [](const std::vector<int>& v) {
            long long total = 0;
            for (const int x : v) total += x;
            return total;
          },
          big);
      CHECK(sum.result() == 1400000);
    }
    print_line("EINTR on every other recv/send/recvmsg/sendmsg/read/writev", fault.failed(),
               "every call succeeded");
    CHECK(fault.failed() > 20);
  }
  leaks.check();
}

TEST_CASE("no worker can start: calls fail with BrokenProcessPool at once, then the pool serves",
          "[fault][process]") {
  struct Case {
    const char* name;
    concur_fault::Switch* where;
    int error;
  };
  const Case cases[] = {{"fork EAGAIN in the fork server", &faults().fork, EAGAIN},
                        {"socketpair EMFILE in the fork server", &faults().socketpair, EMFILE}};
  for (const Case& c : cases) {
    INFO(c.name);
    const NoLeaks leaks;
    {
      concur::ProcessPoolExecutor pool(2);  // no worker yet: they start on demand
      Fault fault(*c.where, concur_fault::kChildrenOnly, c.error);
      std::vector<concur::Future<int>> futures;
      for (int i = 0; i < 10; ++i) futures.push_back(pool.submit(square, i));
      int broken = 0;
      std::string observed;
      for (auto& f : futures) {
        REQUIRE(f.wait_for(concur_test::kProcessLongWait));  // never hangs
        try {
          static_cast<void>(f.result());
        } catch (const concur::BrokenProcessPool& e) {
          ++broken;
          observed = e.what();
        }
      }
      print_line(c.name, fault.failed(),
                 std::to_string(broken) + " of 10 calls failed: " + observed);
      CHECK(broken == 10);
      CHECK(fault.failed() >= 1);
      const std::string expected = std::error_code(c.error, std::generic_category()).message();
      CHECK_THAT(observed, concur_test::ContainsSubstring(expected));
      CHECK_THAT(observed, concur_test::ContainsSubstring("cannot start a worker process"));
      fault.lift();
      check_serves(pool);  // not broken: the next calls start a worker
    }
    leaks.check();
  }
}

// The kernel drops a descriptor passed to a process that has no room for it: the pool then
// gets "worker started" without the worker's socket. The worker sees end of file and leaves;
// with no other worker the calls fail at once, saying why; once there is room, it serves.
TEST_CASE("the parent out of descriptors as a worker's socket arrives: calls fail, then it serves",
          "[fault][process]") {
  const NoLeaks leaks;
  {
    concur::ProcessPoolExecutor pool(1);  // no worker yet: it starts on demand
    Fault fault(faults().drop_fd, concur_fault::kParentOnly, EMFILE);
    auto f = pool.submit(square, 3);
    REQUIRE(f.wait_for(concur_test::kProcessLongWait));  // never hangs
    const std::string observed = f.exception() ? message_of(f.exception()) : "no exception";
    print_line("worker socket dropped on the way to the parent", fault.failed(), observed);
    CHECK(fault.failed() >= 1);
    CHECK_THROWS_AS(f.result(), concur::BrokenProcessPool);
    CHECK_THAT(observed, concur_test::ContainsSubstring("could not be received"));
    fault.lift();
    check_serves(pool);
  }
  leaks.check();
}

TEST_CASE("fork failing while a worker runs: calls wait for that worker and all succeed",
          "[fault][process]") {
  const NoLeaks leaks;
  {
    concur::ProcessPoolExecutor pool(2);
    REQUIRE(pool.submit(square, 3).result() == 9);  // one worker runs
    Fault fault(faults().fork, concur_fault::kChildrenOnly, EAGAIN);
    std::vector<concur::Future<int>> futures;
    for (int i = 0; i < 200; ++i) futures.push_back(pool.submit(square, i));
    for (int i = 0; i < 200; ++i) {
      REQUIRE(futures[static_cast<std::size_t>(i)].wait_for(concur_test::kProcessLongWait));
      CHECK(futures[static_cast<std::size_t>(i)].result() == i * i);
    }
    print_line("fork EAGAIN with one worker alive", fault.failed(), "200 of 200 calls succeeded");
    CHECK(pool.worker_pids().size() == 1);
    fault.lift();
    check_serves(pool);
  }
  leaks.check();
}

TEST_CASE("the fork server cannot make its pipe: the pool breaks, nothing hangs, a new one serves",
          "[fault][process]") {
  const NoLeaks leaks;
  {
    Fault fault(faults().pipe2, concur_fault::kChildrenOnly, EMFILE);
    concur::ProcessPoolExecutor pool(2);  // its fork server exits at once
    std::string observed = "no exception";
    try {
      concur::Future<int> f = pool.submit(square, 2);
      REQUIRE(f.wait_for(concur_test::kProcessLongWait));
      observed = message_of(f.exception());
      CHECK_THROWS_AS(f.result(), concur::BrokenProcessPool);
    } catch (const concur::BrokenProcessPool& e) {  // the pool noticed before submit
      observed = e.what();
    }
    print_line("pipe2 EMFILE in the fork server", fault.failed(), observed);
    CHECK(fault.failed() == 1);
    CHECK_THROWS_AS(static_cast<void>(pool.submit(square, 2)), concur::BrokenProcessPool);
  }
  leaks.check();
  concur::ProcessPoolExecutor pool(2);
  check_serves(pool);
}
