// tests/fault/test_fault_process.cpp - fault injection against ProcessPoolExecutor.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// A storm: 10,000 calls whose outcome is planned up front from a seed (a value, an exception, a
// huge value, _exit, SIGSEGV in the worker, the worker shutting its own socket down), while a
// killer thread sends SIGKILL and SIGSTOP to random workers (task_timeout ends the stopped ones).
// Afterwards every future has ended, each planned outcome was observed exactly as often as it
// was planned (less the calls that an outside kill or stop hit, which are counted apart and
// bounded by the signals sent), no process or zombie is left, no descriptor leaked, and the pool
// still serves. Also: shutdown from several threads at once while others submit.
//
// The summary is printed with std::printf so that CI logs show it without -s. Set
// CONCUR_FAULT_SEED to replay a run. Tagged [fault][process]: the TSan builds skip [process].
#include <concur/errors.hpp>
#include <concur/future.hpp>
#include <concur/process_pool.hpp>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shutdown_race.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
using concur_test::ProcId;

namespace {

// ---------------------------------------------------------------------------------------------
// The planned outcomes.

enum Plan : int { kValue, kThrow, kHuge, kExit, kSegv, kCloseSocket, kPlanCount };

const char* plan_name(int plan) {
  switch (plan) {
    case kValue:
      return "value";
    case kThrow:
      return "throw";
    case kHuge:
      return "huge value";
    case kExit:
      return "_exit(7)";
    case kSegv:
      return "SIGSEGV";
    case kCloseSocket:
      return "socket shut";
    default:
      return "?";
  }
}

constexpr std::size_t kHugeSize = 512 * 1024;  // far above the socket buffer and max_ahead_bytes

std::uint64_t storm_seed() {
  if (const char* text = std::getenv("CONCUR_FAULT_SEED")) return std::strtoull(text, nullptr, 10);
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

// Out of 1000: value 900, throw 50, huge 10, _exit 13, SIGSEGV 13, socket shut 14.
int draw_plan(std::mt19937_64& rng) {
  const auto roll = static_cast<int>(rng() % 1000);
  if (roll < 900) return kValue;
  if (roll < 950) return kThrow;
  if (roll < 960) return kHuge;
  if (roll < 973) return kExit;
  if (roll < 986) return kSegv;
  return kCloseSocket;
}

std::string expected_value(int i) {
  return "v" + std::to_string(i);
}

// In a worker: the socket and pipe descriptors this process holds above 2 (they are its
// channel to the pool: a socket for calls, a pipe for replies).
std::vector<int> own_channel() {
  std::vector<int> ends;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return ends;
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    struct stat info {};
    if (fd > 2 && fd != own && ::fstat(fd, &info) == 0 &&
        (S_ISSOCK(info.st_mode) || S_ISFIFO(info.st_mode))) {
      ends.push_back(fd);
    }
  }
  ::closedir(dir);
  return ends;
}

// In a worker: shuts its channel down (the socket shut, the reply pipe closed), so that the
// pool reads end of file and the worker's reply fails.
void shut_own_sockets() {
  for (const int fd : own_channel()) {
    struct stat info {};
    if (::fstat(fd, &info) == 0 && S_ISFIFO(info.st_mode)) {
      static_cast<void>(::close(fd));
    } else {
      static_cast<void>(::shutdown(fd, SHUT_RDWR));
    }
  }
}

// Runs in a worker process.
std::string fault_task(int i, int plan) {
  switch (plan) {
    case kThrow:
      throw std::runtime_error("planned failure " + std::to_string(i));
    case kHuge: {
      std::string big(kHugeSize, static_cast<char>('a' + i % 26));
      big.front() = 'H';
      return big;
    }
    case kExit:
      ::_exit(7);
    case kSegv: {
      const rlimit no_core{0, 0};  // no core file for each of these
      static_cast<void>(::setrlimit(RLIMIT_CORE, &no_core));
      static_cast<void>(std::signal(SIGSEGV, SIG_DFL));  // not ASan's or Catch2's handler
      static_cast<void>(::raise(SIGSEGV));
      ::_exit(99);  // unreachable
    }
    case kCloseSocket:
      shut_own_sockets();
      return expected_value(i);
    default:
      return expected_value(i);
  }
}

// What a future ended with.
enum Seen : std::size_t {
  kSeenValue,
  kSeenThrow,
  kSeenHuge,
  kSeenExit,
  kSeenSegv,
  kSeenClosed,
  kSeenKilled,    // WorkerCrashedError by SIGKILL: the killer thread's
  kSeenTimedOut,  // TimeoutError: a worker stopped by the killer, killed at task_timeout
  kSeenOther,
  kSeenCount
};

Seen classify(const concur::Future<std::string>& f, int i, std::string& detail) {
  try {
    const std::string& v = f.result();
    if (v == expected_value(i)) return kSeenValue;  // kValue and kCloseSocket (reply got out)
    if (v.size() == kHugeSize && v.front() == 'H' && v.back() == static_cast<char>('a' + i % 26))
      return kSeenHuge;
    detail = "wrong value of size " + std::to_string(v.size());
  } catch (const concur::WorkerCrashedError& e) {
    if (e.signal() == SIGKILL) return kSeenKilled;
    if (e.signal() == SIGSEGV) return kSeenSegv;
    if (e.signal() == 0 && e.exit_status() == 7) return kSeenExit;
    if (e.signal() == 0 && e.exit_status() == 0) return kSeenClosed;
    detail = e.what();
  } catch (const concur::TimeoutError&) {
    return kSeenTimedOut;
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()) == "planned failure " + std::to_string(i)) return kSeenThrow;
    detail = e.what();
  } catch (...) {
    detail = concur_test::describe(std::current_exception());
  }
  return kSeenOther;
}

