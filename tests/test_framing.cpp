// tests/test_framing.cpp - the frames between a process pool and its workers: recv_frame on
// good, truncated, corrupt and stalled streams, and a worker that writes a corrupt frame.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// A corrupt frame from a worker is handled as that worker dying: its call fails with
// WorkerCrashedError and a new worker takes its place; the pool never allocates what a corrupt
// size asks for. (fuzz/fuzz_framing.cpp feeds the same reader arbitrary bytes.) The cases that
// start a pool are tagged [process]; the TSan builds exclude [process].
#include <concur/codec.hpp>
#include <concur/errors.hpp>
#include <concur/process_pool.hpp>

#include <concur/detail/posix/io.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include "support/catch.hpp"
#include "support/futures.hpp"

using namespace std::chrono_literals;

namespace {

namespace posix = concur::detail::posix;

const std::uint64_t pool_kinds = posix::kind_bit(posix::result) | posix::kind_bit(posix::ready) |
                                 posix::kind_bit(posix::init_failed);

void write_header(int fd, const posix::Header& h) {
  REQUIRE(posix::send_all(fd, &h, sizeof h));
}

TEST_CASE("recv_frame reads whole frames, then reports the peer gone", "[framing]") {
  auto [in, out] = posix::socket_pair();
  const std::vector<std::byte> payload(3000000, std::byte{7});  // read in several steps
  REQUIRE(posix::send_message(out.get(), posix::Header{posix::ready, 0, 0, 0}));
  std::thread writer([&, fd = out.get()] {
    static_cast<void>(
        posix::send_message(fd, posix::Header{posix::result, 0, 5, payload.size()}, payload));
    ::shutdown(fd, SHUT_WR);
  });
  posix::Header h;
  std::vector<std::byte> got;
  CHECK(posix::recv_frame(in.get(), h, got, pool_kinds) == posix::FrameStatus::ok);
  CHECK(h.kind == posix::ready);
  CHECK(got.empty());
  CHECK(posix::recv_frame(in.get(), h, got, pool_kinds, 10000) == posix::FrameStatus::ok);
  CHECK(h.kind == posix::result);
  CHECK(h.id == 5);
  CHECK(got == payload);
  CHECK(posix::recv_frame(in.get(), h, got, pool_kinds) == posix::FrameStatus::peer_gone);
  writer.join();
}

// The pool's manager reads workers with FrameReader: only what has arrived, never waiting.
TEST_CASE("FrameReader assembles frames sent a few bytes at a time and never waits", "[framing]") {
  auto [in, out] = posix::socket_pair();
  posix::FrameReader reader(pool_kinds);
  CHECK_FALSE(reader.read_some(in.get()).has_value());  // nothing there: returns at once

  const std::vector<std::byte> payload(100, std::byte{9});
  const posix::Header h{posix::result, 0, 42, payload.size()};
  std::vector<std::byte> stream(sizeof h);
  std::memcpy(stream.data(), &h, sizeof h);
  stream.insert(stream.end(), payload.begin(), payload.end());
  const posix::Header ready{posix::ready, 0, 0, 0};
  const auto* r = reinterpret_cast<const std::byte*>(&ready);
  stream.insert(stream.end(), r, r + sizeof ready);

  // 7 bytes at a time: the header and the payload arrive in pieces.
  std::size_t sent = 0;
  int frames = 0;
  while (sent < stream.size()) {
    const std::size_t n = std::min<std::size_t>(7, stream.size() - sent);
    REQUIRE(posix::send_all(out.get(), stream.data() + sent, n));
    sent += n;
    while (const std::optional<posix::FrameStatus> status = reader.read_some(in.get())) {
      REQUIRE(*status == posix::FrameStatus::ok);
      if (++frames == 1) {
        CHECK(reader.header().kind == posix::result);
        CHECK(reader.header().id == 42);
        CHECK(reader.payload() == payload);
      } else {
        CHECK(reader.header().kind == posix::ready);
      }
    }
  }
  CHECK(frames == 2);
  // Half a header, then end of file: the peer is gone (seen in the same call).
  REQUIRE(posix::send_all(out.get(), &h, sizeof h / 2));
  ::shutdown(out.get(), SHUT_WR);
  CHECK(reader.read_some(in.get()) == std::optional(posix::FrameStatus::peer_gone));
}

// A worker's replies come on a pipe; the manager reads ahead, so that replies written back to
// back cost it one read. A small read-ahead here makes frames straddle the buffer's end.
TEST_CASE("FrameReader reads ahead on a pipe: frames in order, split ones completed, never waits",
          "[framing]") {
  auto [in, out] = posix::pipe_pair();
  posix::set_nonblocking(in.get());
  posix::FrameReader reader(pool_kinds, 64, posix::FrameReader::Source::pipe);
  CHECK_FALSE(reader.read_some(in.get()).has_value());  // nothing there: returns at once
  CHECK_FALSE(reader.buffered());

  // Five replies with payloads of 0, 10, 100 (longer than the read-ahead), 3 and 40 bytes: the
  // first four in one write, the last with write_message().
  const std::size_t sizes[] = {0, 10, 100, 3, 40};
  std::vector<std::byte> batch;
  for (std::size_t k = 0; k < 4; ++k) {
    const std::vector<std::byte> payload(sizes[k], static_cast<std::byte>(k + 1));
    posix::append_frame(batch, posix::Header{posix::result, 0, k + 1, payload.size()}, payload);
  }
  REQUIRE(::write(out.get(), batch.data(), batch.size()) == static_cast<ssize_t>(batch.size()));
  const std::vector<std::byte> last(sizes[4], std::byte{5});
  REQUIRE(posix::write_message(out.get(), posix::Header{posix::result, 0, 5, last.size()}, last));

  std::size_t frames = 0;
  bool buffered_after_first = false;
  while (const std::optional<posix::FrameStatus> status = reader.read_some(in.get())) {
    REQUIRE(*status == posix::FrameStatus::ok);
    INFO("frame " << frames);
    REQUIRE(frames < 5);
    CHECK(reader.header().id == frames + 1);
    CHECK(reader.payload() ==
          std::vector<std::byte>(sizes[frames], static_cast<std::byte>(frames + 1)));
    if (frames == 0) buffered_after_first = reader.buffered();
    ++frames;
  }
  CHECK(frames == 5);
  CHECK(buffered_after_first);  // the second frame came with the first read
  CHECK_FALSE(reader.buffered());
  out.reset();  // the writer is gone: end of file
  CHECK(reader.read_some(in.get()) == std::optional(posix::FrameStatus::peer_gone));
}

TEST_CASE("FrameReader refuses a corrupt header before its payload", "[framing]") {
  auto [in, out] = posix::socket_pair();
  posix::FrameReader reader(pool_kinds);
  write_header(out.get(), posix::Header{posix::call, 0, 0, 0});  // a kind the pool never gets
  CHECK(reader.read_some(in.get()) == std::optional(posix::FrameStatus::malformed));
  posix::FrameReader sized(pool_kinds);
  auto [in2, out2] = posix::socket_pair();
  write_header(out2.get(), posix::Header{posix::result, 0, 1, posix::max_payload_size + 1});
  CHECK(sized.read_some(in2.get()) == std::optional(posix::FrameStatus::malformed));
}

TEST_CASE("recv_frame reports a frame cut short as the peer gone", "[framing]") {
  auto [in, out] = posix::socket_pair();
  write_header(out.get(), posix::Header{posix::result, 0, 1, 1000});
  const std::vector<std::byte> part(10, std::byte{1});
  REQUIRE(posix::send_all(out.get(), part.data(), part.size()));
  out.reset();
  posix::Header h;
  std::vector<std::byte> got;
  CHECK(posix::recv_frame(in.get(), h, got, pool_kinds) == posix::FrameStatus::peer_gone);
}

TEST_CASE("recv_frame refuses corrupt headers before reading their payload", "[framing]") {
  struct Bad {
    const char* what;
    posix::Header header;
  };
  const Bad bad = GENERATE(
      Bad{"a size above max_payload_size", {posix::result, 0, 1, posix::max_payload_size + 1}},
      Bad{"a size of 2^63", {posix::result, 0, 1, std::uint64_t{1} << 63}},
      Bad{"an unknown kind", {99, 0, 1, 0}},
      Bad{"a kind of 2^31", {std::uint32_t{1} << 31, 0, 1, 0}},
      Bad{"a kind this end does not receive", {posix::call, 0, 1, 4}},
      Bad{"a payload on a kind without one", {posix::ready, 0, 0, 8}});
  INFO(bad.what);
  auto [in, out] = posix::socket_pair();
  write_header(out.get(), bad.header);
  posix::Header h;
  std::vector<std::byte> got;
  CHECK(posix::recv_frame(in.get(), h, got, pool_kinds) == posix::FrameStatus::malformed);
  CHECK(got.capacity() == 0);  // nothing was allocated for it
}

TEST_CASE("recv_frame gives up on a peer that stalls inside a frame", "[framing]") {
  auto [in, out] = posix::socket_pair();
  SECTION("inside the header") {
    const std::byte half[8] = {};
    REQUIRE(posix::send_all(out.get(), half, sizeof half));
  }
  SECTION("inside the payload") {
    write_header(out.get(), posix::Header{posix::result, 0, 1, 64});
  }
  posix::Header h;
  std::vector<std::byte> got;
  const auto start = std::chrono::steady_clock::now();
  CHECK(posix::recv_frame(in.get(), h, got, pool_kinds, 50) == posix::FrameStatus::malformed);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("header_valid accepts exactly the kinds asked for, with sizes in range", "[framing]") {
  const std::uint64_t control = posix::kind_bit(posix::exited) | posix::kind_bit(posix::spawned);
  CHECK(posix::header_valid(posix::Header{posix::exited, 9, 1234, 0}, control));
  CHECK(posix::header_valid(posix::Header{posix::spawned, 0, 1234, 0}, control));
  CHECK_FALSE(posix::header_valid(posix::Header{posix::exited, 9, 1234, 1}, control));
  CHECK_FALSE(posix::header_valid(posix::Header{posix::result, 0, 1, 0}, control));
  CHECK(posix::header_valid(posix::Header{posix::call, 0, 1, posix::max_payload_size},
                            posix::kind_bit(posix::call)));
  CHECK_FALSE(posix::header_valid(posix::Header{posix::call, 0, 1, posix::max_payload_size + 1},
                                  posix::kind_bit(posix::call)));
}

TEST_CASE("elements of no bytes count against one budget per message", "[codec][corrupt]") {
  // Two inner vectors of max_empty_elements each: fine alone, refused together (nesting must
  // not multiply the budget: 8 bytes of prefix would otherwise decode to 16 MiB).
  concur::Writer w;
  w.write_size(2);
  w.write_size(concur::Reader::max_empty_elements);
  w.write_size(concur::Reader::max_empty_elements);
  concur::Reader r(w.bytes());
  CHECK_THROWS_AS((r.read<std::vector<std::vector<std::monostate>>>()), concur::CodecError);

  concur::Writer one;
  one.write_size(3);
  concur::Reader r1(one.bytes());
  CHECK(r1.read<std::vector<std::monostate>>().size() == 3);

  // A list takes a node per element: node_cost of the budget each.
  concur::Writer list;
  list.write_size(concur::Reader::max_empty_elements / concur::Reader::node_cost + 1);
  concur::Reader rl(list.bytes());
  CHECK_THROWS_AS(rl.read<std::list<std::monostate>>(), concur::CodecError);
}

// ---- a worker that writes a corrupt frame --------------------------------------------------

// In a worker: the pipe its replies go to is its only pipe (the fork server closed the rest).
int own_reply_pipe() {
  for (int fd = 3; fd < 1024; ++fd) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) return fd;
  }
  return -1;
}

