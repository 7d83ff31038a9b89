// bench/bench_mpi.cpp - MPIPoolExecutor: round trip, fan-out, chunked map.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// An MPI job: every rank runs this program (mpirun --oversubscribe -n 3 concur.bench.mpi);
// concur::mpi_main makes rank 0 the client, which runs Google Benchmark on the pool, and the
// other ranks its workers. Google Benchmark's flags go after the program, as usual. The pool is
// built once, before any benchmark, so no time here includes starting it. The workers poll
// with a backoff (see concur/mpi.hpp), so the round trip includes their wake-up when idle.
#include <concur/future.hpp>
#include <concur/mpi.hpp>
#include <concur/wait.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace {

// The tasks: plain functions, as an MPIPoolExecutor requires.
int noop() {
  return 1;
}
int twice(int x) {
  return 2 * x;
}

constexpr int fan_out_tasks = 1000;
constexpr int map_items = 100'000;
constexpr std::size_t map_chunksize = 1000;

concur::MPIPoolExecutor* g_pool = nullptr;  // rank 0's pool, while the benchmarks run

}  // namespace

// One no-op call at a time: submit, then wait for its result.
static void BM_MPIPool_RoundTrip(benchmark::State& state) {
  concur::MPIPoolExecutor& pool = *g_pool;
  static_cast<void>(pool.submit(noop).result());
  for (auto _ : state) {
    int value = pool.submit(noop).result();
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MPIPool_RoundTrip)->UseRealTime();

// 1000 no-op calls submitted at once, then waited for together.
static void BM_MPIPool_FanOut(benchmark::State& state) {
  concur::MPIPoolExecutor& pool = *g_pool;
  std::vector<concur::Future<int>> futures;
  futures.reserve(fan_out_tasks);
  for (auto _ : state) {
    futures.clear();
    for (int i = 0; i < fan_out_tasks; ++i) futures.push_back(pool.submit(noop));
    concur::wait(futures);
    int sum = 0;
    for (const concur::Future<int>& f : futures) sum += f.result();
    if (sum != fan_out_tasks) {
      state.SkipWithError("a no-op call returned a wrong value");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * fan_out_tasks);
}
BENCHMARK(BM_MPIPool_FanOut)->UseRealTime();

// map(x -> 2x) over 100k ints, 1000 calls per task.
static void BM_MPIPool_MapChunked(benchmark::State& state) {
  concur::MPIPoolExecutor& pool = *g_pool;
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
BENCHMARK(BM_MPIPool_MapChunked)->UseRealTime();

int main(int argc, char** argv) {
  // Every rank: rank 0 runs the benchmarks on the pool; the others serve it until they end.
  return concur::mpi_main(argc, argv, [&argc, &argv](concur::MPIPoolExecutor& pool) {
    g_pool = &pool;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    g_pool = nullptr;
    return 0;
  });
}
