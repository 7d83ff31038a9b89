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

namespace {

// The tasks: plain functions, as a process pool requires.
int noop() {
  return 1;
}
int twice(int x) {
  return 2 * x;
}

constexpr int pipelined_tasks = 1000;
constexpr int map_items = 100'000;
constexpr std::size_t map_chunksize = 1000;

}  // namespace

// One no-op call at a time: submit, then wait for its result.
static void BM_ProcessPool_SubmitRoundTrip(benchmark::State& state) {
  concur::ProcessPoolExecutor pool(static_cast<std::size_t>(state.range(0)));
  static_cast<void>(pool.submit(noop).result());  // the workers are up before timing
  for (auto _ : state) {
    int value = pool.submit(noop).result();
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProcessPool_SubmitRoundTrip)->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime();

// 1000 no-op calls submitted at once, then waited for together.
static void BM_ProcessPool_SubmitPipelined(benchmark::State& state) {
  concur::ProcessPoolExecutor pool(static_cast<std::size_t>(state.range(0)));
  static_cast<void>(pool.submit(noop).result());
  std::vector<concur::Future<int>> futures;
  futures.reserve(pipelined_tasks);
  for (auto _ : state) {
    futures.clear();
    for (int i = 0; i < pipelined_tasks; ++i) futures.push_back(pool.submit(noop));
    concur::wait(futures);
    int sum = 0;
    for (const concur::Future<int>& f : futures) sum += f.result();
    if (sum != pipelined_tasks) {
      state.SkipWithError("a no-op call returned a wrong value");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * pipelined_tasks);
}
BENCHMARK(BM_ProcessPool_SubmitPipelined)->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime();

// map(x -> 2x) over 100k ints, 1000 calls per task.
static void BM_ProcessPool_MapChunked(benchmark::State& state) {
  concur::ProcessPoolExecutor pool(static_cast<std::size_t>(state.range(0)));
  static_cast<void>(pool.submit(noop).result());
  std::vector<int> items(map_items);
  std::iota(items.begin(), items.end(), 0);
  const std::int64_t expected = std::int64_t{map_items} * (map_items - 1);  // 2 * sum(0..n-1)
  concur::MapOptions options;
  options.chunksize = map_chunksize;
  for (auto _ : state) {
    std::int64_t sum = 0;
    for (int value : pool.map(twice, items, options)) sum += value;
    if (sum != expected) {
      state.SkipWithError("map returned wrong values");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * map_items);
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
