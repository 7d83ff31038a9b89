// bench/bench_process_pool.cpp - ProcessPoolExecutor: round trip, pipelined submits, chunked map.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// The floor, in the same run: BM_PipePingPong, a forked child echoing 8 bytes over a socketpair,
// which is what one round trip costs before any library code. bench/py_process_pool.py measures
// the same things with Python's concurrent.futures.ProcessPoolExecutor and prints both.
#include <concur/future.hpp>
#include <concur/process_pool.hpp>
#include <concur/wait.hpp>

#include <concur/detail/posix/io.hpp>

#include <benchmark/benchmark.h>

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include "remote_pool_workloads.hpp"

namespace w = remote_pool_workloads;

static void BM_ProcessPool_SubmitRoundTrip(benchmark::State& state) {
  concur::ProcessPoolExecutor pool(static_cast<std::size_t>(state.range(0)));
  w::round_trip(state, pool);
}
BENCHMARK(BM_ProcessPool_SubmitRoundTrip)->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime();

static void BM_ProcessPool_SubmitPipelined(benchmark::State& state) {
  concur::ProcessPoolExecutor pool(static_cast<std::size_t>(state.range(0)));
  w::fan_out(state, pool);
}
BENCHMARK(BM_ProcessPool_SubmitPipelined)->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime();

static void BM_ProcessPool_MapChunked(benchmark::State& state) {
  concur::ProcessPoolExecutor pool(static_cast<std::size_t>(state.range(0)));
  w::map_chunked(state, pool);
}
BENCHMARK(BM_ProcessPool_MapChunked)->ArgName("workers")->Arg(2)->UseRealTime();

// Floor: a raw fork()ed child echoing an 8-byte message over a socketpair (AF_UNIX stream, the
// transport the pool itself uses), one round trip per iteration. No serialisation, no futures,
// no queue, no manager thread: the kernel's share of a round trip.
static void BM_PipePingPong(benchmark::State& state) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    state.SkipWithError("socketpair() failed");
    return;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    state.SkipWithError("fork() failed");
    return;
  }
  if (child == 0) {  // echo until the parent closes its end
    ::close(ends[0]);
    std::uint64_t message = 0;
    while (concur::detail::posix::recv_all(ends[1], &message, sizeof message) &&
           concur::detail::posix::send_all(ends[1], &message, sizeof message)) {
    }
    ::_exit(0);
  }
  ::close(ends[1]);
  std::uint64_t sent = 0;
  for (auto _ : state) {
    ++sent;
    std::uint64_t echoed = 0;
    if (!concur::detail::posix::send_all(ends[0], &sent, sizeof sent) ||
        !concur::detail::posix::recv_all(ends[0], &echoed, sizeof echoed) || echoed != sent) {
      state.SkipWithError("the echo child failed");
      break;
    }
  }
  ::close(ends[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PipePingPong)->UseRealTime();
