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

#include "remote_pool_workloads.hpp"

namespace {
namespace w = remote_pool_workloads;
concur::MPIPoolExecutor* g_pool = nullptr;  // rank 0's pool, while the benchmarks run
}  // namespace

static void BM_MPIPool_RoundTrip(benchmark::State& state) {
  w::round_trip(state, *g_pool);
}
BENCHMARK(BM_MPIPool_RoundTrip)->UseRealTime();

static void BM_MPIPool_FanOut(benchmark::State& state) {
  w::fan_out(state, *g_pool);
}
BENCHMARK(BM_MPIPool_FanOut)->UseRealTime();

static void BM_MPIPool_MapChunked(benchmark::State& state) {
  w::map_chunked(state, *g_pool);
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
