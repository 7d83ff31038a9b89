// bench/bench_submit.cpp - cost of one submit() -> result() round trip, against std::async.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/thread_pool.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <future>

static void BM_ThreadPool_SubmitRoundTrip(benchmark::State& state) {
  concur::ThreadPoolExecutor pool(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    int value = pool.submit([] { return 1; }).result();
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThreadPool_SubmitRoundTrip)->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime();

// Baseline in the same run: a new thread per call.
static void BM_StdAsync_RoundTrip(benchmark::State& state) {
  for (auto _ : state) {
    int value = std::async(std::launch::async, [] { return 1; }).get();
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StdAsync_RoundTrip)->UseRealTime();
