// bench/remote_pool_workloads.hpp - the workloads of the pools whose calls run in other
// processes (bench_process_pool.cpp, bench_mpi.cpp): round trip, fan-out, chunked map.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/future.hpp>
#include <concur/wait.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace remote_pool_workloads {

// The tasks: plain functions, as a pool of processes requires.
inline int noop() {
  return 1;
}
inline int twice(int x) {
  return 2 * x;
}

constexpr int fan_out_tasks = 1000;
constexpr int map_items = 100'000;
constexpr std::size_t map_chunksize = 1000;

// One no-op call at a time: submit, then wait for its result.
template <class Pool>
void round_trip(benchmark::State& state, Pool& pool) {
  static_cast<void>(pool.submit(noop).result());  // the workers are up before timing
  for (auto _ : state) {
    int value = pool.submit(noop).result();
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}

// fan_out_tasks no-op calls submitted at once, then waited for together.
template <class Pool>
void fan_out(benchmark::State& state, Pool& pool) {
  static_cast<void>(pool.submit(noop).result());
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

// map(x -> 2x) over map_items ints, map_chunksize calls per task.
template <class Pool>
void map_chunked(benchmark::State& state, Pool& pool) {
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

}  // namespace remote_pool_workloads
