// concur/detail/posix/io.hpp - descriptors, socket pairs and whole-message I/O, EINTR-safe.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/codec.hpp>

#include <concur/detail/config.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

namespace concur::detail::posix {

[[noreturn]] inline void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::generic_category(), what);
}

// An owned file descriptor. close() is never retried: after EINTR the descriptor is gone on
// Linux, and retrying could close one another thread just opened.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept {
    if (fd_ >= 0) static_cast<void>(CONCUR_SYSCALL(close)(std::exchange(fd_, -1)));
  }

 private:
  int fd_ = -1;
};

// A connected pair of Unix stream sockets: a two-way pipe. Close-on-exec.
inline std::pair<Fd, Fd> socket_pair() {
  int sv[2];
  if (CONCUR_SYSCALL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw_errno(errno, "concur: socketpair");
  }
  return {Fd(sv[0]), Fd(sv[1])};
}

// A pipe, close-on-exec: first the read end, then the write end.
inline std::pair<Fd, Fd> pipe_pair() {
  int p[2];
  if (CONCUR_SYSCALL(pipe2)(p, O_CLOEXEC) != 0) throw_errno(errno, "concur: pipe2");
  return {Fd(p[0]), Fd(p[1])};
}

// Makes reads and writes on fd return EAGAIN instead of waiting.
inline void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw_errno(errno, "concur: fcntl(O_NONBLOCK)");
  }
}

