// concur/detail/posix/worker.hpp - the fork server and the worker processes it starts.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// The pool forks one fork server when it is built, before it starts any thread of its own.
// The fork server is single-threaded; every worker is forked from it, never from the
// (threaded) parent, so a lock held by a parent thread started after the pool is never copied
// into a worker. The fork server reaps its workers and tells the pool how each one ended.
//
// Workers run calls one at a time, start no threads of their own, and leave with _exit (no
// static destructors, no atexit handlers of the parent's). A worker exits when its socket
// reaches end of file: when the pool closes it, or when the parent dies.

#include <concur/codec.hpp>

#include <concur/detail/posix/io.hpp>
#include <concur/detail/remote.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <system_error>
#include <vector>

namespace concur::detail::posix {

// Writes out what this process has buffered for standard output and error (C stdio and the
// standard streams, which may be unsynchronised): before a fork, so that children do not
// print the parent's pending output again; in a worker, before a reply and before _exit.
inline void flush_standard_streams() noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {  // a stream set to throw: its output is lost, the worker goes on
  }
  static_cast<void>(std::fflush(nullptr));
}

// How many bytes a worker reads from its socket at once (see FrameReader).
inline constexpr std::size_t worker_readahead = 64 * 1024;

struct WorkerConfig {
  void (*initializer)() = nullptr;
  std::size_t max_tasks_per_child = 0;  // 0: no limit
};

// Closes every descriptor except 0, 1, 2 and those in keep: a fork inherits all of the
// parent's, and a worker holding another pool's socket open would keep that pool's workers
// from ever seeing end of file.
inline void close_other_fds(std::vector<int> keep) {
  std::vector<int> open;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(dir);
    while (const dirent* entry = ::readdir(dir)) {  // NOLINT(concurrency-mt-unsafe): one thread
      const int fd = std::atoi(entry->d_name);
      if (fd > 2 && fd != own) open.push_back(fd);
    }
    ::closedir(dir);
  } else {
    const long max = ::sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? static_cast<int>(max) : 65536); ++fd) {
      open.push_back(fd);
    }
  }
  for (const int fd : open) {
    if (std::find(keep.begin(), keep.end(), fd) == keep.end()) static_cast<void>(::close(fd));
  }
}

inline void reset_signals_for_worker() {
  // Fatal signals kill a worker the default way, so the pool learns which signal it was (a
  // test framework's or a sanitizer's handler would report it as its own failure). Ctrl-C goes
  // to the parent, which shuts the pool down; workers ignore it and finish their call.
  for (const int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGCHLD, SIGPIPE}) {
    static_cast<void>(::signal(sig, SIG_DFL));
  }
  static_cast<void>(::signal(SIGINT, SIG_IGN));
  sigset_t none;
  sigemptyset(&none);
  static_cast<void>(::sigprocmask(SIG_SETMASK, &none, nullptr));
}

// The worker's life: initializer, then calls until end of file. Never returns. Calls come on
// the socket fd; replies go out on the pipe reply_fd, which costs the pool less per reply than
// a socket (no buffer to allocate and free for each), and they go one by one, as each call
// ends: a reply held back would be lost if the next call crashed the worker.
[[noreturn]] inline void worker_main(int fd, int reply_fd, const WorkerConfig& config,
                                     pid_t server) {
#if defined(__linux__)
  static_cast<void>(::prctl(PR_SET_PDEATHSIG, SIGKILL));  // the fork server is gone: go too
  if (::getppid() != server) ::_exit(0);
#else
  static_cast<void>(server);
#endif
  if (config.initializer != nullptr) {
    try {
      config.initializer();
    } catch (...) {
      Writer w;
      encode_current_exception(w);
      const Header h{init_failed, 0, 0, w.bytes().size()};
      static_cast<void>(write_message(reply_fd, h, w.bytes()));
      flush_standard_streams();
      ::_exit(1);
    }
  }
  if (!write_message(reply_fd, Header{ready, 0, 0, 0})) ::_exit(0);
  std::size_t served = 0;
  // Calls the pool writes ahead arrive together; one recv takes them all (see FrameReader).
  FrameReader reader(kind_bit(call), worker_readahead);
  while (true) {
    // Anything but a whole call frame (the pool is gone, or the stream is corrupt) ends us,
    // and so does a socket error (a task closed the descriptor, say): the pool then sees end
    // of file, as from any worker that left.
    try {
      if (reader.read_some(fd, true) != FrameStatus::ok) break;
    } catch (const std::system_error&) {
      break;
    }
    const Header h = reader.header();
    std::vector<std::byte>& message = reader.payload();
    Writer out;
    remote_stop.call_id = static_cast<std::uintptr_t>(h.id);
    if ((h.aux & call_stop_requested) != 0) remote_stop_request(remote_stop.call_id);
    try {
      Reader in(message);
      run_remote_call(in, out);
    } catch (...) {  // a message we cannot even start to read
      out = Writer();
      out.write_raw(std::uint8_t{1});
      encode_current_exception(out);
    }
    if (message.capacity() > (1U << 20)) message = {};  // do not keep a huge buffer around
    flush_standard_streams();                           // the call's output, before anything else
    const Header reply{result, 0, h.id, out.bytes().size()};
    try {
      if (!write_message(reply_fd, reply, out.bytes())) break;
    } catch (const std::system_error&) {
      break;
    }
    if (config.max_tasks_per_child != 0 && ++served >= config.max_tasks_per_child) break;
  }
  flush_standard_streams();
  ::_exit(0);
}

