// bench/bench_workloads.cpp - concur against its peers on six workloads, all in one run.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Names are a contract (tools/bench_report.sh parses them): BM_<Subject>_<Workload>[/<arg>].
// Subjects: Concur (ThreadPoolExecutor), ConcurProcess (ProcessPoolExecutor), Asio
// (asio::thread_pool + post of a packaged_task), TbbArena (task_arena + enqueue of a
// packaged_task), TbbGroup (task_group, no futures), TbbParallelFor, ThreadPoolLib
// (thread_pool::ThreadPool), StdAsync, Textbook (peers/textbook_pool.hpp), PipePool (the floor
// for processes, peers/pipe_pool.hpp), Semaphore (the floor for a round trip), RawThreads and
// Sequential (controls for Count). Every pool has 2 workers: the machine has 2 cores.
//
// Workloads:
//   W1 RoundTrip   submit one no-op returning an int and wait for it; real time per round trip.
//   W2 FanOut/N    submit N no-ops, then wait for every result; items = tasks.
//   W3 Map...      x -> 2x over 1M ints (100k for MapNoChunk), every result summed; items = ints.
//   W4 Count       the talks' count(1..10), ten CPU-bound calls per iteration; items = calls.
//   W5 AsCompleted/N, Wait/N (submit + wait), AsCompletedReady/N, WaitReady/N (ready futures
//                  only, so any non-linear cost shows as ns/future growing with N), Callbacks.
//   W6 Allocs      operator new calls and bytes per submitted task (counters allocs_per_task,
//                  bytes_per_task), counted in every thread by the replacement operator new below.
//
// Peers are compiled in when CMake finds them (CONCUR_BENCH_HAVE_TBB, _THREAD_POOL, _ASIO), so
// the binary builds with any subset. Everything multi-threaded uses real time.
#include <concur/future.hpp>
#include <concur/process_pool.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <future>
#include <memory>
#include <new>
#include <numeric>
#include <semaphore>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../examples/count_workload.hpp"  // the talks' count loop, as the examples run it
#include "peers/pipe_pool.hpp"
#include "peers/textbook_pool.hpp"

#ifdef CONCUR_BENCH_HAVE_ASIO
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#endif
#ifdef CONCUR_BENCH_HAVE_TBB
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif
#ifdef CONCUR_BENCH_HAVE_THREAD_POOL
#include <thread_pool/thread_pool.hpp>
#endif

// ---------------------------------------------------------------------------------------------
// W6's allocation counter: every form of global operator new and delete, replaced for the whole
// program. Counting is off except inside an AllocWindow, so the other benchmarks pay one relaxed
// load of a flag nobody writes, instead of two contended atomic adds per allocation. malloc and
// free do the work; the aligned forms use posix_memalign, whose blocks free() releases.
// Allocations that bypass operator new (TBB's own scalable allocator, thread stacks, malloc
// called directly) are not seen.

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_alloc_calls{0};
std::atomic<std::uint64_t> g_alloc_bytes{0};

void note_allocation(std::size_t size) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_alloc_calls.fetch_add(1, std::memory_order_relaxed);
    g_alloc_bytes.fetch_add(size, std::memory_order_relaxed);
  }
}