// The outcome a plan must give when nothing from outside interferes.
Seen natural_outcome(int plan) {
  switch (plan) {
    case kValue:
      return kSeenValue;
    case kThrow:
      return kSeenThrow;
    case kHuge:
      return kSeenHuge;
    case kExit:
      return kSeenExit;
    case kSegv:
      return kSeenSegv;
    default:
      return kSeenClosed;
  }
}

// A worker of the pool: a child of the fork server, itself a child of this process. (Guards the
// killer against a pid reused by some other process, however unlikely.)
bool is_our_grandchild(int pid) {
  const auto me = concur_test::read_stat(pid);
  if (!me || me->state == 'Z') return false;
  const auto parent = concur_test::read_stat(me->ppid);
  return parent && parent->ppid == concur_test::self_pid();
}

}  // namespace

TEST_CASE("a storm of 10,000 calls with planned failures and outside kills ends every future once",
          "[fault][process]") {
  constexpr int kTasks = 10000;
  constexpr int kMaxKills = 60;
  constexpr int kMaxStops = 4;
  const std::uint64_t seed = storm_seed();
  std::printf("fault storm: seed %llu (replay with CONCUR_FAULT_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  INFO("seed " << seed);

  std::mt19937_64 rng(seed);
  std::vector<int> plan(kTasks);
  std::array<int, kPlanCount> injected{};
  for (int& p : plan) {
    p = draw_plan(rng);
    ++injected[static_cast<std::size_t>(p)];
  }

  const std::size_t fds_before = concur_test::open_descriptor_count();
  const concur_test::Family family_before = concur_test::family();
  const auto started = std::chrono::steady_clock::now();

  std::atomic<int> kills{0};
  std::atomic<int> stops{0};
  std::vector<ProcId> stopped;  // the killer's only
  std::vector<ProcId> rescued;  // stopped ones that needed SIGCONT; the killer's only
  {
    concur::ProcessPoolOptions options;
    options.max_workers = 4;
    options.task_timeout = 5s;  // ends the calls of stopped workers; far above a normal call
    concur::ProcessPoolExecutor pool(options);

    std::atomic<int> completed{0};
    std::vector<std::atomic<int>> callbacks(kTasks);
    std::vector<concur::Future<std::string>> futures;
    futures.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) {
      futures.push_back(pool.submit(fault_task, i, plan[static_cast<std::size_t>(i)]));
      futures.back().add_done_callback([&callbacks, &completed, i](const auto&) {
        callbacks[static_cast<std::size_t>(i)].fetch_add(1);
        completed.fetch_add(1);
      });
    }

    // The killer stops while a fifth of the calls is still to run, so that every worker it
    // stopped while idle is still handed a call (and so ended by task_timeout).
    std::atomic<bool> stop_killer{false};
    std::thread killer([&] {
      std::mt19937_64 krng(seed ^ 0x9e3779b97f4a7c15ULL);
      while (!stop_killer.load() && completed.load() < kTasks * 4 / 5 &&
             (kills.load() < kMaxKills || stops.load() < kMaxStops)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + krng() % 20));
        const std::vector<int> pids = pool.worker_pids();
        if (pids.empty()) continue;
        const int pid = pids[krng() % pids.size()];
        // A stopped worker is left to task_timeout.
        const bool was_stopped = std::any_of(stopped.begin(), stopped.end(),
                                             [pid](const ProcId& id) { return id.pid == pid; });
        if (was_stopped || !is_our_grandchild(pid)) continue;
        // Deterministic mix: the first signal is a SIGSTOP, then every sixth.
        const int sent = kills.load() + stops.load();
        const bool stop = stops.load() < kMaxStops && (sent % 6 == 0 || kills >= kMaxKills);
        if (stop) {
          const auto id = concur_test::identify(pid);
          if (!id || ::kill(pid, SIGSTOP) != 0) continue;
          stopped.push_back(*id);
          stops.fetch_add(1);
        } else if (::kill(pid, SIGKILL) == 0) {
          kills.fetch_add(1);
        }
      }
      // Rescue: a worker stopped half-way through a reply blocks the pool's manager thread, so
      // task_timeout never fires (the [!mayfail] case below). One still there well after
      // task_timeout gets SIGCONT: its call then ends with its value, and the storm goes on.
      for (const ProcId& id : stopped) {
        if (concur_test::wait_exited(id, 15s)) continue;
        static_cast<void>(::kill(id.pid, SIGCONT));
        rescued.push_back(id);
      }
    });
    // Joined before the pool is destroyed, also when a REQUIRE throws.
    struct JoinKiller {
      std::atomic<bool>& flag;
      std::thread& thread;
      void join() {
        flag.store(true);
        if (thread.joinable()) thread.join();
      }
      ~JoinKiller() { join(); }
    } join_killer{stop_killer, killer};

    std::array<std::array<int, kSeenCount>, kPlanCount> seen{};
    int not_done = 0;
    const auto storm_deadline = std::chrono::steady_clock::now() + 150s;
    for (int i = 0; i < kTasks; ++i) {
      auto& f = futures[static_cast<std::size_t>(i)];
      if (!f.wait_until(storm_deadline)) {
        ++not_done;
        continue;
      }
      std::string detail;
      const Seen s = classify(f, i, detail);
      const int p = plan[static_cast<std::size_t>(i)];
      ++seen[static_cast<std::size_t>(p)][s];
      if (s == kSeenOther || (s != natural_outcome(p) && s != kSeenKilled && s != kSeenTimedOut)) {
        FAIL_CHECK("call " << i << " planned " << plan_name(p) << " ended otherwise (" << s
                           << "): " << detail);
      }
    }
    join_killer.join();
    const double storm_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    int killed = 0;
    int timed_out = 0;
    std::printf("fault storm: %d calls, 4 workers, %.1f s; per planned outcome:\n", kTasks,
                storm_seconds);
    std::printf("  %-12s %9s %9s %14s %10s\n", "outcome", "injected", "observed", "outside SIGKILL",
                "timed out");
    for (int p = 0; p < kPlanCount; ++p) {
      const auto& row = seen[static_cast<std::size_t>(p)];
      std::printf("  %-12s %9d %9d %14d %10d\n", plan_name(p),
                  injected[static_cast<std::size_t>(p)], row[natural_outcome(p)], row[kSeenKilled],
                  row[kSeenTimedOut]);
      killed += row[kSeenKilled];
      timed_out += row[kSeenTimedOut];
    }
    std::printf("  %-12s %9d %9d   (calls failed by an outside SIGKILL)\n", "SIGKILL", kills.load(),
                killed);
    std::printf("  %-12s %9d %9d   (calls failed by task_timeout after SIGSTOP)\n", "SIGSTOP",
                stops.load(), timed_out);
    std::printf("  %-12s %9zu             (stopped mid-reply, blocking the manager: SIGCONT)\n",
                "rescued", rescued.size());
    std::fflush(stdout);

    REQUIRE(not_done == 0);
    for (int p = 0; p < kPlanCount; ++p) {
      const auto& row = seen[static_cast<std::size_t>(p)];
      INFO("planned outcome " << plan_name(p));
      // Every planned call ended exactly one permitted way.
      CHECK(row[natural_outcome(p)] + row[kSeenKilled] + row[kSeenTimedOut] ==
            injected[static_cast<std::size_t>(p)]);
      // Each class really happened, many times (outside signals take only a few).
      CHECK(row[natural_outcome(p)] >= injected[static_cast<std::size_t>(p)] / 2);
      CHECK(injected[static_cast<std::size_t>(p)] >= 50);
    }
    CHECK(killed <= kills.load());
    CHECK(timed_out <= stops.load());
    CHECK(kills.load() > 0);
    CHECK(stops.load() > 0);
    // Every callback ran exactly once.
    int wrong_callbacks = 0;
    for (const auto& c : callbacks) wrong_callbacks += c.load() != 1 ? 1 : 0;
    CHECK(wrong_callbacks == 0);

    // Every stopped worker was ended (task_timeout) and reaped, unless it had to be rescued.
    for (const ProcId& id : stopped) {
      if (std::find(rescued.begin(), rescued.end(), id) != rescued.end()) continue;
      CHECK(concur_test::wait_exited(id, 20s));
    }

    // The pool still serves.
    std::vector<concur::Future<std::string>> after;
    for (int i = 0; i < 200; ++i) after.push_back(pool.submit(fault_task, i, int{kValue}));
    for (int i = 0; i < 200; ++i) {
      REQUIRE(after[static_cast<std::size_t>(i)].wait_for(60s));
      CHECK(after[static_cast<std::size_t>(i)].result() == expected_value(i));
    }
    pool.shutdown(true);
  }
  // Nothing is left: no process, no zombie, no descriptor.
  const concur_test::Family family_after = concur_test::family();
  CHECK(concur_test::new_since(family_before.descendants, family_after.descendants).empty());
  CHECK(family_after.zombies.empty());
  // waitpid agrees: this process has no child left at all, zombie or not.
  errno = 0;
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
  CHECK(concur_test::open_descriptor_count() == fds_before);
  std::printf("fault storm: total %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

namespace {

int twice(int x) {
  return 2 * x;
}

}  // namespace

TEST_CASE("shutdown from several threads while others submit ends every process-pool future once",
          "[fault][process]") {
  const std::size_t fds_before = concur_test::open_descriptor_count();
  const concur_test::Family family_before = concur_test::family();
  struct Entry {
    int x;
    concur::Future<int> future;
  };
  for (int round = 0; round < 6; ++round) {
    INFO("round " << round);
    concur_fault_test::ShutdownRace<Entry> race;
    {
      concur::ProcessPoolExecutor pool(2);
      race = concur_fault_test::race_shutdowns<Entry>(pool, 2, 400, 100, 20, [&pool](int x) {
        return Entry{x, pool.submit(twice, x)};
      });
      CHECK_THROWS_AS(pool.submit(twice, 1), concur::ShutdownError);
    }
    CHECK(race.early_returns == 0);
    int finished = 0;
    int cancelled = 0;
    for (const auto& [x, f] : race.submitted) {
      REQUIRE(f.done());
      if (f.cancelled()) {
        ++cancelled;
      } else {
        CHECK(f.result() == 2 * x);
        ++finished;
      }
    }
    CHECK(finished + cancelled == race.total);
    CHECK(race.refused <= 2);
  }
  const concur_test::Family family_after = concur_test::family();
  CHECK(concur_test::new_since(family_before.descendants, family_after.descendants).empty());
  CHECK(family_after.zombies.empty());
  CHECK(concur_test::open_descriptor_count() == fds_before);
}

TEST_CASE("process pool: shutdown(true) waits for a concurrent shutdown(cancel_futures) to cancel",
          "[fault][process]") {
  std::atomic<bool> cancelling{false};
  std::vector<concur::Future<int>> queued;
  int pending_after_return = 0;
  {
    concur::ProcessPoolExecutor pool(1);
    concur_test::Fifo out("fault");  // after the pool: closed first if a REQUIRE throws
    concur_test::Fifo gate("fault");
    concur::Future<int> blocker =
        pool.submit(concur_test::report_and_wait, out.path(), gate.path(), 7);
    REQUIRE(out.read_int() == 7);  // it runs, so the rest stays queued
    for (int i = 0; i < 200; ++i) {
      queued.push_back(pool.submit(twice, i));
      queued.back().add_done_callback([&cancelling](const concur::Future<int>& f) {
        if (!f.cancelled()) return;
        cancelling.store(true);
        std::this_thread::sleep_for(1ms);  // a slow callback widens the window
      });
    }
    std::thread canceller([&pool] { pool.shutdown(false, true); });
    while (!cancelling.load()) std::this_thread::yield();
    gate.open_gate();
    pool.shutdown(true);
    for (const auto& f : queued) pending_after_return += f.done() ? 0 : 1;
    canceller.join();
    CHECK(blocker.result() == 7);
  }
  std::printf("process pool: %d of 200 calls still pending when shutdown(true) returned\n",
              pending_after_return);
  std::fflush(stdout);
  CHECK(pending_after_return == 0);
}

namespace {

int slow_pid(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return concur_test::self_pid();
}

}  // namespace

namespace {
// In a worker: closes its channel's descriptors, so that the worker's reply fails with EBADF
// rather than a broken connection.
int close_own_sockets() {
  const std::vector<int> ends = own_channel();
  for (const int fd : ends) static_cast<void>(::close(fd));
  return static_cast<int>(ends.size());
}
}  // namespace

// The worker's reply then fails with EBADF, which it must treat as a lost connection: it
// leaves quietly (exit status 0), instead of dying on std::terminate (SIGABRT).
TEST_CASE("a task that closes its worker's socket descriptor fails that call only, quietly",
          "[fault][process]") {
  concur::ProcessPoolExecutor pool(1);
  auto f = pool.submit(close_own_sockets);
  try {
    static_cast<void>(f.result(concur_test::kProcessLongWait));
    FAIL("the call cannot have sent its reply");
  } catch (const concur::WorkerCrashedError& e) {
    CAPTURE(e.what());
    CHECK(e.signal() == 0);
    CHECK(e.exit_status() == 0);
  }
  CHECK(pool.submit(close_own_sockets).exception() != nullptr);  // a new worker, same fate
  CHECK(pool.submit(slow_pid, 0).result() > 0);                  // and a new one serves
}

TEST_CASE("workers ignore SIGINT: a Ctrl-C meant for the parent fails no call and kills no worker",
          "[fault][process]") {
  concur::ProcessPoolExecutor pool(2);
  std::vector<int> first_pids;
  for (int round = 0; round < 3; ++round) {
    std::vector<concur::Future<int>> futures;
    for (int i = 0; i < 4; ++i) futures.push_back(pool.submit(slow_pid, 100));
    std::this_thread::sleep_for(50ms);  // some calls run, some wait: either way nothing fails
    for (const int pid : pool.worker_pids()) REQUIRE(::kill(pid, SIGINT) == 0);
    for (auto& f : futures) {
      REQUIRE(f.wait_for(concur_test::kProcessLongWait));
      CHECK_NOTHROW(f.result());
    }
    std::vector<int> pids = pool.worker_pids();
    std::sort(pids.begin(), pids.end());
    if (round == 0) first_pids = pids;
    CHECK(pids == first_pids);  // the same two workers all along
  }
  CHECK(first_pids.size() == 2);
}

TEST_CASE("a pool outlives the thread that created it: its workers stay and it serves",
          "[fault][process]") {
  // PR_SET_PDEATHSIG fires when the forking *thread* ends, so concur never relies on it for the
  // fork server (a child of this thread): the fork server leaves on end of file instead.
  std::unique_ptr<concur::ProcessPoolExecutor> pool;
  int worker = 0;
  std::thread creator([&] {
    pool = std::make_unique<concur::ProcessPoolExecutor>(1);
    worker = pool->submit(slow_pid, 0).result();
  });
  creator.join();
  REQUIRE(pool != nullptr);
  std::this_thread::sleep_for(100ms);  // a death signal tied to the thread would have hit by now
  auto f = pool->submit(slow_pid, 0);
  REQUIRE(f.wait_for(concur_test::kProcessLongWait));
  CHECK(f.result() == worker);  // the same worker: nothing died with the thread
  pool.reset();
  const auto gone = concur_test::identify(worker);
  CHECK((!gone || concur_test::wait_exited(*gone, concur_test::kProcessLongWait)));
}

TEST_CASE("a worker stopped by SIGSTOP while idle does not hang shutdown(wait=true)",
          "[fault][process]") {
  const concur_test::Family family_before = concur_test::family();
  auto pool = std::make_unique<concur::ProcessPoolExecutor>(1);
  const int worker = pool->submit(slow_pid, 0).result();
  const auto id = concur_test::identify(worker);
  REQUIRE(id.has_value());
  REQUIRE(::kill(worker, SIGSTOP) == 0);
  std::atomic<bool> returned{false};
  std::thread closer([&] {
    pool->shutdown(true);
    returned.store(true);
  });
  const auto deadline = std::chrono::steady_clock::now() + concur_test::kProcessLongWait;
  while (!returned.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  const bool in_time = returned.load();
  if (!in_time) static_cast<void>(::kill(worker, SIGKILL));  // unblock it, then fail
  closer.join();
  CHECK(in_time);
  CHECK(concur_test::wait_exited(*id, concur_test::kProcessLongWait));
  pool.reset();
  const concur_test::Family family_after = concur_test::family();
  CHECK(concur_test::new_since(family_before.descendants, family_after.descendants).empty());
  CHECK(family_after.zombies.empty());
}

namespace {

std::string big_reply(int size) {
  return std::string(static_cast<std::size_t>(size), 'b');
}

}  // namespace

// The manager reads replies only as far as they have arrived (FrameReader): a worker stopped
// half-way through a large reply must not block it, so task_timeout still fires for that call
// and the pool's other calls go on. (With blocking reads the manager hung here.)
TEST_CASE("a worker stopped half-way through a large reply fails that call with TimeoutError",
          "[fault][process]") {
  concur::ProcessPoolOptions options;
  options.max_workers = 1;
  options.task_timeout = 1s;
  concur::ProcessPoolExecutor pool(options);
  // How long a reply takes when nothing interferes: the stops land all over that span.
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(pool.submit(big_reply, 64 << 20).result().size() == 64u << 20);
  const auto span = std::chrono::steady_clock::now() - t0;
  int stuck = 0;
  for (int round = 0; round < 20 && stuck == 0; ++round) {
    const int worker = pool.submit(slow_pid, 0).result();
    concur::Future<std::string> f = pool.submit(big_reply, 64 << 20);
    std::this_thread::sleep_for(span * round / 20);
    static_cast<void>(::kill(worker, SIGSTOP));
    if (!f.wait_for(10s)) {
      ++stuck;
      static_cast<void>(::kill(worker, SIGKILL));  // unblocks the manager: the test goes on
    }
    REQUIRE(f.wait_for(concur_test::kProcessLongWait));
    const std::exception_ptr error = f.exception();  // whole reply, or TimeoutError
    if (error) CHECK_THROWS_AS(std::rethrow_exception(error), concur::TimeoutError);
    // If the reply was whole before the stop, the worker lives on, stopped: let it serve the
    // next round (killing it could fail the next call, dispatched before its death is seen).
    static_cast<void>(::kill(worker, SIGCONT));
  }
  std::printf("large reply: the manager was stuck on a stopped worker in %d round(s)\n", stuck);
  std::fflush(stdout);
  CHECK(stuck == 0);
}
