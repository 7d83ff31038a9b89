// concur/process_pool.hpp - ProcessPoolExecutor: an Executor that runs calls in worker
// processes (POSIX: fork and sockets).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// A ProcessPoolExecutor runs calls in up to max_workers worker processes, like Python's
// concurrent.futures.ProcessPoolExecutor with the fork start method: CPU-bound work in
// separate address spaces, and a crash that cannot take the caller down.
//
// Workers are forks of this very program, so code addresses mean the same in them: a call is
// a function pointer, a captureless lambda or an empty function object (checked at compile
// time), and its arguments and result cross as bytes through Codec<T> (see codec.hpp).
// Exceptions thrown in a worker reach the future: the standard exception types and concur's
// own are rebuilt as themselves, any other type as RemoteError (its type name and what()).
//
// Unlike Python's pool:
// - a worker that dies (a signal, exit(), the OOM killer) fails only the call it was running,
//   with WorkerCrashedError, and is replaced; the pool keeps serving
//   (CrashPolicy::break_pool restores Python's behaviour);
// - task_timeout kills a worker whose call overruns and fails that call with TimeoutError;
// - workers are forked from a single-threaded fork server started with the pool, never from
//   the threaded parent: a mutex held by a parent thread started after the pool cannot be
//   copied into a worker locked. (A lock held by some thread while the pool itself is being
//   constructed is copied into the fork server, as with any fork: build pools early.)
//
// Workers start no threads, exit when the parent dies or the pool shuts down, and are all
// reaped: no zombie outlives shutdown(). Descriptors are close-on-exec; a dead worker never
// raises SIGPIPE in the parent. One thread of the parent (the pool's manager) does all I/O.
//
// Example:
//   int count(int n) { ... }                       // a plain function
//   concur::ProcessPoolExecutor pool(4);
//   concur::Future<int> f = pool.submit(count, 10);
//   for (int r : pool.map(count, std::vector{1, 2, 3})) std::cout << r << "\n";

#include <concur/detail/config.hpp>
#if !CONCUR_HAS_POSIX
#error \
    "concur/process_pool.hpp needs POSIX fork() and sockets; on this platform use concur/thread_pool.hpp"
#endif

#include <concur/codec.hpp>
#include <concur/errors.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>

#include <concur/detail/posix/io.hpp>
#include <concur/detail/posix/worker.hpp>
#include <concur/detail/remote.hpp>
#include <concur/detail/remote_executor.hpp>
#include <concur/detail/task.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur {

/// What a ProcessPoolExecutor does when a worker process dies while running a call.
enum class CrashPolicy {
  replace_worker,  ///< fail that call with WorkerCrashedError, start a new worker, go on
  break_pool,      ///< Python's behaviour: BrokenProcessPool for every pending call and submit
};

/// Options of a ProcessPoolExecutor.
struct ProcessPoolOptions {
  /// At most this many worker processes; 0 means hardware_concurrency.
  std::size_t max_workers = 0;
  /// Runs once at the start of every worker process. If it throws or the worker dies in it,
  /// the pool breaks (BrokenProcessPool), as in Python.
  void (*initializer)() = nullptr;
  /// A worker exits after this many calls and is replaced; 0: never.
  std::size_t max_tasks_per_child = 0;
  /// A call running longer is stopped: its worker is killed and replaced, its future fails
  /// with TimeoutError. Unset: no limit.
  std::optional<std::chrono::nanoseconds> task_timeout{};
  /// What a worker's death does to the pool.
  CrashPolicy on_worker_crash = CrashPolicy::replace_worker;
  /// A call asked to stop (Future::request_stop(), shutdown(_, true)) that has not ended this
  /// long after the request reached its worker is killed with its worker, which is replaced
  /// (whatever on_worker_crash says); its future ends finished, with CancelledError as its
  /// exception. Unset: never killed for that.
  std::optional<std::chrono::nanoseconds> stop_grace_period = std::chrono::seconds(1);
};

/// An Executor backed by worker processes. Python: concurrent.futures.ProcessPoolExecutor.
class ProcessPoolExecutor final : public detail::RemoteExecutor {
 public:
  /// A pool of at most max_workers processes (0: hardware_concurrency).
  explicit ProcessPoolExecutor(std::size_t max_workers = 0)
      : ProcessPoolExecutor(ProcessPoolOptions{max_workers, nullptr, 0, std::nullopt,
                                               CrashPolicy::replace_worker}) {}

  /// Starts the fork server (a fork of the calling process) and the manager thread; workers
  /// start on demand. Throws std::system_error if the fork server cannot be started.
  explicit ProcessPoolExecutor(ProcessPoolOptions options)
      : max_workers_(options.max_workers != 0 ? options.max_workers : default_max_workers()),
        options_(options) {
    auto [pool_end, server_end] = detail::posix::socket_pair();
    auto [wake_r, wake_w] = detail::posix::wake_pipe();
    const detail::posix::WorkerConfig config{options.initializer, options.max_tasks_per_child};
    detail::posix::flush_standard_streams();  // or every worker would print it again
    const pid_t pid = CONCUR_SYSCALL(fork)();
    if (pid < 0) detail::posix::throw_errno(errno, "concur::ProcessPoolExecutor: fork");
    if (pid == 0) {
      pool_end.reset();
      wake_r.reset();
      wake_w.reset();
      detail::posix::fork_server_main(server_end.get(), config);
    }
    server_pid_ = pid;
    control_ = std::move(pool_end);
    wake_r_ = std::move(wake_r);
    wake_w_ = std::move(wake_w);
    try {
      manager_ = std::thread([this] { manager_main(); });
    } catch (...) {
      control_.reset();  // the fork server sees end of file and leaves
      wait_for(server_pid_);
      throw;
    }
  }