// operator new's contract: never null; call the new-handler and retry until it gives up.
void* allocate(std::size_t size, std::size_t alignment) {
  note_allocation(size);
  if (size == 0) size = 1;  // each call must return a distinct pointer
  while (true) {
    void* block = nullptr;
    if (alignment <= alignof(std::max_align_t)) {
      block = std::malloc(size);
    } else if (::posix_memalign(&block, alignment, size) != 0) {
      block = nullptr;
    }
    if (block != nullptr) return block;
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* allocate_nothrow(std::size_t size, std::size_t alignment) noexcept {
  try {
    return allocate(size, alignment);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

void* operator new(std::size_t size) {
  return allocate(size, 0);
}
void* operator new[](std::size_t size) {
  return allocate(size, 0);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, 0);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, 0);
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  return allocate(size, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return allocate(size, static_cast<std::size_t>(alignment));
}
void* operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return allocate_nothrow(size, static_cast<std::size_t>(alignment));
}
void operator delete(void* block) noexcept {
  std::free(block);
}
void operator delete[](void* block) noexcept {
  std::free(block);
}
void operator delete(void* block, std::size_t) noexcept {
  std::free(block);
}
void operator delete[](void* block, std::size_t) noexcept {
  std::free(block);
}
void operator delete(void* block, const std::nothrow_t&) noexcept {
  std::free(block);
}
void operator delete[](void* block, const std::nothrow_t&) noexcept {
  std::free(block);
}
void operator delete(void* block, std::align_val_t) noexcept {
  std::free(block);
}
void operator delete[](void* block, std::align_val_t) noexcept {
  std::free(block);
}
void operator delete(void* block, std::size_t, std::align_val_t) noexcept {
  std::free(block);
}
void operator delete[](void* block, std::size_t, std::align_val_t) noexcept {
  std::free(block);
}
void operator delete(void* block, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(block);
}
void operator delete[](void* block, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(block);
}

namespace {

constexpr std::size_t workers = 2;  // the machine has 2 cores

// ---------------------------------------------------------------------------------------------
// Tasks. The process pool runs plain functions, so the shared ones are plain functions too.

int noop() {
  return 1;
}
int twice(int x) {
  return 2 * x;
}

// The talks' count: `i += 1` ten million times, then `return i * number`
// (examples/count_workload.hpp).
constexpr std::int64_t count_loops = 10'000'000;
constexpr int count_calls = 10;  // count(1) .. count(10)

std::int64_t count(int number) {
  return count_workload::count(count_loops, number);
}

constexpr std::size_t fan_out_threads = 200'000;
// Process subjects fan out 10,000 calls: at tens of microseconds per call, 200k × ~70 µs would
// spend seconds on each iteration and minutes on the run.
constexpr std::size_t fan_out_processes = 10'000;

constexpr std::size_t map_items = 1'000'000;
constexpr std::size_t map_no_chunk_items = 100'000;  // one future per item: 1M would be slow
constexpr std::size_t map_chunk = 1000;              // the peers' chunk, one future each

constexpr std::size_t alloc_tasks = 10'000;
constexpr int callback_tasks = 100'000;

// 0, 1, ..., n-1, built once per size outside any timing.
const std::vector<int>& iota_ints(std::size_t n) {
  static const std::vector<int> million = [] {
    std::vector<int> v(map_items);
    std::iota(v.begin(), v.end(), 0);
    return v;
  }();
  static const std::vector<int> hundred_thousand(million.begin(),
                                                 million.begin() + map_no_chunk_items);
  return n == map_items ? million : hundred_thousand;
}

// Sum of 2x over 0..n-1.
constexpr std::int64_t doubled_sum(std::size_t n) {
  return static_cast<std::int64_t>(n) * static_cast<std::int64_t>(n - 1);
}

// Runs a benchmark body; an exception (a broken pool, a failed fork) skips the benchmark
// instead of ending the run.
template <class Body>
void guarded(benchmark::State& state, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// The thread-pool subjects behind one face, each class named as its subject: submit(fn)
// returns future<R>, and value_of(future) waits for the value.

template <class T>
const T& value_of(concur::Future<T>& future) {
  return future.result();
}
template <class T>
T value_of(std::future<T>& future) {
  return future.get();
}

class Concur {
 public:
  template <class R>
  using future = concur::Future<R>;
  template <class F>
  auto submit(F&& fn) {
    return pool_.submit(std::forward<F>(fn));
  }

 private:
  concur::ThreadPoolExecutor pool_{workers};
};

class Textbook {
 public:
  template <class R>
  using future = std::future<R>;
  template <class F>
  auto submit(F&& fn) {
    return pool_.submit(std::forward<F>(fn));
  }

 private:
  concur_bench::TextbookPool pool_{workers};
};

// A new thread per call; only for RoundTrip and Allocs (a 200k-thread fan-out is not a test).
class StdAsync {
 public:
  template <class R>
  using future = std::future<R>;
  template <class F>
  auto submit(F&& fn) {
    return std::async(std::launch::async, std::forward<F>(fn));
  }
};

#ifdef CONCUR_BENCH_HAVE_ASIO
class Asio {
 public:
  template <class R>
  using future = std::future<R>;
  Asio() = default;
  Asio(const Asio&) = delete;
  Asio& operator=(const Asio&) = delete;
  ~Asio() { pool_.join(); }
  template <class F>
  auto submit(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    // asio::post accepts a move-only handler, so the packaged_task goes in as it is.
    std::packaged_task<R()> task(std::forward<F>(fn));
    std::future<R> result = task.get_future();
    asio::post(pool_, std::move(task));
    return result;
  }

 private:
  asio::thread_pool pool_{workers};
};
#endif

#ifdef CONCUR_BENCH_HAVE_TBB
class TbbArena {
 public:
  template <class R>
  using future = std::future<R>;
  template <class F>
  auto submit(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    Job<R> job{std::packaged_task<R()>(std::forward<F>(fn))};
    std::future<R> result = job.task.get_future();
    arena_.enqueue(std::move(job));
    return result;
  }

 private:
  // task_arena::enqueue keeps the functor const and calls it as such; packaged_task's call is
  // not const. `mutable` bridges that without the extra allocation of a shared_ptr.
  template <class R>
  struct Job {
    mutable std::packaged_task<R()> task;
    void operator()() const { task(); }
  };
  // TBB's default is one thread per core *including* the caller's, so with 2 cores it starts 1
  // worker; here the caller never joins the arena (it blocks in future.get()), so 2 workers
  // need a limit of 3. The arena reserves no slot for the caller for the same reason.
  tbb::global_control parallelism_{tbb::global_control::max_allowed_parallelism, workers + 1};
  tbb::task_arena arena_{static_cast<int>(workers), 0};
};
#endif

#ifdef CONCUR_BENCH_HAVE_THREAD_POOL
class ThreadPoolLib {
 public:
  template <class R>
  using future = std::future<R>;
  template <class F>
  auto submit(F&& fn) {
    return pool_.Submit(std::forward<F>(fn));
  }

 private:
  thread_pool::ThreadPool pool_{workers};
};
#endif

// Starts the workers (pools that start threads on demand) and touches the queues before timing.
template <class Pool>
void warm(Pool& pool) {
  std::vector<typename Pool::template future<int>> futures;
  for (int i = 0; i < 64; ++i) futures.push_back(pool.submit(noop));
  for (auto& f : futures) benchmark::DoNotOptimize(value_of(f));
}

// ---------------------------------------------------------------------------------------------
// W6's window: counts what operator new does between start and stop, in every thread.

struct AllocTotals {
  std::uint64_t calls = 0;
  std::uint64_t bytes = 0;
};

class AllocWindow {
 public:
  AllocWindow() {
    g_alloc_calls.store(0, std::memory_order_relaxed);
    g_alloc_bytes.store(0, std::memory_order_relaxed);
    g_counting.store(true, std::memory_order_seq_cst);
  }
  AllocWindow(const AllocWindow&) = delete;
  AllocWindow& operator=(const AllocWindow&) = delete;
  ~AllocWindow() { g_counting.store(false, std::memory_order_seq_cst); }
  void stop_into(AllocTotals& totals) {
    g_counting.store(false, std::memory_order_seq_cst);
    totals.calls += g_alloc_calls.load(std::memory_order_relaxed);
    totals.bytes += g_alloc_bytes.load(std::memory_order_relaxed);
  }
};

void publish_allocs(benchmark::State& state, const AllocTotals& totals, std::size_t tasks) {
  const double n = static_cast<double>(tasks);
  state.counters["allocs_per_task"] = static_cast<double>(totals.calls) / n;
  state.counters["bytes_per_task"] = static_cast<double>(totals.bytes) / n;
}

// ---------------------------------------------------------------------------------------------
// The workloads, written once for every thread pool.

// W1: one no-op, one result, again.
template <class Pool>
void round_trip(benchmark::State& state) {
  guarded(state, [&] {
    Pool pool;
    warm(pool);
    for (auto _ : state) {
      auto future = pool.submit(noop);
      int value = value_of(future);
      benchmark::DoNotOptimize(value);
    }
    state.SetItemsProcessed(state.iterations());
  });
}

// W2: N no-ops, then every result.
template <class Pool>
void fan_out(benchmark::State& state) {
  guarded(state, [&] {
    const auto n = static_cast<std::size_t>(state.range(0));
    Pool pool;
    warm(pool);
    std::vector<typename Pool::template future<int>> futures;
    futures.reserve(n);
    for (auto _ : state) {
      futures.clear();
      for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit(noop));
      std::size_t sum = 0;
      for (auto& f : futures) sum += static_cast<std::size_t>(value_of(f));
      if (sum != n) {
        state.SkipWithError("a no-op returned a wrong value");
        break;
      }
    }
    futures.clear();
    state.SetItemsProcessed(state.iterations() * state.range(0));
  });
}

// W3 for the peers: one task (one future) per 1000-item chunk, each returning its results, and
// the results consumed in input order, which is what map() with chunksize 1000 does.
template <class Pool>
void map_chunked(benchmark::State& state) {
  guarded(state, [&] {
    const std::vector<int>& xs = iota_ints(map_items);
    Pool pool;
    warm(pool);
    std::vector<typename Pool::template future<std::vector<int>>> futures;
    futures.reserve(map_items / map_chunk + 1);
    for (auto _ : state) {
      futures.clear();
      for (std::size_t begin = 0; begin < xs.size(); begin += map_chunk) {
        const std::size_t end = std::min(begin + map_chunk, xs.size());
        futures.push_back(pool.submit([&xs, begin, end] {
          std::vector<int> out;
          out.reserve(end - begin);
          for (std::size_t i = begin; i < end; ++i) out.push_back(2 * xs[i]);
          return out;
        }));
      }
      std::int64_t sum = 0;
      for (auto& f : futures) {
        for (int v : value_of(f)) sum += v;
      }
      benchmark::DoNotOptimize(sum);
      if (sum != doubled_sum(map_items)) {
        state.SkipWithError("a chunk returned wrong values");
        break;
      }
    }
    futures.clear();
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(map_items));
  });
}

bool count_results_right(const std::vector<std::int64_t>& results) {
  for (std::size_t k = 0; k < results.size(); ++k) {
    if (results[k] != count_loops * static_cast<std::int64_t>(k + 1)) return false;
  }
  return results.size() == count_calls;
}

// W4: count(1) .. count(10) submitted at once, then every result.
template <class Pool>
void count_all(benchmark::State& state) {
  guarded(state, [&] {
    Pool pool;
    warm(pool);
    std::vector<typename Pool::template future<std::int64_t>> futures;
    std::vector<std::int64_t> results;
    for (auto _ : state) {
      futures.clear();
      results.clear();
      for (int number = 1; number <= count_calls; ++number) {
        futures.push_back(pool.submit([number] { return count(number); }));
      }
      for (auto& f : futures) results.push_back(value_of(f));
      if (!count_results_right(results)) {
        state.SkipWithError("count returned a wrong value");
        break;
      }
    }
    futures.clear();
    state.SetItemsProcessed(state.iterations() * count_calls);
  });
}

// W6: 10,000 small tasks (32 bytes of captures, an int back), submitted then waited for, with
// operator new counted in every thread. The futures vector is reserved before counting, so
// what is counted is the pool's own cost per task. `window` tasks are in flight at most.
template <class Pool>
void allocs(benchmark::State& state, std::size_t window = alloc_tasks) {
  guarded(state, [&] {
    Pool pool;
    warm(pool);
    std::vector<typename Pool::template future<int>> futures;
    futures.reserve(alloc_tasks);
    // Untimed, uncounted passes first, so that queues have reached their working size (a queue
    // that grows to a new peak allocates once; the steady state is what W6 measures). In the
    // first, every worker is held until all the calls are queued: the largest queue a window
    // can make.
    for (int pass = 0; pass < 3; ++pass) {
      futures.clear();
      std::atomic<bool> go{pass != 0 || window < alloc_tasks};
      std::vector<typename Pool::template future<int>> holds;
      for (std::size_t w = 0; w < workers && !go.load(); ++w) {
        holds.push_back(pool.submit([&go] {
          while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
          return 0;
        }));
      }
      for (std::size_t i = 0; i < alloc_tasks; ++i) futures.push_back(pool.submit(noop));
      go.store(true, std::memory_order_release);
      for (auto& f : holds) benchmark::DoNotOptimize(value_of(f));
      for (auto& f : futures) benchmark::DoNotOptimize(value_of(f));
    }
    AllocTotals totals;
    for (auto _ : state) {
      futures.clear();
      std::int64_t sum = 0;
      AllocWindow counting;
      for (std::size_t from = 0; from < alloc_tasks; from += window) {
        const std::size_t to = std::min(from + window, alloc_tasks);
        for (std::size_t i = from; i < to; ++i) {
          const auto a = static_cast<std::int64_t>(i);
          const std::int64_t b = a + 1, c = a + 2, d = a + 3;
          futures.push_back(pool.submit([a, b, c, d] { return static_cast<int>(a + b + c + d); }));
        }
        for (std::size_t i = from; i < to; ++i) sum += value_of(futures[i]);
      }
      counting.stop_into(totals);
      benchmark::DoNotOptimize(sum);
    }
    futures.clear();
    publish_allocs(state, totals, static_cast<std::size_t>(state.iterations()) * alloc_tasks);
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(alloc_tasks));
  });
}

}  // namespace

