// fuzz/fuzz_framing.cpp - libFuzzer target: the message framing between a process pool, its
// fork server and its workers, on any bytes.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// The first input byte picks whose side of a channel is read; the rest is written into it (a
// pipe or a Unix socket pair, as that side has), whose writing end is then closed or shut
// down, and read back frame by frame exactly as that side reads it:
//   0  the pool reading a worker's replies from a pipe (FrameReader reading ahead: result,
//      ready, init_failed), decoding each result as the reply of a call (the frame's id picks
//      the call's return type) and each init_failed as the initializer's exception, as
//      read_frame() does;
//   1  a worker reading the pool's socket (FrameReader reading ahead and waiting: call); the
//      call itself is not run (a call message names a function by its address, which the pool
//      alone may choose);
//   2  the pool reading its fork server (recv_with_fds and header_valid, as read_control()).
// Reading may only yield frames, end of file, or "malformed"; the payload of an accepted frame
// is exactly its header's size, and a corrupt size never allocates much more than was sent.
//
// Built with -DCONCUR_FUZZ_WRITE_SEEDS this file is instead a program that writes a few
// valid streams of frames into the directory given as its argument (the seed corpus).

#include <concur/codec.hpp>
#include <concur/errors.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/posix/io.hpp>
#include <concur/detail/posix/worker.hpp>
#include <concur/detail/remote.hpp>

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

namespace {

namespace posix = concur::detail::posix;
using concur::fuzz::Bytes;
using concur::fuzz::encoded_exception;
using concur::fuzz::fail;

// A call's reply, as the pool's manager thread settles the call's future from it.
template <class R>
void settle(concur::Reader& r) {
  auto state = std::make_shared<concur::detail::State<R>>();
  concur::detail::decode_outcome_into<R>(r, state);
  if (!state->done()) fail("settle", "a reply left the future unsettled");
  try {
    static_cast<void>(state->value("fuzz_framing"));  // observes a failure too
  } catch (...) {
    static_cast<void>(concur::detail::describe(std::current_exception()));
  }
}

// The return types a call's reply is decoded as, picked by the frame's id.
void (*const settlers[])(concur::Reader&) = {
    &settle<void>,
    &settle<int>,
    &settle<std::string>,
    &settle<std::vector<double>>,
    &settle<std::map<std::string, std::vector<int>>>,
    &settle<concur::detail::ChunkResult<int>>,
    &settle<concur::detail::ChunkResult<std::string>>,
    &settle<concur::detail::ChunkResult<std::monostate>>,
};
constexpr std::size_t settler_count = sizeof settlers / sizeof settlers[0];

void check_frame(const posix::Header& h, const Bytes& payload, std::uint64_t accepted,
                 std::size_t sent) {
  if (!posix::header_valid(h, accepted)) fail("recv_frame", "accepted an invalid header");
  if (payload.size() != h.size) fail("recv_frame", "the payload is not the header's size");
  if (payload.size() > sent) fail("recv_frame", "a payload longer than the bytes sent");
}

void read_as_pool(int fd, std::size_t sent) {
  const std::uint64_t accepted = posix::kind_bit(posix::result) | posix::kind_bit(posix::ready) |
                                 posix::kind_bit(posix::init_failed);
  posix::FrameReader reader(accepted, 64 * 1024, posix::FrameReader::Source::pipe);
  while (true) {
    // Everything was sent and the writing end shut: a frame is never left incomplete.
    const std::optional<posix::FrameStatus> status = reader.read_some(fd);
    if (!status) fail("FrameReader", "incomplete frame after the peer shut its end");
    if (*status != posix::FrameStatus::ok) break;
    const posix::Header h = reader.header();
    const Bytes& payload = reader.payload();
    check_frame(h, payload, accepted, sent);
    if (payload.capacity() > 2 * sent + (std::size_t{1} << 20)) {
      fail("FrameReader", "allocated far more than was sent");
    }
    concur::Reader r(payload);
    if (h.kind == posix::result) {
      settlers[h.id % settler_count](r);
    } else if (h.kind == posix::init_failed) {
      try {
        static_cast<void>(concur::detail::describe(concur::detail::decode_exception(r)));
      } catch (const concur::CodecError&) {
        // A corrupt report: read_worker says so instead.
      }
    }
  }
}

void read_as_worker(int fd, std::size_t sent) {
  const std::uint64_t accepted = posix::kind_bit(posix::call);
  posix::FrameReader reader(accepted, posix::worker_readahead);
  while (true) {
    const std::optional<posix::FrameStatus> status = reader.read_some(fd, true);
    if (!status) fail("FrameReader", "a waiting read came back without a frame");
    if (*status != posix::FrameStatus::ok) break;
    check_frame(reader.header(), reader.payload(), accepted, sent);
  }
}

void read_as_control(int fd) {
  const std::uint64_t accepted = posix::kind_bit(posix::exited) | posix::kind_bit(posix::spawned);
  posix::Header h;
  posix::Fd passed[2];
  while (posix::recv_with_fds(fd, h, passed)) {
    if (!posix::header_valid(h, accepted)) return;  // read_control() stops the pool here
  }
}

// Writes the stream (after its first byte) into a channel and reads it back as one side.
int read_stream(const std::uint8_t* data, std::size_t size) {
  // All of it must fit a pipe's or a socket's buffer: nothing reads while it is written.
  if (size == 0 || size > (std::size_t{64} << 10)) return 0;
  const std::size_t sent = size - 1;
  if (data[0] % 3 == 0) {
    auto [reader, writer] = posix::pipe_pair();
    posix::set_nonblocking(reader.get());
    if (::write(writer.get(), data + 1, sent) != static_cast<ssize_t>(sent)) {
      fail("write", "the pipe did not take the stream");
    }
    writer.reset();
    read_as_pool(reader.get(), sent);
    return 0;
  }
  auto [reader, writer] = posix::socket_pair();
  if (!posix::send_all(writer.get(), data + 1, sent)) fail("send_all", "the socket pair broke");
  if (::shutdown(writer.get(), SHUT_WR) != 0) fail("shutdown", "cannot shut down the socket");
  switch (data[0] % 3) {
    case 1:
      read_as_worker(reader.get(), sent);
      break;
    default:
      read_as_control(reader.get());
      break;
  }
  return 0;
}

}  // namespace

