// soak/soak.cpp - concur_soak: a bounded soak of both pools (issue "Reliability", item 4).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Usage: concur_soak [--seconds N] [--seed S]     (N: 1..300, default 60)
//
// Four threads submit batches of calls, without pause, to a ThreadPoolExecutor and to a
// ProcessPoolExecutor (task_timeout, max_tasks_per_child and stop_grace_period set). Each call
// is planned with a kind drawn at random: a value, a throw, cancel() right after submit,
// result(timeout) that times out, request_stop() on a call taking a std::stop_token, and, in
// the process pool, a worker that dies (raise(SIGSEGV), _exit(3)) or overruns task_timeout. A
// batch is drained in one of five ways, drawn at random too: result() one by one, wait(),
// as_completed(), done-callbacks, or then() continuations (inline or on the thread pool).
// Every outcome must be one its plan allows; the outcomes are counted and printed.
//
// Resources: after a warm-up (the first tenth of the run, at least 2 s) the submitters pause,
// everything in flight drains, and the soak prints this process's RSS (VmRSS of
// /proc/self/status, the parent only: workers come and go) and its open descriptors (entries
// of /proc/self/fd); the workers' RSS is printed alongside, for information. At the end, the
// same once everything has drained. Exits 1 if the end RSS exceeds 1.1x the warm-up RSS, if
// the descriptor counts differ, or if any outcome was wrong; a watchdog aborts the run if it
// takes longer than N + 120 s.
#include <concur/concur.hpp>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

constexpr int submitters = 4;
constexpr std::size_t thread_workers = 4;
constexpr std::size_t process_workers = 2;
constexpr auto task_timeout = 500ms;  // process calls of kind p_overrun exceed it
constexpr std::size_t max_tasks_per_child = 40;
constexpr auto stop_grace = 2s;    // far above the time a cooperative call needs
constexpr auto hang_limit = 60s;   // a batch not drained by then is a hang
constexpr int stopped_value = 42;  // what a call returns when it saw its stop request

// ---------------------------------------------------------------------------------------------
// The calls. Process calls are plain functions (they run in forked workers).

void sleep_ms(long ms) {
  timespec t{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&t, &t) != 0) {
  }
}

int twice(int x) {
  return 2 * x;
}

int throws(int /*x*/) {
  throw std::runtime_error("planned");
}

int slow_twice(int x) {
  sleep_ms(20);
  return 2 * x;
}

// Returns stopped_value once its token is stopped; -1 if nobody asked within 10 s.
int until_stopped(std::stop_token token, int /*x*/) {
  const auto give_up = Clock::now() + 10s;
  while (!token.stop_requested()) {
    if (Clock::now() > give_up) return -1;
    sleep_ms(1);
  }
  return stopped_value;
}

int segfaults(int /*x*/) {
  ::raise(SIGSEGV);
  return 0;
}

int exits(int /*x*/) {
  ::_exit(3);
}