// Writes a result header whose size no reply may have, then waits to be killed.
int write_huge_frame(int x) {
  const posix::Header h{posix::result, 0, 1, std::uint64_t{1} << 40};
  static_cast<void>(posix::write_message(own_reply_pipe(), h));
  std::this_thread::sleep_for(60s);
  return x;
}

// Writes a header of a kind no worker sends, then returns normally.
int write_unknown_kind(int x) {
  const posix::Header h{77, 0, 0, 0};
  static_cast<void>(posix::write_message(own_reply_pipe(), h));
  return x;
}

int square(int x) {
  return x * x;
}

using concur_test::crash_of;  // support/futures.hpp

TEST_CASE("a worker that writes a corrupt frame is treated as crashed and replaced",
          "[process][crash][framing]") {
  const bool huge = GENERATE(true, false);
  INFO((huge ? "a size of 2^40" : "an unknown kind"));
  concur::ProcessPoolExecutor pool(1);
  const auto start = std::chrono::steady_clock::now();
  concur::Future<int> bad = pool.submit(huge ? &write_huge_frame : &write_unknown_kind, 3);
  REQUIRE(bad.wait_for(20s));
  CHECK(std::chrono::steady_clock::now() - start < 20s);  // killed, not waited out
  const std::optional<concur::WorkerCrashedError> crash = crash_of(bad);
  REQUIRE(crash.has_value());
  CHECK(crash->signal() == SIGKILL);  // killed as soon as the frame was seen
  // The pool goes on with a new worker.
  std::vector<concur::Future<int>> next;
  for (int i = 0; i < 20; ++i) next.push_back(pool.submit(&square, i));
  for (int i = 0; i < 20; ++i) CHECK(next[static_cast<std::size_t>(i)].result() == i * i);
}

}  // namespace