#ifdef CONCUR_FUZZ_WRITE_SEEDS

namespace {

// ---- seeds ---------------------------------------------------------------------------------

void frame(Bytes& out, posix::Kind kind, std::uint64_t id, const Bytes& payload = {}) {
  const posix::Header h{kind, 0, id, payload.size()};
  const auto* p = reinterpret_cast<const std::byte*>(&h);
  out.insert(out.end(), p, p + sizeof h);
  out.insert(out.end(), payload.begin(), payload.end());
}

template <class R, class F>
Bytes outcome(F&& call) {
  concur::Writer w;
  concur::detail::encode_outcome<R>(w, call);
  return w.release();
}

// Settler index i of `settlers` answers ids i, i + settler_count, ...
Bytes pool_seed() {
  Bytes s{std::byte{0}};
  frame(s, posix::ready, 0);
  frame(s, posix::result, 0, outcome<void>([] {}));
  frame(s, posix::result, 1, outcome<int>([] { return 42; }));
  frame(s, posix::result, 2, outcome<std::string>([] { return std::string("done"); }));
  frame(s, posix::result, 3, outcome<std::vector<double>>([] { return std::vector{1.5, 2.5}; }));
  frame(s, posix::result, 4, outcome<std::map<std::string, std::vector<int>>>([] {
          return std::map<std::string, std::vector<int>>{{"a", {1, 2}}};
        }));
  frame(s, posix::result, 5, outcome<concur::detail::ChunkResult<int>>([] {
          concur::detail::ChunkResult<int> c;
          c.values = {1, 0};
          c.error_at = {1};
          c.errors = {std::make_exception_ptr(std::invalid_argument("bad"))};
          return c;
        }));
  return s;
}

Bytes pool_errors_seed() {
  Bytes s{std::byte{0}};
  frame(s, posix::result, 1, outcome<int>([]() -> int { throw std::runtime_error("boom"); }));
  frame(s, posix::result, 2, outcome<std::string>([]() -> std::string {
          throw concur::WorkerCrashedError(7, -1, 9, "killed");
        }));
  frame(s, posix::result, 9, outcome<int>([]() -> int { throw 3; }));
  frame(s, posix::init_failed, 0,
        encoded_exception(std::make_exception_ptr(std::logic_error("initializer failed"))));
  return s;
}

Bytes worker_seed() {
  Bytes s{std::byte{1}};
  concur::Writer w;
  w.write_raw(std::uintptr_t{0x1000});
  w.write(std::string("argument"));
  frame(s, posix::call, 1, w.bytes());
  frame(s, posix::call, 2, Bytes(16, std::byte{0xAB}));
  return s;
}

Bytes control_seed() {
  Bytes s{std::byte{2}};
  frame(s, posix::spawned, 1234);
  frame(s, posix::exited, 1234);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: fuzz_framing_seeds <corpus directory>\n", stderr);
    return 2;
  }
  const Bytes seeds[] = {pool_seed(), pool_errors_seed(), worker_seed(), control_seed()};
  const char* names[] = {"pool", "pool_errors", "worker", "control"};
  for (std::size_t i = 0; i < 4; ++i) {
    concur::fuzz::write_seed(argv[1], i, names[i], seeds[i]);
    static_cast<void>(
        read_stream(reinterpret_cast<const std::uint8_t*>(seeds[i].data()), seeds[i].size()));
  }
  return 0;
}

#else

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return read_stream(data, size);
}

#endif