int overruns(int /*x*/) {
  sleep_ms(10000);  // task_timeout kills the worker long before
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Plans and outcomes.

enum Kind {
  t_value,
  t_throw,
  t_cancel,
  t_wait_timeout,
  t_stop,
  p_value,
  p_throw,
  p_cancel,
  p_wait_timeout,
  p_stop,
  p_segv,
  p_exit,
  p_overrun,
  kind_count
};

constexpr std::array<const char*, kind_count> kind_names{
    "thread value",    "thread throw",  "thread cancel",  "thread result(timeout)",  "thread stop",
    "process value",   "process throw", "process cancel", "process result(timeout)", "process stop",
    "process SIGSEGV", "process _exit", "process overrun"};

// Relative weights: the process kinds that kill a worker are rarer (each costs a fork, an
// overrun holds a worker for task_timeout).
constexpr std::array<int, kind_count> kind_weights{20, 8, 8, 4, 4, 20, 8, 8, 4, 4, 2, 2, 1};

enum Outcome {
  value_ok,         // the value the call computes
  value_wrong,      // some other value
  cancelled,        // state cancelled
  planned_error,    // the std::runtime_error("planned") the call threw
  timeout_error,    // TimeoutError as the future's exception
  crashed,          // WorkerCrashedError
  cancelled_error,  // CancelledError as the exception of a finished future
  other_error,      // any other exception
  outcome_count
};

constexpr std::array<const char*, outcome_count> outcome_names{
    "value",        "wrong value",        "cancelled",      "planned error",
    "TimeoutError", "WorkerCrashedError", "CancelledError", "other error"};

struct Plan {
  Kind kind = t_value;
  int arg = 0;
  bool cancel_returned = false;  // t_cancel, p_cancel: what cancel() said
  bool early_timed_out = false;  // *_wait_timeout: result(1 ms) threw TimeoutError
};

int expected_value(const Plan& p) {
  return p.kind == t_stop || p.kind == p_stop ? stopped_value : 2 * p.arg;
}

Outcome classify(const concur::Future<int>& f, int expected, std::string& detail) {
  if (f.cancelled()) return cancelled;
  try {
    const std::exception_ptr error = f.exception();
    if (!error) return f.result() == expected ? value_ok : value_wrong;
    std::rethrow_exception(error);
  } catch (const concur::WorkerCrashedError& e) {
    detail = e.what();
    return crashed;
  } catch (const concur::TimeoutError& e) {
    detail = e.what();
    return timeout_error;
  } catch (const concur::CancelledError& e) {
    detail = e.what();
    return cancelled_error;
  } catch (const concur::Error& e) {
    detail = e.what();
    return other_error;
  } catch (const std::runtime_error& e) {
    detail = e.what();
    return std::strstr(e.what(), "planned") != nullptr ? planned_error : other_error;
  } catch (const std::exception& e) {
    detail = e.what();
    return other_error;
  }
  return other_error;
}

bool allowed(const Plan& p, Outcome o) {
  switch (p.kind) {
    case t_value:
    case p_value:
    case t_wait_timeout:
    case p_wait_timeout:
    case t_stop:
      return o == value_ok;
    case t_throw:
    case p_throw:
      return o == planned_error;
    case t_cancel:
    case p_cancel:
      return o == (p.cancel_returned ? cancelled : value_ok);
    case p_stop:  // stopped in time, or killed after stop_grace
      return o == value_ok || o == cancelled_error;
    case p_segv:
    case p_exit:
      return o == crashed;
    case p_overrun:
      return o == timeout_error;
    case kind_count:
      break;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Counters shared by the submitters.

struct Tally {
  std::mutex mutex;
  std::array<std::array<long, outcome_count>, kind_count> outcomes{};  // guarded by mutex
  long early_timeouts = 0;       // result(1 ms) threw TimeoutError (guarded by mutex)
  long early_values = 0;         // result(1 ms) already had the value (guarded by mutex)
  long cancels_won = 0;          // guarded by mutex
  long batches = 0;              // guarded by mutex
  std::array<long, 6> drains{};  // batches per drain method (guarded by mutex)
  long failures = 0;             // guarded by mutex
  int printed_failures = 0;      // guarded by mutex

  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    ++failures;
    if (printed_failures < 20) {
      ++printed_failures;
      std::fprintf(stderr, "soak: FAIL: %s\n", what.c_str());
    }
  }
};

Tally tally;
std::atomic<long> unobserved_failures{0};
std::atomic<long> callback_errors{0};

// ---------------------------------------------------------------------------------------------
// Pausing the submitters for the warm-up measurement.

class Gate {
 public:
  // Called by a submitter between batches: blocks while a pause is requested.
  void checkpoint() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!pause_) return;
    ++paused_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !pause_; });
    --paused_;
  }
  // Blocks until `running` submitters sit in checkpoint() (or have ended).
  void pause(int running, const std::atomic<int>& ended) {
    std::unique_lock<std::mutex> lock(mutex_);
    pause_ = true;
    while (paused_ + ended.load() < running) cv_.wait_for(lock, 10ms);
  }
  void resume() {
    std::lock_guard<std::mutex> lock(mutex_);
    pause_ = false;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool pause_ = false;  // guarded by mutex_
  int paused_ = 0;      // guarded by mutex_
};