// =============================================================================================
// W1 RoundTrip: real time per round trip (one iteration = one submit + one result).

static void BM_Concur_RoundTrip(benchmark::State& state) {
  round_trip<Concur>(state);
}
BENCHMARK(BM_Concur_RoundTrip)->UseRealTime();

static void BM_ConcurProcess_RoundTrip(benchmark::State& state) {
  guarded(state, [&] {
    concur::ProcessPoolExecutor pool(workers);
    static_cast<void>(pool.submit(noop).result());  // a worker is up before timing
    for (auto _ : state) {
      int value = pool.submit(noop).result();
      benchmark::DoNotOptimize(value);
    }
    state.SetItemsProcessed(state.iterations());
  });
}
BENCHMARK(BM_ConcurProcess_RoundTrip)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_ASIO
static void BM_Asio_RoundTrip(benchmark::State& state) {
  round_trip<Asio>(state);
}
BENCHMARK(BM_Asio_RoundTrip)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_TBB
static void BM_TbbArena_RoundTrip(benchmark::State& state) {
  round_trip<TbbArena>(state);
}
BENCHMARK(BM_TbbArena_RoundTrip)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_THREAD_POOL
static void BM_ThreadPoolLib_RoundTrip(benchmark::State& state) {
  round_trip<ThreadPoolLib>(state);
}
BENCHMARK(BM_ThreadPoolLib_RoundTrip)->UseRealTime();
#endif