// A pipe whose ends are close-on-exec and non-blocking (for wake-ups).
inline std::pair<Fd, Fd> wake_pipe() {
  int p[2];
  if (CONCUR_SYSCALL(pipe2)(p, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno(errno, "concur: pipe2");
  return {Fd(p[0]), Fd(p[1])};
}

// Sends all bytes; false if the peer is gone (EPIPE, ECONNRESET). MSG_NOSIGNAL: a dead peer
// must not kill us with SIGPIPE. EINTR and short writes are retried.
inline bool send_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const std::byte*>(data);
  while (size > 0) {
    const ssize_t n = CONCUR_SYSCALL(send)(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return false;
      throw_errno(errno, "concur: send to a worker process");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly size bytes; false on end of file or a reset connection (the peer is gone).
inline bool recv_all(int fd, void* data, std::size_t size) {
  auto* p = static_cast<std::byte*>(data);
  while (size > 0) {
    const ssize_t n = CONCUR_SYSCALL(recv)(fd, p, size, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return false;
      throw_errno(errno, "concur: receive from a worker process");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// The frame of every message between the pool, its fork server and its workers.
struct Header {
  std::uint32_t kind = 0;
  std::int32_t aux = 0;    // kind-specific (a wait status, an errno)
  std::uint64_t id = 0;    // a call id or a pid
  std::uint64_t size = 0;  // payload bytes that follow
};

enum Kind : std::uint32_t {
  call = 1,         // pool -> worker: a call message
  result = 2,       // worker -> pool: the outcome of call `id`
  ready = 3,        // worker -> pool: the initializer ran
  init_failed = 4,  // worker -> pool: the initializer threw (payload: the exception)
  spawn = 10,       // pool -> fork server: start a worker
  spawned = 11,     // fork server -> pool: worker `id` started; its socket is attached
  exited = 12,      // fork server -> pool: worker `id` ended with wait status `aux`
};

// ---- frames --------------------------------------------------------------------------------
//
// Every message is a Header and then `size` payload bytes. A reader trusts neither: the kind
// must be one it expects, a kind without payload must have size 0, and no payload may exceed
// max_payload_size (a Writer never builds a longer message). The payload buffer grows with
// the bytes that actually arrive, never ahead of them by more than it already holds (or 1 MiB),
// so a corrupt size cannot make the reader allocate much more than the peer really sent.

// The most payload bytes one frame may carry: concur::max_message_size (1 GiB).
inline constexpr std::uint64_t max_payload_size = max_message_size;

// Kinds as a set: kind_bit(result) | kind_bit(ready).
constexpr std::uint64_t kind_bit(Kind k) noexcept {
  return std::uint64_t{1} << static_cast<std::uint32_t>(k);
}

// Whether a frame of this kind carries a payload.
constexpr bool kind_has_payload(std::uint32_t kind) noexcept {
  return kind == call || kind == result || kind == init_failed;
}

enum class FrameStatus {
  ok,         // a whole frame of an accepted kind arrived
  peer_gone,  // end of file or a reset connection, before or inside the frame
  malformed,  // an unexpected kind, a size out of range, or the peer stalled inside the frame
};

// Whether h may start a frame of one of the `accepted` kinds (see kind_bit).
inline bool header_valid(const Header& h, std::uint64_t accepted) noexcept {
  if (h.kind >= 64 || (accepted & (std::uint64_t{1} << h.kind)) == 0) return false;
  return kind_has_payload(h.kind) ? h.size <= max_payload_size : h.size == 0;
}

// Reads frames a piece at a time, for a reader that serves several peers from one poll() loop:
// read_some() takes only the bytes already there and never waits, so a peer stopped (or just
// descheduled) half-way through a frame holds up nobody else. recv_frame() reads with it too.
//
// With readahead > 0, a small read asks the socket for up to readahead bytes at once: several
// frames sent back to back arrive with one system call, and the next read_some() takes them
// from the buffer (buffered() says whether any bytes wait there). Without it, a reader never
// takes a byte past the frame it reads, so a new reader on the same socket can go on.
//
// Source::pipe reads a pipe (read() rather than recv()); its descriptor must be non-blocking,
// and read_some() on it never blocks.
class FrameReader {
 public:
  enum class Source { socket, pipe };

  explicit FrameReader(std::uint64_t accepted, std::size_t readahead = 0,
                       Source source = Source::socket) noexcept
      : accepted_(accepted), readahead_(readahead), source_(source) {}

  // Reads what has arrived on fd. ok: a whole frame is in header() and payload(), until the
  // next call; nullopt: the frame is not complete yet (call again once fd is readable);
  // peer_gone or malformed. With block, each recv waits for bytes, so it never returns
  // nullopt. Throws std::system_error only on an unexpected socket error.
  std::optional<FrameStatus> read_some(int fd, bool block = false) {
    if (complete_) {
      header_got_ = 0;
      payload_.clear();
      payload_got_ = 0;
      complete_ = false;
    }
    if (header_got_ < sizeof header_) {
      while (header_got_ < sizeof header_) {  // until it is whole, or nothing more is there
        const std::optional<Got> got =
            take(fd, reinterpret_cast<std::byte*>(&header_) + header_got_,
                 sizeof header_ - header_got_, block);
        if (!got) return FrameStatus::peer_gone;
        if (got->bytes == 0) return std::nullopt;
        header_got_ += got->bytes;
      }
      if (!header_valid(header_, accepted_)) return FrameStatus::malformed;
    }
    const auto size = static_cast<std::size_t>(header_.size);
    constexpr std::size_t first_step = std::size_t{1} << 20;
    while (payload_got_ < size) {
      if (payload_.size() == payload_got_) {  // grow with what arrives (see "frames" above)
        payload_.resize(payload_got_ +
                        std::min(size - payload_got_, std::max(payload_got_, first_step)));
      }
      const std::optional<Got> got =
          take(fd, payload_.data() + payload_got_, payload_.size() - payload_got_, block);
      if (!got) return FrameStatus::peer_gone;
      if (got->bytes == 0) return std::nullopt;
      payload_got_ += got->bytes;
    }
    complete_ = true;
    return FrameStatus::ok;
  }

  const Header& header() const noexcept { return header_; }
  std::vector<std::byte>& payload() noexcept { return payload_; }

  // Whether bytes read ahead wait in the buffer (the next read_some() may need no recv).
  bool buffered() const noexcept { return ahead_pos_ < ahead_end_; }

 private:
  struct Got {
    std::size_t bytes;  // 0: nothing there yet
  };

  // Up to size bytes into p: from the read-ahead buffer, else from one recv.
  std::optional<Got> take(int fd, std::byte* p, std::size_t size, bool block) {
    if (ahead_pos_ == ahead_end_ && readahead_ != 0 && size < readahead_) {
      if (ahead_.size() != readahead_) ahead_.resize(readahead_);
      const std::optional<Got> got = receive(fd, ahead_.data(), readahead_, block, source_);
      if (!got || got->bytes == 0) return got;
      ahead_pos_ = 0;
      ahead_end_ = got->bytes;
    }
    if (ahead_pos_ < ahead_end_) {
      const std::size_t n = std::min(size, ahead_end_ - ahead_pos_);
      std::memcpy(p, ahead_.data() + ahead_pos_, n);
      ahead_pos_ += n;
      return Got{n};
    }
    return receive(fd, p, size, block, source_);
  }

  // One recv (waiting for bytes only with block); nullopt when the peer is gone.
  static std::optional<Got> receive(int fd, std::byte* p, std::size_t size, bool block,
                                    Source source) {
    while (true) {
      const ssize_t n = source == Source::pipe
                            ? CONCUR_SYSCALL(read)(fd, p, size)
                            : CONCUR_SYSCALL(recv)(fd, p, size, block ? 0 : MSG_DONTWAIT);
      if (n > 0) return Got{static_cast<std::size_t>(n)};
      if (n == 0) return std::nullopt;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Got{0};
      if (errno == ECONNRESET) return std::nullopt;
      throw_errno(errno, "concur: receive from a worker process");
    }
  }

  std::uint64_t accepted_;
  Header header_{};
  std::size_t header_got_ = 0;
  std::vector<std::byte> payload_;
  std::size_t payload_got_ = 0;
  bool complete_ = false;  // the last read_some() returned a whole frame
  std::size_t readahead_;
  Source source_;
  std::vector<std::byte> ahead_;  // bytes read past the frame: ahead_[ahead_pos_, ahead_end_)
  std::size_t ahead_pos_ = 0;
  std::size_t ahead_end_ = 0;
};

// Reads one frame into h and payload (resized to h.size; its capacity is reused). `accepted`:
// the kinds this end may receive (see kind_bit). stall_ms: how long the peer may go silent in
// the middle of a frame before the frame counts as malformed; < 0 waits forever. Throws
// std::system_error only on an unexpected socket error.
inline FrameStatus recv_frame(int fd, Header& h, std::vector<std::byte>& payload,
                              std::uint64_t accepted, int stall_ms = -1) {
  FrameReader reader(accepted);
  payload.clear();
  reader.payload().swap(payload);
  std::optional<FrameStatus> status;
  while (!(status = reader.read_some(fd, stall_ms < 0))) {
    pollfd pfd{fd, POLLIN, 0};
    const int rc = ::poll(&pfd, 1, stall_ms);  // as the manager's poll: not a fault seam
    if (rc == 0) {
      status = FrameStatus::malformed;  // stalled
      break;
    }
    if (rc < 0 && errno != EINTR) throw_errno(errno, "concur: poll a worker process's socket");
  }
  h = reader.header();
  payload.swap(reader.payload());
  return *status;
}

// Flags in the `aux` of a call message.
enum CallFlag : std::int32_t {
  call_stop_requested = 1,  // request_stop() came before the call was sent: start it stopped
};

// Writes a frame, h and then its payload, with gather(fd, pieces, count) (a vectored write):
// one system call when it takes the frame whole; EINTR and short writes go round again. False
// if the peer is gone (EPIPE, ECONNRESET).
template <class Gather>
bool write_frame(int fd, const Header& h, std::span<const std::byte> payload, Gather gather,
                 const char* what) {
  iovec iov[2] = {{const_cast<Header*>(&h), sizeof h},
                  {const_cast<std::byte*>(payload.data()), payload.size()}};
  int count = payload.empty() ? 1 : 2;
  iovec* next = iov;
  while (count > 0) {
    const ssize_t n = gather(fd, next, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return false;
      throw_errno(errno, what);
    }
    auto done = static_cast<std::size_t>(n);
    while (count > 0 && done >= next->iov_len) {  // whole pieces written
      done -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {  // a piece written in part
      next->iov_base = static_cast<std::byte*>(next->iov_base) + done;
      next->iov_len -= done;
    }
  }
  return true;
}

// Sends a frame on a socket (MSG_NOSIGNAL: a dead peer must not kill us with SIGPIPE).
inline bool send_message(int fd, const Header& h, std::span<const std::byte> payload = {}) {
  const auto gather = [](int socket, iovec* pieces, int count) {
    msghdr msg{};
    msg.msg_iov = pieces;
    msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(count);
    return CONCUR_SYSCALL(sendmsg)(socket, &msg, MSG_NOSIGNAL);
  };
  return write_frame(fd, h, payload, gather, "concur: send to a worker process");
}

// Writes a frame to a pipe (a worker's replies). False if the reader is gone (EPIPE: the
// caller ignores SIGPIPE, or dies of it).
inline bool write_message(int fd, const Header& h, std::span<const std::byte> payload = {}) {
  const auto gather = [](int pipe, iovec* pieces, int count) {
    return CONCUR_SYSCALL(writev)(pipe, pieces, count);
  };
  return write_frame(fd, h, payload, gather, "concur: write to the pool");
}

// Appends a frame (h, then its payload) to out, to be sent with others in one send_all().
inline void append_frame(std::vector<std::byte>& out, const Header& h,
                         std::span<const std::byte> payload) {
  const auto* header = reinterpret_cast<const std::byte*>(&h);
  out.insert(out.end(), header, header + sizeof h);
  out.insert(out.end(), payload.begin(), payload.end());
}

// Sends a header with descriptors attached (SCM_RIGHTS; at most max_passed_fds).
inline constexpr std::size_t max_passed_fds = 2;

inline bool send_with_fds(int socket, const Header& h, std::span<const int> fds) {
  msghdr msg{};
  iovec iov{const_cast<Header*>(&h), sizeof h};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
  if (!fds.empty() && fds.size() <= max_passed_fds) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = CONCUR_SYSCALL(sendmsg)(socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return false;
  const auto sent = static_cast<std::size_t>(n);
  return sent == sizeof h ||
         send_all(socket, reinterpret_cast<const std::byte*>(&h) + sent, sizeof h - sent);
}

// Receives a header and the descriptors attached to it, if any (close-on-exec), into passed
// (as many as it has room for; any more are closed). False if the peer is gone.
inline bool recv_with_fds(int socket, Header& h, std::span<Fd> passed) {
  msghdr msg{};
  iovec iov{&h, sizeof h};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = CONCUR_SYSCALL(recvmsg)(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  std::size_t taken = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (taken < passed.size()) {
        passed[taken++] = Fd(fd);
      } else {
        static_cast<void>(CONCUR_SYSCALL(close)(fd));
      }
    }
  }
  const auto got = static_cast<std::size_t>(n);
  return got == sizeof h ||
         recv_all(socket, reinterpret_cast<std::byte*>(&h) + got, sizeof h - got);
}

}  // namespace concur::detail::posix