// ---------------------------------------------------------------------------------------------
// One submitting thread.

struct Pools {
  concur::ThreadPoolExecutor& threads;
  concur::ProcessPoolExecutor& processes;
};

concur::Future<int> submit(Pools& pools, Plan& p) {
  switch (p.kind) {
    case t_value:
    case t_cancel:
      return pools.threads.submit(twice, p.arg);
    case t_throw:
      return pools.threads.submit(throws, p.arg);
    case t_wait_timeout:
      return pools.threads.submit(slow_twice, p.arg);
    case t_stop:
      // The thread-pool side of a stop: a call that sleeps on its token.
      return pools.threads.submit(
          [](std::stop_token token, int /*x*/) {
            std::mutex m;
            std::condition_variable_any cv;
            std::unique_lock<std::mutex> lock(m);
            cv.wait_for(lock, token, 10s, [] { return false; });
            return token.stop_requested() ? stopped_value : -1;
          },
          p.arg);
    case p_value:
    case p_cancel:
      return pools.processes.submit(twice, p.arg);
    case p_throw:
      return pools.processes.submit(throws, p.arg);
    case p_wait_timeout:
      return pools.processes.submit(slow_twice, p.arg);
    case p_stop:
      return pools.processes.submit(until_stopped, p.arg);
    case p_segv:
      return pools.processes.submit(segfaults, p.arg);
    case p_exit:
      return pools.processes.submit(exits, p.arg);
    case p_overrun:
      return pools.processes.submit(overruns, p.arg);
    case kind_count:
      break;
  }
  throw std::logic_error("unknown kind");
}

enum Drain { by_result, by_wait, by_as_completed, by_callbacks, by_then, by_then_on_pool };

constexpr std::array<const char*, 6> drain_names{"result()",  "wait()", "as_completed()",
                                                 "callbacks", "then()", "then(pool)"};

// What a done-callback or a continuation saw, per future of a batch.
struct Seen {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<int> calls;     // guarded by mutex: how many times each callback ran
  std::vector<int> outcomes;  // guarded by mutex: the outcome each saw
  std::size_t remaining = 0;  // guarded by mutex
};

// Drains a batch in the way `how` says; false (after reporting) if it hung.
bool drain(Pools& pools, Drain how, std::vector<concur::Future<int>>& futures,
           const std::vector<Plan>& plans, std::vector<int>& seen_outcomes) {
  const std::size_t n = futures.size();
  switch (how) {
    case by_result:
      for (const auto& f : futures) {
        if (!f.wait_for(hang_limit)) return tally.fail("result(): a future never ended"), false;
        try {
          static_cast<void>(f.result());
        } catch (const std::exception&) {  // classified below
        }
      }
      return true;
    case by_wait: {
      const auto r = concur::wait(futures, hang_limit);
      if (!r.not_done.empty() || r.done.size() != n) {
        return tally.fail("wait(): " + std::to_string(r.not_done.size()) + " never ended"), false;
      }
      return true;
    }
    case by_as_completed: {
      std::size_t count = 0;
      try {
        for (const auto& f : concur::as_completed(futures, hang_limit)) {
          if (!f.done()) tally.fail("as_completed() yielded a future not done");
          ++count;
        }
      } catch (const concur::TimeoutError&) {
        return tally.fail("as_completed(): timed out"), false;
      }
      if (count != n)
        tally.fail("as_completed() yielded " + std::to_string(count) + " of " + std::to_string(n));
      return true;
    }
    case by_callbacks:
    case by_then:
    case by_then_on_pool: {
      auto seen = std::make_shared<Seen>();
      seen->calls.assign(n, 0);
      seen->outcomes.assign(n, -1);
      seen->remaining = n;
      std::vector<concur::Future<int>> chained;
      for (std::size_t i = 0; i < n; ++i) {
        const int expected = expected_value(plans[i]);
        auto record = [seen, i, expected](const concur::Future<int>& f) {
          std::string ignored;
          const Outcome o = classify(f, expected, ignored);
          std::lock_guard<std::mutex> lock(seen->mutex);
          ++seen->calls[i];
          seen->outcomes[i] = o;
          if (--seen->remaining == 0) seen->cv.notify_all();
          return static_cast<int>(o);
        };
        if (how == by_callbacks) {
          futures[i].add_done_callback([record](const concur::Future<int>& f) { record(f); });
        } else if (how == by_then) {
          chained.push_back(futures[i].then(record));
        } else {
          chained.push_back(futures[i].then(pools.threads, record));
        }
      }
      {
        std::unique_lock<std::mutex> lock(seen->mutex);
        if (!seen->cv.wait_for(lock, hang_limit, [&] { return seen->remaining == 0; })) {
          return tally.fail(std::string(drain_names[how]) + ": " + std::to_string(seen->remaining) +
                            " never ran"),
                 false;
        }
        for (std::size_t i = 0; i < n; ++i) {
          if (seen->calls[i] != 1) {
            tally.fail(std::string(drain_names[how]) + " ran " + std::to_string(seen->calls[i]) +
                       " times for one future");
          }
        }
        seen_outcomes = seen->outcomes;
      }
      for (std::size_t i = 0; i < chained.size(); ++i) {
        if (!chained[i].wait_for(hang_limit)) return tally.fail("then(): never ended"), false;
        try {
          if (chained[i].result() != seen_outcomes[i]) tally.fail("then(): wrong value");
        } catch (const std::exception& e) {
          tally.fail(std::string("then(): ") + e.what());
        }
      }
      return true;
    }
  }
  return true;
}