// ---- stop requests -------------------------------------------------------------------------
//
// The pool asks a worker to stop call `id` with sigqueue(): a real-time signal carrying the id,
// so that requests queue instead of merging, and one naming a call the worker has already
// finished is recognised and ignored. The handler only touches lock-free atomics and
// std::stop_source::request_stop() (see RemoteStop in remote.hpp). The fork server installs it
// before forking any worker, so a worker has it from its first instruction.

#if defined(SIGRTMIN)
inline int stop_signal() noexcept {
  return SIGRTMIN + 1;
}

extern "C" inline void concur_on_stop_signal(int /*sig*/, siginfo_t* info, void* /*context*/) {
  if (info == nullptr || info->si_code != SI_QUEUE) return;  // not from a pool
  const int saved = errno;
  remote_stop_request(reinterpret_cast<std::uintptr_t>(info->si_value.sival_ptr));
  errno = saved;
}

inline void install_stop_handler() noexcept {
  struct sigaction action {};
  action.sa_sigaction = concur_on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  static_cast<void>(::sigaction(stop_signal(), &action, nullptr));
}

// Parent side: asks worker `pid` to stop call `id`; false if it cannot be sent.
inline bool send_stop_request(int pid, std::uint64_t id) noexcept {
  sigval value{};
  value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
  return CONCUR_SYSCALL(sigqueue)(pid, stop_signal(), value) == 0;
}
#else
// No real-time signals: a stop request cannot reach a running worker; the grace period still
// ends a call that was asked to stop.
inline void install_stop_handler() noexcept {}
inline bool send_stop_request(int /*pid*/, std::uint64_t /*id*/) noexcept {
  return false;
}
#endif

inline int& sigchld_pipe() {
  static int fd = -1;  // the fork server's self-pipe write end (its only thread)
  return fd;
}

extern "C" inline void concur_on_sigchld(int /*sig*/) {
  const int saved = errno;
  const char byte = 1;
  static_cast<void>(::write(sigchld_pipe(), &byte, 1));
  errno = saved;
}

// Reports every ended worker to the pool.
inline void reap_workers(int control) {
  while (true) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      if (pid < 0 && errno == EINTR) continue;
      return;
    }
    static_cast<void>(
        send_message(control, Header{exited, status, static_cast<std::uint64_t>(pid), 0}));
  }
}

// Starts a worker and passes the pool its two ends: the socket its calls go to, then the pipe
// its replies come from.
inline void spawn_worker(int control, int pipe_r, int pipe_w, const WorkerConfig& config) {
  int sv[2];
  if (CONCUR_SYSCALL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    static_cast<void>(send_message(control, Header{spawned, errno, 0, 0}));
    return;
  }
  Fd pool_end(sv[0]);
  Fd worker_end(sv[1]);
  int rp[2];
  if (CONCUR_SYSCALL(pipe2)(rp, O_CLOEXEC) != 0) {
    static_cast<void>(send_message(control, Header{spawned, errno, 0, 0}));
    return;
  }
  Fd replies_r(rp[0]);
  Fd replies_w(rp[1]);
  const pid_t server = ::getpid();
  const pid_t pid = CONCUR_SYSCALL(fork)();
  if (pid == 0) {
    static_cast<void>(::close(control));
    static_cast<void>(::close(pipe_r));
    static_cast<void>(::close(pipe_w));
    pool_end.reset();
    replies_r.reset();
    reset_signals_for_worker();
    worker_main(worker_end.get(), replies_w.get(), config, server);
  }
  if (pid < 0) {
    static_cast<void>(send_message(control, Header{spawned, errno, 0, 0}));
    return;
  }
  const int ends[2] = {pool_end.get(), replies_r.get()};
  static_cast<void>(
      send_with_fds(control, Header{spawned, 0, static_cast<std::uint64_t>(pid), 0}, ends));
}

// The fork server's life. Never returns. `control` is its socket to the pool.
[[noreturn]] inline void fork_server_main(int control, const WorkerConfig& config) {
  int p[2];
  if (CONCUR_SYSCALL(pipe2)(p, O_CLOEXEC | O_NONBLOCK) != 0) ::_exit(1);
  close_other_fds({control, p[0], p[1]});
  sigchld_pipe() = p[1];
  struct sigaction action {};
  action.sa_handler = concur_on_sigchld;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  static_cast<void>(::sigaction(SIGCHLD, &action, nullptr));
  install_stop_handler();                        // inherited by every worker
  static_cast<void>(::signal(SIGINT, SIG_IGN));  // the parent handles Ctrl-C and shuts us down
  static_cast<void>(::signal(SIGPIPE, SIG_IGN));
  sigset_t none;
  sigemptyset(&none);
  static_cast<void>(::sigprocmask(SIG_SETMASK, &none, nullptr));

  while (true) {
    pollfd fds[2] = {{control, POLLIN, 0}, {p[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) {
      char drain[64];
      while (::read(p[0], drain, sizeof drain) > 0) {
      }
      reap_workers(control);
    }
    if (fds[0].revents != 0) {
      Header h;
      if (!recv_all(control, &h, sizeof h)) break;  // the pool shut down, or the parent died
      if (h.kind == spawn) spawn_worker(control, p[0], p[1], config);
    }
  }
  // Workers see end of file on their sockets and leave; reap every one before going.
  while (true) {
    int status = 0;
    if (::waitpid(-1, &status, 0) < 0 && errno != EINTR) break;
  }
  ::_exit(0);
}

}  // namespace concur::detail::posix