static void BM_StdAsync_RoundTrip(benchmark::State& state) {
  round_trip<StdAsync>(state);
}
BENCHMARK(BM_StdAsync_RoundTrip)->UseRealTime();

static void BM_Textbook_RoundTrip(benchmark::State& state) {
  round_trip<Textbook>(state);
}
BENCHMARK(BM_Textbook_RoundTrip)->UseRealTime();

// Floor for processes: one 8-byte request and a 4-byte reply over a socketpair, children taken
// in turn as a 2-process pool would.
static void BM_PipePool_RoundTrip(benchmark::State& state) {
  concur_bench::PipePool pool(workers);
  if (!pool.ok()) {
    state.SkipWithError("PipePool: socketpair() or fork() failed");
    return;
  }
  std::size_t child = 0;
  for (auto _ : state) {
    std::int32_t value = 0;
    if (!pool.call(child, concur_bench::PipeFunction::noop, 0, value) || value != 1) {
      state.SkipWithError("PipePool: a child failed");
      break;
    }
    benchmark::DoNotOptimize(value);
    child = (child + 1) % pool.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PipePool_RoundTrip)->UseRealTime();

// Floor for threads: a dedicated thread and two binary semaphores, which is the least a hand-off
// to another thread and back can cost (two wake-ups), with no queue, no task object, no future.
static void BM_Semaphore_RoundTrip(benchmark::State& state) {
  std::binary_semaphore request{0};
  std::binary_semaphore reply{0};
  bool stop = false;  // written before request.release(), read after acquire(): ordered
  int value = 0;      // likewise, handed over by the semaphores
  std::thread server([&] {
    while (true) {
      request.acquire();
      if (stop) return;
      value = noop();
      reply.release();
    }
  });
  for (auto _ : state) {
    request.release();
    reply.acquire();
    benchmark::DoNotOptimize(value);
  }
  stop = true;
  request.release();
  server.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Semaphore_RoundTrip)->UseRealTime();

// =============================================================================================
// W2 FanOut/N: N no-ops submitted, then every result; items = tasks, so ns/task =
// 1e9 / items_per_second.

static void BM_Concur_FanOut(benchmark::State& state) {
  fan_out<Concur>(state);
}
BENCHMARK(BM_Concur_FanOut)->Arg(fan_out_threads)->UseRealTime();

static void BM_ConcurProcess_FanOut(benchmark::State& state) {
  guarded(state, [&] {
    const auto n = static_cast<std::size_t>(state.range(0));
    concur::ProcessPoolExecutor pool(workers);
    {
      auto a = pool.submit(noop);  // two at once, so that both workers start before timing
      auto b = pool.submit(noop);
      static_cast<void>(a.result() + b.result());
    }
    std::vector<concur::Future<int>> futures;
    futures.reserve(n);
    for (auto _ : state) {
      futures.clear();
      for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit(noop));
      std::size_t sum = 0;
      for (const concur::Future<int>& f : futures) sum += static_cast<std::size_t>(f.result());
      if (sum != n) {
        state.SkipWithError("a no-op returned a wrong value");
        break;
      }
    }
    futures.clear();
    state.SetItemsProcessed(state.iterations() * state.range(0));
  });
}
BENCHMARK(BM_ConcurProcess_FanOut)->Arg(fan_out_processes)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_ASIO
static void BM_Asio_FanOut(benchmark::State& state) {
  fan_out<Asio>(state);
}
BENCHMARK(BM_Asio_FanOut)->Arg(fan_out_threads)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_TBB
static void BM_TbbArena_FanOut(benchmark::State& state) {
  fan_out<TbbArena>(state);
}
BENCHMARK(BM_TbbArena_FanOut)->Arg(fan_out_threads)->UseRealTime();