void submitter(int index, unsigned seed, Clock::time_point end, Pools& pools, Gate& gate,
               std::atomic<int>& ended) {
  std::mt19937 rng(seed + static_cast<unsigned>(index) * 7919U);
  std::discrete_distribution<int> pick_kind(kind_weights.begin(), kind_weights.end());
  std::uniform_int_distribution<int> pick_size(4, 24);
  std::uniform_int_distribution<int> pick_drain(0, 5);
  std::uniform_int_distribution<int> pick_arg(0, 1000000);
  while (Clock::now() < end) {
    gate.checkpoint();
    const auto n = static_cast<std::size_t>(pick_size(rng));
    std::vector<Plan> plans(n);
    std::vector<concur::Future<int>> futures;
    futures.reserve(n);
    for (Plan& p : plans) {
      p.kind = static_cast<Kind>(pick_kind(rng));
      p.arg = pick_arg(rng);
      futures.push_back(submit(pools, p));
      concur::Future<int>& f = futures.back();
      if (p.kind == t_cancel || p.kind == p_cancel) {
        p.cancel_returned = f.cancel();
        if (p.cancel_returned != f.cancelled()) tally.fail("cancel() disagrees with cancelled()");
      } else if (p.kind == t_stop || p.kind == p_stop) {
        static_cast<void>(f.request_stop());
      }
    }
    // result(timeout) that times out: the calls sleep 20 ms, the wait is 1 ms.
    for (std::size_t i = 0; i < n; ++i) {
      if (plans[i].kind != t_wait_timeout && plans[i].kind != p_wait_timeout) continue;
      try {
        if (futures[i].result(1ms) != expected_value(plans[i])) {
          tally.fail("result(1ms) returned a wrong value");
        }
      } catch (const concur::TimeoutError&) {
        plans[i].early_timed_out = true;
        if (futures[i].done()) tally.fail("result(1ms) timed out on a future that is done");
      } catch (const std::exception& e) {
        tally.fail(std::string("result(1ms) threw ") + e.what());
      }
    }
    const auto how = static_cast<Drain>(pick_drain(rng));
    std::vector<int> seen;
    if (!drain(pools, how, futures, plans, seen)) continue;
    std::lock_guard<std::mutex> lock(tally.mutex);
    ++tally.batches;
    ++tally.drains[how];
    for (std::size_t i = 0; i < n; ++i) {
      const Plan& p = plans[i];
      std::string detail;
      const Outcome o = classify(futures[i], expected_value(p), detail);
      ++tally.outcomes[p.kind][o];
      if (p.kind == t_wait_timeout || p.kind == p_wait_timeout) {
        ++(p.early_timed_out ? tally.early_timeouts : tally.early_values);
      }
      if (p.cancel_returned) ++tally.cancels_won;
      std::string why;
      if (!allowed(p, o)) {
        why = std::string(kind_names[p.kind]) + " ended as " + outcome_names[o];
        if (!detail.empty()) why += " (" + detail + ")";
      } else if (!seen.empty() && seen[i] != o) {
        why = std::string(drain_names[how]) + " saw " +
              outcome_names[static_cast<std::size_t>(seen[i] < 0 ? 0 : seen[i])] +
              ", the future says " + outcome_names[o];
      }
      if (!why.empty()) {
        ++tally.failures;
        if (tally.printed_failures < 20) {
          ++tally.printed_failures;
          std::fprintf(stderr, "soak: FAIL: %s\n", why.c_str());
        }
      }
    }
  }
  ended.fetch_add(1);
}

