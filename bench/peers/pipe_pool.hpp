// bench/peers/pipe_pool.hpp - PipePool: the floor for a process pool, N pre-forked children.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Each child owns one end of an AF_UNIX stream socketpair (the transport concur's process pool
// uses) and serves requests in order: a fixed 8-byte header naming a function by index and an
// int argument, followed, for the batch function only, by that many ints. It answers each
// request with its int result(s). No serialisation library, no futures, no manager thread, no
// fork server, no crash handling: what is left is the kernel's share plus a loop, which is the
// least any process pool can cost. The caller picks the child, so scheduling is round-robin.
//
// Children are forked from the benchmark process, which may have threads: a child only calls
// read(), send() and _exit() on memory allocated before the fork, which is safe after fork().
#pragma once

#include <concur/detail/posix/io.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace concur_bench {

enum class PipeFunction : std::int32_t {
  noop = 0,         // returns 1
  twice = 1,        // returns 2 * value
  twice_batch = 2,  // value ints follow; returns 2 * each of them
};

struct PipeRequest {
  PipeFunction function;
  std::int32_t value;
};

class PipePool {
 public:
  // A child's input buffer; a batch request must fit in it.
  static constexpr std::size_t buffer_bytes = 64 * 1024;
  static constexpr std::size_t max_batch = (buffer_bytes - sizeof(PipeRequest)) / sizeof(int);

  // Forks `children` children; ok() says whether all of them started.
  explicit PipePool(std::size_t children) {
    // Both buffers exist before any fork, so a child never allocates.
    in_.resize(buffer_bytes);
    out_.resize(buffer_bytes);
    fds_.reserve(children);
    pids_.reserve(children);
    for (std::size_t c = 0; c < children; ++c) {
      int ends[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) return;
      const pid_t pid = ::fork();
      if (pid < 0) {
        ::close(ends[0]);
        ::close(ends[1]);
        return;
      }
      if (pid == 0) {
        // The parent's ends of earlier children must be closed here: a copy left open would keep
        // those children from ever seeing EOF when the parent closes its end.
        for (int fd : fds_) ::close(fd);
        ::close(ends[0]);
        serve(ends[1]);
      }
      ::close(ends[1]);
      fds_.push_back(ends[0]);
      pids_.push_back(pid);
    }
    ok_ = true;
  }
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // Closes the sockets (each child sees EOF and exits) and reaps the children; one that is
  // still there after a second is killed, so that a wedged child cannot hang the benchmark.
  ~PipePool() {
    for (int fd : fds_) ::close(fd);
    for (pid_t pid : pids_) {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      int status = 0;
      while (true) {
        const pid_t got = ::waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR)) break;
        if (std::chrono::steady_clock::now() > give_up) {
          ::kill(pid, SIGKILL);
          while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
          }
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }

  bool ok() const noexcept { return ok_; }
  std::size_t size() const noexcept { return fds_.size(); }

  // One call: request to `child`, then its reply. False if the child is gone.
  bool call(std::size_t child, PipeFunction function, std::int32_t value, std::int32_t& result) {
    const PipeRequest request{function, value};
    return concur::detail::posix::send_all(fds_[child], &request, sizeof request) &&
           concur::detail::posix::recv_all(fds_[child], &result, sizeof result);
  }

  // Sends `count` messages round-robin over the children, each holding one or more requests
  // (make(i, bytes) appends message i to bytes), and hands each message's reply, reply_bytes
  // long, to take(i, data) in message order. At most `depth` messages per child are unanswered
  // at any time, which bounds what sits in the socket buffers: with everything written first,
  // a child blocked writing replies nobody reads would stop reading, and the parent would
  // block writing. Message i goes to child i % N, so the oldest unanswered message of the child
  // that gets message i is message i - N * depth. False if a child is gone.
  template <class Make, class Take>
  bool pipeline(std::size_t count, std::size_t depth, std::size_t reply_bytes, Make&& make,
                Take&& take) {
    const std::size_t n = fds_.size();
    const std::size_t lag = n * depth;
    message_.clear();
    reply_.resize(reply_bytes);
    for (std::size_t i = 0; i < count + lag; ++i) {
      if (i >= lag) {
        const std::size_t j = i - lag;
        if (!concur::detail::posix::recv_all(fds_[j % n], reply_.data(), reply_bytes)) return false;
        take(j, reply_.data());
      }
      if (i < count) {
        message_.clear();
        make(i, message_);
        if (!concur::detail::posix::send_all(fds_[i % n], message_.data(), message_.size()))
          return false;
      }
    }
    return true;
  }

  static void append(std::vector<char>& bytes, const void* data, std::size_t size) {
    const auto* from = static_cast<const char*>(data);
    bytes.insert(bytes.end(), from, from + size);
  }

 private:
  // The child: reads whatever has arrived, answers every complete request in it with one
  // write, keeps the incomplete tail for the next read. Exits on EOF.
  [[noreturn]] void serve(int fd) {
    std::size_t have = 0;
    while (true) {
      const ssize_t got = ::read(fd, in_.data() + have, in_.size() - have);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) ::_exit(0);
      have += static_cast<std::size_t>(got);
      std::size_t at = 0;
      std::size_t out = 0;  // replies are never longer than their requests, so out_ suffices
      while (have - at >= sizeof(PipeRequest)) {
        PipeRequest request;
        std::memcpy(&request, in_.data() + at, sizeof request);
        std::size_t items = 0;  // ints following the header
        if (request.function == PipeFunction::twice_batch) {
          if (request.value < 0 || static_cast<std::size_t>(request.value) > max_batch) ::_exit(2);
          items = static_cast<std::size_t>(request.value);
        }
        const std::size_t size = sizeof request + items * sizeof(std::int32_t);
        if (have - at < size) break;  // the rest comes with the next read
        out += answer(request, in_.data() + at + sizeof request, out_.data() + out);
        at += size;
      }
      std::memmove(in_.data(), in_.data() + at, have - at);
      have -= at;
      if (out > 0 && !concur::detail::posix::send_all(fd, out_.data(), out)) ::_exit(1);
    }
  }

  // Runs one request on its payload and writes its reply at `reply`; returns the reply's size.
  static std::size_t answer(const PipeRequest& request, const char* payload, char* reply) {
    std::int32_t result = 0;
    switch (request.function) {
      case PipeFunction::noop:
        result = 1;
        break;
      case PipeFunction::twice:
        result = 2 * request.value;
        break;
      case PipeFunction::twice_batch: {
        const auto items = static_cast<std::size_t>(request.value);
        for (std::size_t k = 0; k < items; ++k) {
          std::int32_t x;
          std::memcpy(&x, payload + k * sizeof x, sizeof x);
          x *= 2;
          std::memcpy(reply + k * sizeof x, &x, sizeof x);
        }
        return items * sizeof(std::int32_t);
      }
      default:
        ::_exit(3);
    }
    std::memcpy(reply, &result, sizeof result);
    return sizeof result;
  }

  std::vector<int> fds_;     // the parent's end of each child's socket
  std::vector<pid_t> pids_;  // the children, in the same order
  std::vector<char> in_;     // a child's buffers (allocated before forking)
  std::vector<char> out_;
  std::vector<char> message_;  // the parent's buffers for pipeline()
  std::vector<char> reply_;
  bool ok_ = false;
};

}  // namespace concur_bench