// No futures at all: task_group's run() and one wait(). The calling thread helps in wait(), so
// TBB's default (one worker plus the caller) already puts 2 threads on the tasks.
static void BM_TbbGroup_FanOut(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::atomic<std::size_t> ran{0};
  for (auto _ : state) {
    ran.store(0, std::memory_order_relaxed);
    tbb::task_group group;
    for (std::size_t i = 0; i < n; ++i) {
      // A relaxed increment stands in for the int the other subjects hand back: it proves each
      // task ran without a result slot per task.
      group.run([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    }
    group.wait();
    if (ran.load(std::memory_order_relaxed) != n) {
      state.SkipWithError("task_group ran a wrong number of tasks");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TbbGroup_FanOut)->Arg(fan_out_threads)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_THREAD_POOL
static void BM_ThreadPoolLib_FanOut(benchmark::State& state) {
  fan_out<ThreadPoolLib>(state);
}
BENCHMARK(BM_ThreadPoolLib_FanOut)->Arg(fan_out_threads)->UseRealTime();
#endif

static void BM_Textbook_FanOut(benchmark::State& state) {
  fan_out<Textbook>(state);
}
BENCHMARK(BM_Textbook_FanOut)->Arg(fan_out_threads)->UseRealTime();

// Floor for processes, pipelined: requests go out 100 to a write() (one message), at most 4
// messages unanswered per child, so the socket buffers never fill; replies come back 100 to a
// read.
static void BM_PipePool_FanOut(benchmark::State& state) {
  constexpr std::size_t per_message = 100;
  const auto n = static_cast<std::size_t>(state.range(0));
  concur_bench::PipePool pool(workers);
  if (!pool.ok()) {
    state.SkipWithError("PipePool: socketpair() or fork() failed");
    return;
  }
  std::vector<char> batch;
  const concur_bench::PipeRequest request{concur_bench::PipeFunction::noop, 0};
  for (std::size_t i = 0; i < per_message; ++i) {
    concur_bench::PipePool::append(batch, &request, sizeof request);
  }
  for (auto _ : state) {
    std::size_t sum = 0;
    const bool ok = pool.pipeline(
        n / per_message, 4, per_message * sizeof(std::int32_t),
        [&batch](std::size_t, std::vector<char>& message) {
          message.insert(message.end(), batch.begin(), batch.end());
        },
        [&sum](std::size_t, const char* reply) {
          for (std::size_t k = 0; k < per_message; ++k) {
            std::int32_t value;
            std::memcpy(&value, reply + k * sizeof value, sizeof value);
            sum += static_cast<std::size_t>(value);
          }
        });
    if (!ok || sum != n / per_message * per_message) {
      state.SkipWithError("PipePool: a child failed or answered wrongly");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PipePool_FanOut)->Arg(fan_out_processes)->UseRealTime();

// =============================================================================================
// W3 Map: x -> 2x over 1,000,000 ints prepared once, every result summed; items = ints.

// Each iteration maps fn (x -> 2x) over `items` ints on `pool`, adds the results up with
// sum_of(range) and checks the sum. The pool is made by make_pool(), inside guarded().
template <class MakePool, class Fn, class Sum>
void map_bench(benchmark::State& state, MakePool make_pool, Fn fn, std::size_t items,
               const concur::MapOptions& options, Sum sum_of) {
  guarded(state, [&] {
    const std::vector<int>& xs = iota_ints(items);
    auto pool = make_pool();
    for (auto _ : state) {
      auto results = pool->map(fn, xs, options);
      const std::int64_t sum = sum_of(results);
      benchmark::DoNotOptimize(sum);
      if (sum != doubled_sum(items)) {
        state.SkipWithError("map returned wrong values");
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(items));
  });
}

// The results one at a time, through the range's iterator.
constexpr auto sum_each = [](auto& results) {
  std::int64_t sum = 0;
  for (int v : results) sum += v;
  return sum;
};

constexpr auto twice_lambda = [](int x) { return 2 * x; };

static auto concur_thread_pool() {
  return std::make_unique<concur::ThreadPoolExecutor>(workers);
}

static concur::MapOptions chunked(const benchmark::State& state) {
  return concur::MapOptions{.chunksize = static_cast<std::size_t>(state.range(0))};
}

static void BM_Concur_Map(benchmark::State& state) {
  map_bench(state, concur_thread_pool, twice_lambda, map_items, chunked(state), sum_each);
}
BENCHMARK(BM_Concur_Map)->ArgName("chunksize")->Arg(1000)->Arg(16384)->Arg(131072)->UseRealTime();

// The same map, its results read a ready run at a time through spans(): the loop over each
// std::span is the plain loop parallel_for's reference sums its output array with.
static void BM_Concur_MapSpans(benchmark::State& state) {
  map_bench(state, concur_thread_pool, twice_lambda, map_items, chunked(state), [](auto& results) {
    std::int64_t sum = 0;
    for (std::span<int> run : results.spans()) {
      for (int v : run) sum += v;
    }
    return sum;
  });
}
BENCHMARK(BM_Concur_MapSpans)->ArgName("chunksize")->Arg(16384)->Arg(131072)->UseRealTime();

// chunksize 1, one future per item, over 100,000 ints (not 1M): the per-future cost of map().
static void BM_Concur_MapNoChunk(benchmark::State& state) {
  map_bench(state, concur_thread_pool, twice_lambda, map_no_chunk_items, concur::MapOptions{},
            sum_each);
}
BENCHMARK(BM_Concur_MapNoChunk)->UseRealTime();

// chunksize 16384 with at most 4 chunks submitted ahead of the consumer (Python 3.14's
// buffersize): bounded memory, at what cost in throughput.
static void BM_Concur_MapBuffered(benchmark::State& state) {
  map_bench(state, concur_thread_pool, twice_lambda, map_items,
            concur::MapOptions{.chunksize = 16384, .buffersize = 4}, sum_each);
}
BENCHMARK(BM_Concur_MapBuffered)->UseRealTime();

static void BM_ConcurProcess_Map(benchmark::State& state) {
  const auto process_pool = [] {
    auto pool = std::make_unique<concur::ProcessPoolExecutor>(workers);
    static_cast<void>(pool->submit(noop).result());  // its first worker started
    return pool;
  };
  map_bench(state, process_pool, twice, map_items, chunked(state), sum_each);
}
BENCHMARK(BM_ConcurProcess_Map)->ArgName("chunksize")->Arg(1000)->Arg(16384)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_TBB
// The data-parallel answer: no futures, no per-chunk result vectors; parallel_for writes into
// one output array (allocated each iteration, uninitialised, as the others allocate their
// results), then the same in-order sum as everyone else.
static void BM_TbbParallelFor_Map(benchmark::State& state) {
  const std::vector<int>& xs = iota_ints(map_items);
  for (auto _ : state) {
    auto out = std::make_unique_for_overwrite<int[]>(map_items);
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, map_items),
                      [&xs, &out](const tbb::blocked_range<std::size_t>& range) {
                        for (std::size_t i = range.begin(); i != range.end(); ++i) {
                          out[i] = 2 * xs[i];
                        }
                      });
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < map_items; ++i) sum += out[i];
    benchmark::DoNotOptimize(sum);
    if (sum != doubled_sum(map_items)) {
      state.SkipWithError("parallel_for produced wrong values");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(map_items));
}
BENCHMARK(BM_TbbParallelFor_Map)->UseRealTime();

static void BM_TbbArena_MapChunked(benchmark::State& state) {
  map_chunked<TbbArena>(state);
}
BENCHMARK(BM_TbbArena_MapChunked)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_ASIO
static void BM_Asio_MapChunked(benchmark::State& state) {
  map_chunked<Asio>(state);
}
BENCHMARK(BM_Asio_MapChunked)->UseRealTime();
#endif

static void BM_Textbook_MapChunked(benchmark::State& state) {
  map_chunked<Textbook>(state);
}
BENCHMARK(BM_Textbook_MapChunked)->UseRealTime();

// Floor for processes: one request per 1000 ints (8-byte header + 4000 bytes, 4000 back), at
// most 2 unanswered per child.
static void BM_PipePool_MapChunked(benchmark::State& state) {
  const std::vector<int>& xs = iota_ints(map_items);
  concur_bench::PipePool pool(workers);
  if (!pool.ok()) {
    state.SkipWithError("PipePool: socketpair() or fork() failed");
    return;
  }
  const std::size_t messages = (map_items + map_chunk - 1) / map_chunk;
  for (auto _ : state) {
    std::int64_t sum = 0;
    const bool ok = pool.pipeline(
        messages, 2, map_chunk * sizeof(std::int32_t),
        [&xs](std::size_t i, std::vector<char>& message) {
          const concur_bench::PipeRequest header{concur_bench::PipeFunction::twice_batch,
                                                 static_cast<std::int32_t>(map_chunk)};
          concur_bench::PipePool::append(message, &header, sizeof header);
          concur_bench::PipePool::append(message, xs.data() + i * map_chunk,
                                         map_chunk * sizeof(int));
        },
        [&sum](std::size_t, const char* reply) {
          for (std::size_t k = 0; k < map_chunk; ++k) {
            std::int32_t value;
            std::memcpy(&value, reply + k * sizeof value, sizeof value);
            sum += value;
          }
        });
    benchmark::DoNotOptimize(sum);
    if (!ok || sum != doubled_sum(map_items)) {
      state.SkipWithError("PipePool: a child failed or answered wrongly");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(map_items));
}
BENCHMARK(BM_PipePool_MapChunked)->UseRealTime();

// =============================================================================================
// W4 Count: count(1) .. count(10), 10M loops each; one iteration = the ten calls, items =
// calls. Speed-up = BM_Sequential_Count time / subject time (at most 2 on 2 cores).

static void BM_Sequential_Count(benchmark::State& state) {
  std::vector<std::int64_t> results;
  for (auto _ : state) {
    results.clear();
    for (int number = 1; number <= count_calls; ++number) results.push_back(count(number));
    if (!count_results_right(results)) {
      state.SkipWithError("count returned a wrong value");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * count_calls);
}
BENCHMARK(BM_Sequential_Count)->UseRealTime();

// The control: no library, two std::threads taking five calls each, started and joined every
// iteration (as the example does; two thread starts are noise next to the calls).
static void BM_RawThreads_Count(benchmark::State& state) {
  std::vector<std::int64_t> results(count_calls);
  for (auto _ : state) {
    auto calls = [&results](int from, int to) {
      for (int number = from; number <= to; ++number) {
        results[static_cast<std::size_t>(number - 1)] = count(number);
      }
    };
    std::thread first(calls, 1, count_calls / 2);
    std::thread second(calls, count_calls / 2 + 1, count_calls);
    first.join();
    second.join();
    if (!count_results_right(results)) {
      state.SkipWithError("count returned a wrong value");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * count_calls);
}
BENCHMARK(BM_RawThreads_Count)->UseRealTime();

static void BM_Concur_Count(benchmark::State& state) {
  count_all<Concur>(state);
}
BENCHMARK(BM_Concur_Count)->UseRealTime();

static void BM_ConcurProcess_Count(benchmark::State& state) {
  guarded(state, [&] {
    concur::ProcessPoolExecutor pool(workers);
    {
      auto a = pool.submit(noop);
      auto b = pool.submit(noop);
      static_cast<void>(a.result() + b.result());
    }
    std::vector<concur::Future<std::int64_t>> futures;
    std::vector<std::int64_t> results;
    for (auto _ : state) {
      futures.clear();
      results.clear();
      for (int number = 1; number <= count_calls; ++number) {
        futures.push_back(pool.submit(count, number));
      }
      for (const auto& f : futures) results.push_back(f.result());
      if (!count_results_right(results)) {
        state.SkipWithError("count returned a wrong value");
        break;
      }
    }
    futures.clear();
    state.SetItemsProcessed(state.iterations() * count_calls);
  });
}
BENCHMARK(BM_ConcurProcess_Count)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_ASIO
static void BM_Asio_Count(benchmark::State& state) {
  count_all<Asio>(state);
}
BENCHMARK(BM_Asio_Count)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_TBB
static void BM_TbbArena_Count(benchmark::State& state) {
  count_all<TbbArena>(state);
}
BENCHMARK(BM_TbbArena_Count)->UseRealTime();
#endif

static void BM_Textbook_Count(benchmark::State& state) {
  count_all<Textbook>(state);
}
BENCHMARK(BM_Textbook_Count)->UseRealTime();

// =============================================================================================
// W5, concur only: waiting on many futures. items = futures, so ns/future (1e9 / items per
// second) should be the same at 10k and 100k; growth means a cost above linear.

// Submit N no-ops and take them as they complete.
static void BM_Concur_AsCompleted(benchmark::State& state) {
  guarded(state, [&] {
    const auto n = static_cast<std::size_t>(state.range(0));
    Concur pool;
    warm(pool);
    std::vector<concur::Future<int>> futures;
    futures.reserve(n);
    for (auto _ : state) {
      futures.clear();
      for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit(noop));
      std::size_t sum = 0;
      for (const concur::Future<int>& f : concur::as_completed(futures)) {
        sum += static_cast<std::size_t>(f.result());
      }
      if (sum != n) {
        state.SkipWithError("as_completed yielded a wrong set of futures");
        break;
      }
    }
    futures.clear();
    state.SetItemsProcessed(state.iterations() * state.range(0));
  });
}
BENCHMARK(BM_Concur_AsCompleted)->Arg(10'000)->Arg(100'000)->UseRealTime();

// Submit N no-ops and wait() for all of them.
static void BM_Concur_Wait(benchmark::State& state) {
  guarded(state, [&] {
    const auto n = static_cast<std::size_t>(state.range(0));
    Concur pool;
    warm(pool);
    std::vector<concur::Future<int>> futures;
    futures.reserve(n);
    for (auto _ : state) {
      futures.clear();
      for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit(noop));
      const auto outcome = concur::wait(futures);
      if (outcome.done.size() != n || !outcome.not_done.empty()) {
        state.SkipWithError("wait returned before every future was done");
        break;
      }
    }
    futures.clear();
    state.SetItemsProcessed(state.iterations() * state.range(0));
  });
}
BENCHMARK(BM_Concur_Wait)->Arg(10'000)->Arg(100'000)->UseRealTime();

namespace {

// N futures finished before timing (Promise::set_result): only as_completed()'s own cost.
std::vector<concur::Future<int>> ready_futures(std::size_t n) {
  std::vector<concur::Future<int>> futures;
  futures.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    concur::Promise<int> promise;
    futures.push_back(promise.get_future());
    promise.set_result(1);
  }
  return futures;
}

}  // namespace

static void BM_Concur_AsCompletedReady(benchmark::State& state) {
  guarded(state, [&] {
    const auto n = static_cast<std::size_t>(state.range(0));
    const std::vector<concur::Future<int>> futures = ready_futures(n);
    for (auto _ : state) {
      std::size_t sum = 0;
      for (const concur::Future<int>& f : concur::as_completed(futures)) {
        sum += static_cast<std::size_t>(f.result());
      }
      if (sum != n) {
        state.SkipWithError("as_completed yielded a wrong set of futures");
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
  });
}
BENCHMARK(BM_Concur_AsCompletedReady)->Arg(10'000)->Arg(100'000)->UseRealTime();

static void BM_Concur_WaitReady(benchmark::State& state) {
  guarded(state, [&] {
    const auto n = static_cast<std::size_t>(state.range(0));
    const std::vector<concur::Future<int>> futures = ready_futures(n);
    for (auto _ : state) {
      const auto outcome = concur::wait(futures);
      if (outcome.done.size() != n) {
        state.SkipWithError("wait left a finished future in not_done");
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
  });
}
BENCHMARK(BM_Concur_WaitReady)->Arg(10'000)->Arg(100'000)->UseRealTime();

// 100,000 no-ops, each with a done-callback counting it; an iteration ends when the count says
// all have run (the last callback wakes the waiting thread). The future handles are dropped at
// once: the callbacks alone see the results. Every callback counts, right or wrong, so that a
// wrong result is reported instead of leaving the wait short of its count for ever.
static void BM_Concur_Callbacks(benchmark::State& state) {
  guarded(state, [&] {
    Concur pool;
    warm(pool);
    std::atomic<int> done{0};
    std::atomic<bool> wrong{false};
    for (auto _ : state) {
      done.store(0, std::memory_order_relaxed);
      for (int i = 0; i < callback_tasks; ++i) {
        pool.submit(noop).add_done_callback([&done, &wrong](const concur::Future<int>& f) {
          if (f.exception() != nullptr || f.result() != 1) wrong.store(true);
          if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == callback_tasks) {
            done.notify_all();
          }
        });
      }
      for (int seen = done.load(std::memory_order_acquire); seen != callback_tasks;
           seen = done.load(std::memory_order_acquire)) {
        done.wait(seen, std::memory_order_acquire);
      }
      if (wrong.load()) {
        state.SkipWithError("a done-callback saw a wrong result");
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * callback_tasks);
  });
}
BENCHMARK(BM_Concur_Callbacks)->UseRealTime();

// =============================================================================================
// W6 Allocs: operator new calls and bytes per task (counters allocs_per_task, bytes_per_task)
// for 10,000 tasks of 32 bytes of captures each, counted in every thread. A few iterations
// suffice: the counts do not vary.

static void BM_Concur_Allocs(benchmark::State& state) {
  allocs<Concur>(state);
}
BENCHMARK(BM_Concur_Allocs)->Iterations(5)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_ASIO
static void BM_Asio_Allocs(benchmark::State& state) {
  allocs<Asio>(state);
}
BENCHMARK(BM_Asio_Allocs)->Iterations(5)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_TBB
static void BM_TbbArena_Allocs(benchmark::State& state) {
  allocs<TbbArena>(state);
}
BENCHMARK(BM_TbbArena_Allocs)->Iterations(5)->UseRealTime();
#endif

#ifdef CONCUR_BENCH_HAVE_THREAD_POOL
static void BM_ThreadPoolLib_Allocs(benchmark::State& state) {
  allocs<ThreadPoolLib>(state);
}
BENCHMARK(BM_ThreadPoolLib_Allocs)->Iterations(5)->UseRealTime();
#endif

static void BM_Textbook_Allocs(benchmark::State& state) {
  allocs<Textbook>(state);
}
BENCHMARK(BM_Textbook_Allocs)->Iterations(5)->UseRealTime();

// std::async: 100 tasks in flight at a time, since each holds a thread until its result is
// taken and 10,000 live threads would test the kernel. The count per task does not depend on
// the window.
static void BM_StdAsync_Allocs(benchmark::State& state) {
  allocs<StdAsync>(state, 100);
}
BENCHMARK(BM_StdAsync_Allocs)->Iterations(3)->UseRealTime();

// Per round trip: submit one small task, wait for it, 10,000 times per iteration.
static void BM_Concur_AllocsRoundTrip(benchmark::State& state) {
  guarded(state, [&] {
    Concur pool;
    warm(pool);
    AllocTotals totals;
    for (auto _ : state) {
      std::int64_t sum = 0;
      AllocWindow counting;
      for (std::size_t i = 0; i < alloc_tasks; ++i) {
        const auto a = static_cast<std::int64_t>(i);
        const std::int64_t b = a + 1, c = a + 2, d = a + 3;
        auto future = pool.submit([a, b, c, d] { return static_cast<int>(a + b + c + d); });
        sum += future.result();
      }
      counting.stop_into(totals);
      benchmark::DoNotOptimize(sum);
    }
    publish_allocs(state, totals, static_cast<std::size_t>(state.iterations()) * alloc_tasks);
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(alloc_tasks));
  });
}
BENCHMARK(BM_Concur_AllocsRoundTrip)->Iterations(5)->UseRealTime();