  /// shutdown(true): waits for every submitted call; every worker is reaped.
  ~ProcessPoolExecutor() override { shutdown(true); }

  // submit() and map() (checked at compile time): see detail::RemoteExecutor.

  /// Stops accepting calls; see Executor::shutdown. With wait, returns once every call has
  /// ended and every worker and the fork server have been reaped. With cancel_futures, running
  /// calls that take a std::stop_token are asked to stop (see stop_grace_period).
  void shutdown(bool wait = true, bool cancel_futures = false) override {
    std::deque<detail::Task> cancelled;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
      if (cancel_futures) {
        cancelled.swap(queue_);
        stop_running_ = true;
        ++cancelling_;
      }
    }
    if (cancel_futures) {
      for (detail::Task& task : cancelled) task.cancel();
      std::lock_guard<std::mutex> lock(mutex_);
      --cancelling_;  // the manager may finish now (see finished())
    }
    wake();
    if (wait) {
      std::lock_guard<std::mutex> join_lock(join_mutex_);
      if (manager_.joinable() && manager_.get_id() != std::this_thread::get_id()) manager_.join();
    }
  }

  /// Sends SIGTERM to every worker and shuts down without waiting: queued calls are
  /// cancelled, running ones fail with BrokenProcessPool. Python 3.14: terminate_workers().
  void terminate_workers() { signal_workers(SIGTERM); }

  /// As terminate_workers(), with SIGKILL. Python 3.14: kill_workers().
  void kill_workers() { signal_workers(SIGKILL); }

  /// The most worker processes this pool runs at once.
  std::size_t max_workers() const noexcept { return max_workers_; }

  /// The pids of the workers serving the pool (not those retiring at max_tasks_per_child).
  std::vector<int> worker_pids() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pids_;
  }

 protected:
  void submit_task(detail::Task task) override {
    require_remote_capable(task, "concur::ProcessPoolExecutor");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (broken_)
        throw BrokenProcessPool("concur::ProcessPoolExecutor::submit: " + broken_reason_);
      if (shutdown_) {
        throw ShutdownError(
            "concur::ProcessPoolExecutor::submit: cannot schedule new tasks after shutdown(); "
            "submit before shutting down, or use a new executor");
      }
      queue_.push_back(std::move(task));
    }
    wake();
  }

 private:
  static std::size_t default_max_workers() {
    const unsigned cpus = std::thread::hardware_concurrency();
    return cpus == 0 ? 1 : cpus;
  }

  // Wakes the manager when a call it sent to a worker is asked to stop. Runs in the thread
  // that calls request_stop().
  struct WakeManager {
    ProcessPoolExecutor* pool;
    void operator()() const noexcept { pool->wake(); }
  };
  using StopWatch = std::stop_callback<WakeManager>;

  std::unique_ptr<StopWatch> watch_stop(const detail::Task& task) {
    if (!task.stoppable()) return nullptr;
    return std::make_unique<StopWatch>(task.stop_token(), WakeManager{this});
  }

  // A call written ahead to a busy worker.
  struct Ahead {
    detail::Task task;
    std::uint64_t id = 0;
    std::unique_ptr<StopWatch> watch;  // wakes the manager when it is asked to stop
    bool stop_sent = false;            // it was sent marked as asked to stop
    std::size_t bytes = 0;             // its message size
  };

  struct Worker {
    int pid = 0;
    detail::posix::Fd fd;       // its socket: calls go out on it
    detail::posix::Fd replies;  // the pipe its replies come from (non-blocking)
    detail::posix::FrameReader reader{detail::posix::kind_bit(detail::posix::result) |
                                          detail::posix::kind_bit(detail::posix::ready) |
                                          detail::posix::kind_bit(detail::posix::init_failed),
                                      reply_readahead, detail::posix::FrameReader::Source::pipe};
    bool ready = false;                // its initializer ran
    std::optional<detail::Task> task;  // the call it runs
    std::uint64_t call_id = 0;
    std::optional<detail::Clock::time_point> deadline;
    bool timed_out = false;               // we killed it for overrunning task_timeout
    bool gone = false;                    // its socket ended: waiting for its exit status
    std::size_t served = 0;               // calls it finished
    bool retiring = false;                // reached max_tasks_per_child: it exits and gets no call
    detail::Clock::time_point started{};  // when `task` started (as far as we can tell)
    // Calls already written to its socket, in order: each starts as soon as the one before it
    // ends, without waiting for this thread to be scheduled (see dispatch()). Never started
    // while `task` is set: a worker runs its calls one at a time and replies to each before it
    // starts the next, so the oldest unanswered call is the one it runs.
    std::deque<Ahead> ahead;
    std::size_t ahead_bytes = 0;    // the sum of their message sizes
    std::vector<std::byte> outbox;  // frames for it, sent at the end of dispatch()
    // Stop requests, for calls that take a std::stop_token (see forward_stop_requests()).
    std::unique_ptr<StopWatch> task_watch;  // wakes the manager when `task` is asked to stop
    bool stop_sent = false;                 // the worker knows that `task` was asked to stop
    bool stop_seen = false;                 // forward_stop_requests() has handled `task`'s request
    std::optional<detail::Clock::time_point> stop_deadline;  // `task` is killed after it
    std::uint64_t stop_killed = 0;  // the call we killed it for: it did not stop in time
  };

  // Calls sent ahead to a worker that then died before starting them: they run again
  // elsewhere, first, and are already marked running. Manager thread only.
  std::deque<detail::Task> resend_;

  // Calls sent ahead must fit in the socket's buffer, so that writing them never blocks the
  // manager while the worker is busy (and maybe writing a large reply to us).
  static constexpr std::size_t max_ahead_bytes = 32 * 1024;
  // Calls written ahead to one worker: about this much work (see ahead_limit()), and at most
  // max_ahead_calls.
  static constexpr std::chrono::microseconds ahead_budget{200};
  static constexpr std::int64_t max_ahead_calls = 64;
  // How long the manager watches for the next event before it sleeps (see wait_for_events()).
  static constexpr std::chrono::microseconds manager_spin{50};
  // How much of a worker's replies the manager reads with one recv.
  static constexpr std::size_t reply_readahead = 64 * 1024;

  // Makes the manager look at the queue, the flags and the stop requests again. One byte in
  // the pipe is enough for any number of wake-ups until the manager has seen it: a submit
  // then costs no system call while the manager is awake anyway.
  void wake() noexcept {
    if (wake_pending_.exchange(true)) return;
    const char byte = 1;
    static_cast<void>(::write(wake_w_.get(), &byte, 1));  // full pipe: a wake-up is pending
  }

  static void wait_for(pid_t pid) noexcept {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }

  void signal_workers(int sig) {
    std::deque<detail::Task> cancelled;
    std::vector<int> pids;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
      terminating_ = true;
      cancelled.swap(queue_);
      pids = pids_;
      ++cancelling_;
    }
    for (detail::Task& task : cancelled) task.cancel();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --cancelling_;
    }
    for (const int pid : pids) static_cast<void>(::kill(pid, sig));
    wake();
  }

  // ---- the manager thread: all I/O with the fork server and the workers --------------------

  void manager_main() {
    try {
      run_manager();
    } catch (...) {
      break_pool("the pool's manager failed (" + detail::describe(std::current_exception()) + ")");
      fail_all_running("the pool's manager failed");
    }
    // Workers see end of file and leave; then the fork server, which reaps them all. A worker
    // stopped by SIGSTOP (a debugger, a job-control signal sent to the wrong pid) would never
    // read that end of file, and the fork server would wait for it forever: SIGCONT first.
    for (auto& w : workers_) {
      if (w->pid <= 0) continue;
      if (w->task || !w->ahead.empty()) {
        static_cast<void>(::kill(w->pid, SIGKILL));
      } else {
        static_cast<void>(::kill(w->pid, SIGCONT));
      }
    }
    workers_.clear();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pids_.clear();
    }
    control_.reset();
    wait_for(server_pid_);
  }

  void run_manager() {
    while (true) {
      dispatch();
      forward_stop_requests();  // before poll(): it may set a deadline that poll() must honour
      if (finished()) return;
      std::vector<pollfd>& fds = poll_fds_;
      std::vector<Worker*>& polled = polled_;
      fds.clear();
      polled.clear();
      fds.push_back({wake_r_.get(), POLLIN, 0});
      fds.push_back({control_.get(), POLLIN, 0});
      for (auto& w : workers_) {
        if (!w->gone) {
          fds.push_back({w->replies.get(), POLLIN, 0});
          polled.push_back(w.get());
        }
      }
      const int rc = wait_for_events(fds);
      if (rc < 0) {
        if (errno == EINTR) continue;
        detail::posix::throw_errno(errno, "concur::ProcessPoolExecutor: poll");
      }
      if (fds[0].revents != 0) {
        char drain[256];  // one byte at most: wake() writes only after the store below
        static_cast<void>(::read(wake_r_.get(), drain, sizeof drain));
        // Before the next look at what woke us (the loop goes round): a wake() from now on
        // writes the pipe again.
        wake_pending_.store(false);
      }
      if (fds[1].revents != 0) read_control();
      for (std::size_t i = 0; i < polled.size(); ++i) {
        if (fds[i + 2].revents != 0) read_worker(*polled[i]);
      }
      enforce_timeouts();
      collect_gone();
    }
  }

  // poll() on fds. For a short while after the last event (manager_spin), the manager watches
  // without sleeping, giving up the CPU between looks: a submit or a reply that comes soon,
  // the usual case while quick calls flow, then costs no wake-up of this thread, which on a
  // virtual machine can take tens of microseconds. It does not watch while the calls running
  // are long ones (their replies are far off; the CPU is theirs). Then it sleeps until an event
  // or the next deadline.
  int wait_for_events(std::vector<pollfd>& fds) {
    const auto nfds = static_cast<nfds_t>(fds.size());
    const bool running = std::any_of(workers_.begin(), workers_.end(),
                                     [](const auto& w) { return w->task.has_value(); });
    const bool quick = call_time_ns_ <= std::chrono::nanoseconds(2 * manager_spin).count();
    while ((quick || !running) && detail::Clock::now() < spin_until_) {
      const int rc = ::poll(fds.data(), nfds, 0);
      if (rc != 0) {
        if (rc > 0) spin_until_ = detail::Clock::now() + manager_spin;
        return rc;
      }
      std::this_thread::yield();
    }
    const int rc = ::poll(fds.data(), nfds, poll_timeout_ms());
    if (rc > 0) spin_until_ = detail::Clock::now() + manager_spin;
    return rc;
  }

  // Done: shut down, nothing queued, no call running, no worker awaiting its status.
  bool finished() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // cancelling_: a shutdown(_, true) in another thread still cancels the calls it took
      // off the queue; a shutdown(true) returning now would leave them pending.
      if (!shutdown_ || !queue_.empty() || cancelling_ != 0) return false;
    }
    return resend_.empty() && std::none_of(workers_.begin(), workers_.end(), [](const auto& w) {
             return w->task.has_value() || !w->ahead.empty();
           });
  }

  int poll_timeout_ms() const {
    std::optional<detail::Clock::time_point> next;
    for (const auto& w : workers_) {
      if (w->deadline && !w->timed_out && (!next || *w->deadline < *next)) next = w->deadline;
      if (w->stop_deadline && w->stop_killed == 0 && (!next || *w->stop_deadline < *next)) {
        next = w->stop_deadline;
      }
    }
    if (!next) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - detail::Clock::now());
    return static_cast<int>(
        std::clamp<long long>(left.count(), 0, std::numeric_limits<int>::max()));
  }

  std::optional<detail::Task> pop_queued() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) return std::nullopt;
    detail::Task task = std::move(queue_.front());
    queue_.pop_front();
    return task;
  }

  void push_front_queued(detail::Task task) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_front(std::move(task));
  }

  bool has_queued() {
    std::lock_guard<std::mutex> lock(mutex_);
    return (!queue_.empty() || !resend_.empty()) && !broken_;
  }

  // The next call to send and whether it is already marked running (a resent one), or nullopt.
  std::optional<std::pair<detail::Task, bool>> next_call() {
    if (!resend_.empty()) {
      detail::Task task = std::move(resend_.front());
      resend_.pop_front();
      return std::pair<detail::Task, bool>(std::move(task), true);
    }
    std::optional<detail::Task> task = pop_queued();
    if (!task) return std::nullopt;
    return std::pair<detail::Task, bool>(std::move(*task), false);
  }

  // Hands queued calls to idle workers, starting workers as needed. When every worker is busy
  // and no more may start, calls are written ahead to the workers' sockets (Python keeps one
  // extra call in its call queue too): a worker then goes on to its next call the moment it
  // replies, even when this thread is slow to be scheduled because the workers keep every core
  // busy. How many go ahead follows how long calls take (see ahead_limit()): one for long
  // calls, so that a call never waits long behind another while a worker could take it; many
  // for quick ones, which then travel many to a system call. Everything for one worker goes
  // out in one write.
  void dispatch() {
    dispatch_calls();
    for (auto& w : workers_) {
      if (w->outbox.empty()) continue;
      const bool sent = w->fd &&  // reset once it is gone
                        detail::posix::send_all(w->fd.get(), w->outbox.data(), w->outbox.size());
      w->outbox.clear();
      if (w->outbox.capacity() > max_ahead_bytes) w->outbox.shrink_to_fit();
      // Its socket is broken (it died, or a task shut it): it gets no more calls. Its replies
      // are still read to their end of file, for a reply sent before may still be unread;
      // then its calls fail as a crash, or run again, once its status arrives.
      if (!sent) w->fd.reset();
    }
  }

  void dispatch_calls() {
    // Under break_pool a worker that died with a call breaks the pool once its status
    // arrives: until then nothing more may start, or a queued call could run and succeed.
    if (options_.on_worker_crash == CrashPolicy::break_pool &&
        std::any_of(workers_.begin(), workers_.end(), [](const auto& w) {
          return w->gone && w->task.has_value() && w->stop_killed == 0;
        })) {
      return;
    }
    const std::size_t limit = ahead_limit();
    while (has_queued()) {
      Worker* idle = nullptr;
      Worker* ahead = nullptr;  // the busy worker with the fewest calls written ahead
      std::size_t live = 0;
      for (auto& w : workers_) {
        if (w->gone || w->retiring || !w->fd) continue;
        ++live;
        if (!w->task) {
          if (idle == nullptr) idle = w.get();
          continue;
        }
        // A worker's calls ahead are topped up once half of them have gone, and then all the
        // way: more calls to a write, fewer writes.
        const std::size_t in_flight = 1 + w->ahead.size();
        const bool has_room = w->ahead.size() < limit &&
                              (w->ahead.size() * 2 <= limit || !w->outbox.empty()) &&
                              (options_.max_tasks_per_child == 0 ||
                               w->served + in_flight + 1 <= options_.max_tasks_per_child);
        if (has_room && (ahead == nullptr || w->ahead.size() < ahead->ahead.size())) {
          ahead = w.get();
        }
      }
      if (idle == nullptr && live < max_workers_) {
        if (!spawn_worker()) return;
        continue;
      }
      Worker* to = idle != nullptr ? idle : ahead;
      if (to == nullptr) return;
      std::optional<std::pair<detail::Task, bool>> call = next_call();
      if (!call) return;
      auto& [task, started] = *call;
      message_.bytes().clear();
      if (message_.bytes().capacity() > max_ahead_bytes) message_ = Writer();  // a huge one
      try {
        task.encode(message_);
      } catch (...) {
        if (started || task.start()) task.fail(std::current_exception());
        continue;
      }
      const std::size_t size = message_.bytes().size();
      if (to != idle && to->ahead_bytes + size > max_ahead_bytes) {
        // Too big to write ahead: it waits for an idle worker, first in line.
        if (started) {
          resend_.push_front(std::move(task));
        } else {
          push_front_queued(std::move(task));
        }
        return;
      }
      if (!started && !task.start()) continue;  // cancelled while queued
      std::unique_ptr<StopWatch> watch;
      try {
        watch = watch_stop(task);
      } catch (...) {
        task.fail(std::current_exception());
        continue;
      }
      // Asked to stop before it was sent (pending, or resent): it starts with its token stopped.
      const bool stopped = task.stoppable() && task.stop_token().stop_requested();
      const std::uint64_t id = ++next_call_id_;
      const detail::posix::Header h{detail::posix::call,
                                    stopped ? detail::posix::call_stop_requested : 0, id, size};
      if (to == idle) {
        to->call_id = id;
        to->started = detail::Clock::now();
        if (options_.task_timeout) to->deadline = detail::deadline_after(*options_.task_timeout);
        to->task = std::move(task);
        to->task_watch = std::move(watch);
        to->stop_sent = stopped;
        to->stop_seen = false;
        to->stop_deadline.reset();  // set by forward_stop_requests()
      } else {
        to->ahead.push_back(Ahead{std::move(task), id, std::move(watch), stopped, size});
        to->ahead_bytes += size;
      }
      detail::posix::append_frame(to->outbox, h, message_.bytes());
    }
  }

  // How many calls may wait written ahead on a busy worker: about ahead_budget of work, going
  // by how long calls have taken lately; at least one.
  std::size_t ahead_limit() const noexcept {
    if (call_time_ns_ == unknown_call_time) return 1;
    const auto budget = std::chrono::duration_cast<std::chrono::nanoseconds>(ahead_budget);
    const std::int64_t per_call = std::max<std::int64_t>(call_time_ns_, 1);
    return static_cast<std::size_t>(
        std::clamp<std::int64_t>(budget.count() / per_call, 1, max_ahead_calls));
  }

  // Folds one call's time (from its start, or the reply before it, to its reply) into the
  // running estimate that ahead_limit() reads.
  void learn_call_time(detail::Clock::duration took) noexcept {
    const auto ns = std::max<std::int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(), 0);
    call_time_ns_ =
        call_time_ns_ == unknown_call_time ? ns : call_time_ns_ + (ns - call_time_ns_) / 8;
  }

  // Asks the fork server for a worker; false (and the pool broken when none runs) on failure.
  bool spawn_worker() {
    if (!detail::posix::send_message(control_.get(),
                                     detail::posix::Header{detail::posix::spawn, 0, 0, 0})) {
      throw std::runtime_error("the fork server is gone");
    }
    while (true) {
      detail::posix::Header h;
      detail::posix::Fd ends[2];  // its socket, and its replies' pipe
      if (!detail::posix::recv_with_fds(control_.get(), h, ends)) {
        throw std::runtime_error("the fork server is gone");
      }
      if (h.kind == detail::posix::exited) {
        worker_exited(static_cast<int>(h.id), h.aux);
        continue;
      }
      if (h.kind != detail::posix::spawned) continue;
      if (h.id == 0 || !ends[0] || !ends[1]) {
        // h.id != 0 without the descriptors: the worker started, but its ends were lost on the
        // way (this process is out of descriptors); the worker sees end of file and leaves.
        const std::string why =
            h.id == 0 ? "the fork server's socketpair, pipe2 or fork failed: " +
                            std::error_code(h.aux, std::generic_category()).message()
                      : std::string("its socket could not be received (out of descriptors?)");
        if (std::none_of(workers_.begin(), workers_.end(),
                         [](const auto& w) { return !w->gone; })) {
          fail_unstartable("cannot start a worker process (" + why + ")");
        }
        return false;
      }
      auto w = std::make_unique<Worker>();
      w->pid = static_cast<int>(h.id);
      w->fd = std::move(ends[0]);
      w->replies = std::move(ends[1]);
      detail::posix::set_nonblocking(w->replies.get());  // read_frame() never waits
      {
        std::lock_guard<std::mutex> lock(mutex_);
        pids_.push_back(w->pid);
      }
      workers_.push_back(std::move(w));
      return true;
    }
  }

  void read_control() {
    detail::posix::Header h;
    detail::posix::Fd ends[2];
    if (!detail::posix::recv_with_fds(control_.get(), h, ends)) {
      throw std::runtime_error("the fork server is gone");
    }
    using detail::posix::kind_bit;
    if (!detail::posix::header_valid(
            h, kind_bit(detail::posix::exited) | kind_bit(detail::posix::spawned))) {
      throw std::runtime_error("the fork server sent a corrupt message (kind " +
                               std::to_string(h.kind) + ", size " + std::to_string(h.size) + ")");
    }
    if (h.kind == detail::posix::exited) worker_exited(static_cast<int>(h.id), h.aux);
  }

  // Reads what a worker has sent so far; acts once a whole frame is in. Never waits for the
  // rest of a frame: a worker stopped half-way through a reply holds up no other worker, and
  // its task_timeout still fires.
  void read_worker(Worker& w) {
    // Replies sent back to back arrive together: every whole one is handled now.
    do {
      read_frame(w);
    } while (!w.gone && w.reader.buffered());
  }

  void read_frame(Worker& w) {
    const std::optional<detail::posix::FrameStatus> status = w.reader.read_some(w.replies.get());
    if (!status) return;  // the rest of the frame comes later
    if (*status == detail::posix::FrameStatus::malformed && exit_status_.count(w.pid) == 0) {
      // Its memory is corrupt, or it is not ours to trust: it goes the way of a worker that
      // died (its call fails as a crash and a new worker takes its place). Not yet reaped, so
      // the pid is still its own.
      static_cast<void>(::kill(w.pid, SIGKILL));
    }
    if (*status != detail::posix::FrameStatus::ok) {
      worker_gone(w);
      return;
    }
    const detail::posix::Header h = w.reader.header();
    const std::vector<std::byte> payload = std::move(w.reader.payload());
    switch (h.kind) {
      case detail::posix::ready:
        w.ready = true;
        return;
      case detail::posix::init_failed: {
        std::string cause;
        try {
          Reader r(payload);
          cause = detail::describe(detail::decode_exception(r));
        } catch (...) {  // the report itself is corrupt: say that instead
          cause = detail::describe(std::current_exception());
        }
        break_pool("a worker process could not start: its initializer threw (" + cause + ")");
        return;
      }
      case detail::posix::result:
        if (w.task && h.id == w.call_id) {
          Reader r(payload);
          w.task->finish_from(r);
          w.task.reset();
          w.deadline.reset();
          w.task_watch.reset();
          w.stop_sent = false;
          w.stop_seen = false;
          w.stop_deadline.reset();
          ++w.served;
          const auto now = detail::Clock::now();
          learn_call_time(now - w.started);
          w.started = now;
          if (!w.ahead.empty()) {  // the call written ahead starts now
            Ahead& next = w.ahead.front();
            w.task = std::move(next.task);
            w.call_id = next.id;
            if (options_.task_timeout) w.deadline = detail::deadline_after(*options_.task_timeout);
            w.task_watch = std::move(next.watch);
            w.stop_sent = next.stop_sent;
            w.ahead_bytes -= next.bytes;
            w.ahead.pop_front();
          } else if (std::none_of(workers_.begin(), workers_.end(),
                                  [](const auto& o) { return o->task.has_value(); }) &&
                     !has_queued()) {
            // Every call has ended: the next ones may be of another kind. They start with
            // one call ahead again, until their first reply shows how quick they are.
            call_time_ns_ = unknown_call_time;
          }
          if (options_.max_tasks_per_child != 0 && w.served >= options_.max_tasks_per_child) {
            w.retiring = true;  // it leaves after this reply; a new worker takes its place
            std::lock_guard<std::mutex> lock(mutex_);
            pids_.erase(std::remove(pids_.begin(), pids_.end(), w.pid), pids_.end());
          }
        }
        return;
      default:
        return;
    }
  }

  // The worker's socket ended (it exited or died). Its call, if any, fails once the fork
  // server has told us how it ended.
  void worker_gone(Worker& w) {
    w.gone = true;
    w.fd.reset();
    w.replies.reset();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pids_.erase(std::remove(pids_.begin(), pids_.end(), w.pid), pids_.end());
    }
    const auto status = exit_status_.find(w.pid);
    if (status != exit_status_.end()) {
      const int s = status->second;
      exit_status_.erase(status);
      ended(w, s);
    }
  }

  void worker_exited(int pid, int status) {
    for (auto& w : workers_) {
      if (w->pid != pid) continue;
      if (w->gone) {
        ended(*w, status);
      } else {
        exit_status_[pid] = status;  // its end of file is still to be read
      }
      return;
    }
  }

  // REQUIRES: w.gone. Settles w's call from its wait status; w is removed by collect_gone().
  void ended(Worker& w, int status) {
    w.pid = -w.pid;  // marks it for collect_gone()
    const int pid = -w.pid;
    const bool was_ready = w.ready;
    w.task_watch.reset();
    // Calls written ahead never started: they run elsewhere, first and in their order,
    // unless the pool is stopping.
    const bool terminating = terminating_now();
    for (auto it = w.ahead.rbegin(); it != w.ahead.rend(); ++it) {
      it->watch.reset();
      if (terminating) {
        it->task.fail(std::make_exception_ptr(
            BrokenProcessPool("concur::ProcessPoolExecutor: worker " + std::to_string(pid) +
                              " was stopped by terminate_workers() or kill_workers()")));
      } else {
        resend_.push_front(std::move(it->task));
      }
    }
    w.ahead.clear();
    w.ahead_bytes = 0;
    if (!w.task) {
      if (!was_ready && options_.initializer != nullptr) {
        break_pool("a worker process died in its initializer (" + describe_status(status) + ")");
      }
      return;
    }
    detail::Task task = std::move(*w.task);
    w.task.reset();
    std::exception_ptr error;
    if (w.stop_killed != 0 && !w.timed_out) {
      // Killed on purpose: never a crash, whatever on_worker_crash says.
      if (w.stop_killed == w.call_id) {
        error = std::make_exception_ptr(CancelledError(
            "concur::ProcessPoolExecutor: the call did not stop within stop_grace_period (" +
            std::to_string(grace_ms()) + " ms) of request_stop(); its worker " +
            std::to_string(pid) + " was killed and replaced"));
      } else {  // the call it was killed for ended just before, and this one had started
        error = std::make_exception_ptr(WorkerCrashedError(
            pid, -1, SIGKILL,
            "concur::ProcessPoolExecutor: worker " + std::to_string(pid) +
                " was killed because the call before this one did not stop within "
                "stop_grace_period; this call may have started, so it is not run again; the "
                "worker was replaced"));
      }
    } else if (w.timed_out) {
      error = std::make_exception_ptr(TimeoutError(
          "concur::ProcessPoolExecutor: the call ran longer than task_timeout; its worker " +
          std::to_string(pid) + " was killed and replaced"));
    } else if (terminating_now()) {
      error = std::make_exception_ptr(BrokenProcessPool(
          "concur::ProcessPoolExecutor: worker " + std::to_string(pid) +
          " was stopped by terminate_workers() or kill_workers() while running the call"));
    } else if (!was_ready && options_.initializer != nullptr) {
      const std::string why =
          "a worker process died in its initializer (" + describe_status(status) + ")";
      break_pool(why);
      error = std::make_exception_ptr(BrokenProcessPool("concur::ProcessPoolExecutor: " + why));
    } else {
      const bool signalled = WIFSIGNALED(status);
      const int exit_status = signalled ? -1 : WEXITSTATUS(status);
      const int sig = signalled ? WTERMSIG(status) : 0;
      const std::string what = "concur::ProcessPoolExecutor: worker " + std::to_string(pid) + " " +
                               describe_status(status) + " while running a task";
      if (options_.on_worker_crash == CrashPolicy::break_pool) {
        break_pool("worker " + std::to_string(pid) + " " + describe_status(status) +
                   " while running a task (CrashPolicy::break_pool)");
        error = std::make_exception_ptr(BrokenProcessPool(
            what + "; the pool is broken (CrashPolicy::break_pool): create a new one"));
      } else {
        error = std::make_exception_ptr(
            WorkerCrashedError(pid, exit_status, sig, what + "; the worker was replaced"));
      }
    }
    task.fail(error);
  }

  void collect_gone() {
    workers_.erase(std::remove_if(workers_.begin(), workers_.end(),
                                  [](const auto& w) { return w->gone && w->pid < 0; }),
                   workers_.end());
  }

  void enforce_timeouts() {
    const auto now = detail::Clock::now();
    for (auto& w : workers_) {
      // A gone worker too: its socket ended, but it has not exited (stopped by SIGSTOP after
      // closing its socket, say); without this its call would wait for its status forever.
      if (w->task && w->deadline && !w->timed_out && w->stop_killed == 0 && w->pid > 0 &&
          now >= *w->deadline) {
        w->timed_out = true;
        static_cast<void>(::kill(w->pid, SIGKILL));
      }
      if (w->task && w->stop_deadline && !w->timed_out && w->stop_killed == 0 && !w->gone &&
          now >= *w->stop_deadline) {
        // A reply already waiting is read first (the next poll returns at once): the call
        // ended in time after all.
        pollfd reply{w->replies.get(), POLLIN, 0};
        if (::poll(&reply, 1, 0) > 0) continue;
        w->stop_killed = w->call_id;
        static_cast<void>(::kill(w->pid, SIGKILL));
      }
    }
  }

  long long grace_ms() const {
    return options_.stop_grace_period
               ? std::chrono::duration_cast<std::chrono::milliseconds>(*options_.stop_grace_period)
                     .count()
               : 0;
  }

  // Passes stop requests on to the workers. A call asked to stop (its future's request_stop(),
  // or shutdown(_, true)) gets a stop signal naming its call id once it is the call its worker
  // runs: a call written ahead gets it when it starts (the worker ignores a signal naming
  // another call, so it must not be sent earlier; one asked before it was sent was marked in
  // its message instead). Its grace period starts then.
  void forward_stop_requests() {
    bool stop_all = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_all = std::exchange(stop_running_, false);
    }
    if (stop_all) {  // shutdown(_, true): every call sent or to be resent
      for (auto& w : workers_) {
        if (w->task) static_cast<void>(w->task->request_stop());
        for (Ahead& a : w->ahead) static_cast<void>(a.task.request_stop());
      }
      for (detail::Task& task : resend_) static_cast<void>(task.request_stop());
    }
    for (auto& w : workers_) {
      if (!w->task || w->gone || !w->task->stoppable() || w->stop_seen) continue;
      if (!w->task->stop_token().stop_requested()) continue;
      if (!w->stop_sent) {
        static_cast<void>(detail::posix::send_stop_request(w->pid, w->call_id));
        w->stop_sent = true;
      }
      w->stop_seen = true;
      if (options_.stop_grace_period) {
        w->stop_deadline = detail::deadline_after(*options_.stop_grace_period);
      }
    }
  }

  bool terminating_now() {
    std::lock_guard<std::mutex> lock(mutex_);
    return terminating_;
  }

  static std::string describe_status(int status) {
    if (WIFSIGNALED(status)) {
      const int sig = WTERMSIG(status);
      const char* name = signal_name(sig);
      return "was killed by signal " + std::to_string(sig) +
             (name != nullptr ? std::string(" (") + name + ")" : std::string());
    }
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }

  static const char* signal_name(int sig) noexcept {
    switch (sig) {
      case SIGKILL:
        return "SIGKILL";
      case SIGSEGV:
        return "SIGSEGV";
      case SIGABRT:
        return "SIGABRT";
      case SIGTERM:
        return "SIGTERM";
      case SIGBUS:
        return "SIGBUS";
      case SIGFPE:
        return "SIGFPE";
      case SIGILL:
        return "SIGILL";
      case SIGINT:
        return "SIGINT";
      case SIGQUIT:
        return "SIGQUIT";
      case SIGHUP:
        return "SIGHUP";
      case SIGPIPE:
        return "SIGPIPE";
      case SIGXCPU:
        return "SIGXCPU";
      case SIGUSR1:
        return "SIGUSR1";
      case SIGUSR2:
        return "SIGUSR2";
      default:
        return nullptr;
    }
  }

  // Python's behaviour: every queued call fails with BrokenProcessPool, and so does every later
  // submit; running calls fail too and their workers are stopped.
  void break_pool(const std::string& reason) {
    std::deque<detail::Task> pending;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!broken_) {
        broken_ = true;
        broken_reason_ = reason + "; the pool is broken: create a new one";
      }
      pending.swap(queue_);
    }
    const auto error = std::make_exception_ptr(
        BrokenProcessPool("concur::ProcessPoolExecutor: " + broken_reason_copy()));
    for (detail::Task& task : pending) task.fail(error);
    fail_all_running(reason);
  }

  // No worker runs and none can start (fork or socketpair failed: EAGAIN, EMFILE, ENOMEM...):
  // every call waiting for one fails now instead of waiting for a resource that may never come
  // back. The pool is not broken: the next submit tries to start a worker again.
  void fail_unstartable(const std::string& reason) {
    std::deque<detail::Task> pending;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending.swap(queue_);
    }
    const auto error = std::make_exception_ptr(BrokenProcessPool(
        "concur::ProcessPoolExecutor: " + reason +
        "; the call did not run; the pool is not broken: later submits try again"));
    for (detail::Task& task : resend_) task.fail(error);
    resend_.clear();
    for (detail::Task& task : pending) {
      static_cast<void>(task.start());  // pending -> running -> finished; a cancelled one stays
      static_cast<void>(task.fail(error));
    }
  }

  std::string broken_reason_copy() {
    std::lock_guard<std::mutex> lock(mutex_);
    return broken_reason_;
  }

  void fail_all_running(const std::string& reason) {
    const auto error = std::make_exception_ptr(BrokenProcessPool(
        "concur::ProcessPoolExecutor: " + reason + "; the pool is broken: create a new one"));
    for (detail::Task& task : resend_) task.fail(error);
    resend_.clear();
    for (auto& w : workers_) {
      if (!w->task && w->ahead.empty()) continue;
      if (w->task) w->task->fail(error);
      for (Ahead& a : w->ahead) a.task.fail(error);
      w->task.reset();
      w->ahead.clear();
      w->ahead_bytes = 0;
      if (!w->gone) static_cast<void>(::kill(w->pid, SIGKILL));
    }
  }

  const std::size_t max_workers_;
  const ProcessPoolOptions options_;

  pid_t server_pid_ = -1;
  detail::posix::Fd control_;  // to the fork server; manager-only after construction
  detail::posix::Fd wake_r_;   // the manager polls it; submit() and shutdown() write wake_w_
  detail::posix::Fd wake_w_;
  std::thread manager_;
  std::mutex join_mutex_;                  // serialises joining the manager
  std::atomic<bool> wake_pending_{false};  // a byte is in the wake pipe, or about to be

  // The manager thread's own state.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::map<int, int> exit_status_;  // pid -> wait status, for workers whose EOF is still unread
  std::uint64_t next_call_id_ = 0;
  // A running estimate of how long a call takes, in ns (see ahead_limit()). Unknown at first:
  // one call ahead, as in Python, until a reply shows that more may go.
  static constexpr std::int64_t unknown_call_time = -1;
  std::int64_t call_time_ns_ = unknown_call_time;
  Writer message_;                          // the call being encoded, reused
  std::vector<pollfd> poll_fds_;            // run_manager()'s, reused
  detail::Clock::time_point spin_until_{};  // see wait_for_events()
  std::vector<Worker*> polled_;

  mutable std::mutex mutex_;
  std::deque<detail::Task> queue_;  // guarded by mutex_
  std::vector<int> pids_;           // guarded by mutex_: live workers
  bool shutdown_ = false;           // guarded by mutex_
  bool stop_running_ = false;       // guarded by mutex_: shutdown(_, true) asks running calls
  int cancelling_ = 0;              // guarded by mutex_: shutdowns cancelling what they took
  bool terminating_ = false;        // guarded by mutex_
  bool broken_ = false;             // guarded by mutex_
  std::string broken_reason_;       // guarded by mutex_
};

}  // namespace concur