// ---------------------------------------------------------------------------------------------
// Measuring.

long vm_rss_kib(const std::string& status_path) {
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

int open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the descriptor of the listing itself
}

// This process's descendants (the fork server and the workers): their pids.
std::vector<int> descendants() {
  std::map<int, int> parent_of;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return {};
  while (const dirent* entry = ::readdir(dir)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    parent_of[pid] = ppid;
  }
  ::closedir(dir);
  std::vector<int> out;
  const int self = static_cast<int>(::getpid());
  for (const auto& [pid, ppid] : parent_of) {
    for (int up = ppid, hops = 0; up > 1 && hops < 8; ++hops) {
      if (up == self) {
        out.push_back(pid);
        break;
      }
      const auto it = parent_of.find(up);
      if (it == parent_of.end()) break;
      up = it->second;
    }
  }
  return out;
}

struct Sample {
  long rss = 0;           // KiB, this process
  int fds = 0;            // this process
  long children_rss = 0;  // KiB, the fork server and the workers (for information)
  std::size_t children = 0;
};

// With nothing in flight: makes sure every worker process runs (a crash or max_tasks_per_child
// may have left fewer, and each has a socket here), then samples until two samples agree.
Sample settle_and_sample(concur::ProcessPoolExecutor& processes) {
  Sample last;
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<concur::Future<int>> hold;
    for (std::size_t i = 0; i < process_workers; ++i)
      hold.push_back(processes.submit(slow_twice, 1));
    for (auto& f : hold) static_cast<void>(f.wait_for(hang_limit));
    std::this_thread::sleep_for(100ms);
    Sample s;
    s.rss = vm_rss_kib("/proc/self/status");
    s.fds = open_fds();
    const std::vector<int> kids = descendants();
    s.children = kids.size();
    for (int pid : kids) s.children_rss += vm_rss_kib("/proc/" + std::to_string(pid) + "/status");
    const bool all_workers = processes.worker_pids().size() == process_workers &&
                             s.children == process_workers + 1;  // + the fork server
    if (all_workers && attempt > 0 && s.fds == last.fds && s.children == last.children) return s;
    last = s;
  }
  std::fprintf(stderr, "soak: the process pool never settled at %zu workers\n", process_workers);
  return last;
}

// ---------------------------------------------------------------------------------------------

class Watchdog {
 public:
  explicit Watchdog(Clock::duration limit)
      : thread_([this, limit] {
          std::unique_lock<std::mutex> lock(mutex_);
          const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(limit).count();
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "soak: watchdog: the run took longer than %lld s; aborting\n",
                         static_cast<long long>(seconds));
            std::abort();
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mutex_
  std::thread thread_;
};

int usage() {
  std::fputs("usage: concur_soak [--seconds N (1..300, default 60)] [--seed S]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long seconds = 60;
  auto seed = static_cast<unsigned>(std::random_device{}());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      return usage();
    }
  }
  if (seconds < 1 || seconds > 300) return usage();

  // Workers die of SIGSEGV on purpose: no core files.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);

  const Watchdog watchdog(std::chrono::seconds(seconds + 120));
  concur::set_unobserved_failure_handler([](std::exception_ptr) { ++unobserved_failures; });
  concur::set_callback_error_handler([](std::exception_ptr) { ++callback_errors; });

  std::printf("soak: %ld s, %d submitters, %zu threads, %zu processes, seed %u\n", seconds,
              submitters, thread_workers, process_workers, seed);
  std::fflush(stdout);

  concur::ProcessPoolOptions options;
  options.max_workers = process_workers;
  options.max_tasks_per_child = max_tasks_per_child;
  options.task_timeout = task_timeout;
  options.stop_grace_period = stop_grace;
  concur::ProcessPoolExecutor processes(options);
  concur::ThreadPoolExecutor threads(thread_workers);
  Pools pools{threads, processes};

  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  const auto warm_up = std::max<Clock::duration>(std::chrono::seconds(seconds) / 10, 2s);
  Gate gate;
  std::atomic<int> ended{0};
  std::vector<std::thread> threads_of_submitters;
  for (int i = 0; i < submitters; ++i) {
    threads_of_submitters.emplace_back(submitter, i, seed, end, std::ref(pools), std::ref(gate),
                                       std::ref(ended));
  }

  std::this_thread::sleep_until(start + warm_up);
  gate.pause(submitters, ended);
  const Sample first = settle_and_sample(processes);
  std::printf("soak: warm-up RSS %ld KiB, %d fds (workers: %zu processes, %ld KiB)\n", first.rss,
              first.fds, first.children, first.children_rss);
  std::fflush(stdout);
  gate.resume();

  for (auto& t : threads_of_submitters) t.join();
  const Sample last = settle_and_sample(processes);
  const double ratio =
      first.rss > 0 ? static_cast<double>(last.rss) / static_cast<double>(first.rss) : 0.0;
  std::printf("soak: end RSS %ld KiB (%.2fx), %d fds (workers: %zu processes, %ld KiB)\n", last.rss,
              ratio, last.fds, last.children, last.children_rss);

  long total = 0;
  {
    std::lock_guard<std::mutex> lock(tally.mutex);
    std::printf("soak: %ld batches;", tally.batches);
    for (std::size_t d = 0; d < drain_names.size(); ++d) {
      std::printf(" %s %ld%s", drain_names[d], tally.drains[d],
                  d + 1 < drain_names.size() ? "," : "\n");
    }
    for (std::size_t k = 0; k < kind_count; ++k) {
      std::string line;
      for (std::size_t o = 0; o < outcome_count; ++o) {
        const long c = tally.outcomes[k][o];
        if (c == 0) continue;
        total += c;
        line +=
            (line.empty() ? "" : ", ") + std::string(outcome_names[o]) + " " + std::to_string(c);
      }
      std::printf("soak:   %-24s %s\n", kind_names[k], line.empty() ? "-" : line.c_str());
    }
    std::printf(
        "soak: %ld calls; cancel() won %ld; result(1ms) timed out %ld, had the value %ld; "
        "unobserved failures reported %ld, callback errors %ld\n",
        total, tally.cancels_won, tally.early_timeouts, tally.early_values,
        unobserved_failures.load(), callback_errors.load());
  }

  bool ok = true;
  if (tally.failures != 0) {
    std::printf("soak: FAIL: %ld wrong outcomes or hangs\n", tally.failures);
    ok = false;
  }
  if (ratio > 1.1) {
    std::printf("soak: FAIL: RSS grew %.2fx (limit 1.1x)\n", ratio);
    ok = false;
  }
  if (last.fds != first.fds) {
    std::printf("soak: FAIL: %d descriptors open at the end, %d after the warm-up\n", last.fds,
                first.fds);
    ok = false;
  }
  if (callback_errors.load() != 0) {
    std::printf("soak: FAIL: a done-callback threw\n");
    ok = false;
  }
  std::printf("soak: %s\n", ok ? "OK" : "FAILED");
  std::fflush(stdout);
  return ok ? 0 : 1;
}
