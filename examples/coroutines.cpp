// examples/coroutines.cpp - the talks' asyncio demo with concur's coroutines.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Shows: coroutines (concur::Task) that co_await futures and each other, started on a
// ThreadPoolExecutor with submit(). say_after(delay, what) waits, then prints `what`. Run one
// after the other (1), two say_after calls take the sum of their delays; submitted together and
// then awaited (2), the longest delay. In (3) a fast routine prints a growing line of dots every
// 100 ms while a slow routine runs for 1 s; when the slow one ends, the dots are stopped with
// request_stop() on their future (a coroutine whose first parameter is a std::stop_token gets
// its future's token, as any submitted function does).
// asyncio.sleep() becomes a future that a pool thread completes after sleeping (concur has no
// timers): each pending sleep holds a pool thread, but a waiting coroutine holds none.
// Expect: about 300 ms for (1), about 200 ms for (2), about 10 dots in (3) and none after the
// stop; ends with "all checks passed" and exits 0 (1 if a check fails: bounds are generous).
// Runs in about 2 s.

#include <concur/coroutine.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

std::mutex g_out_mutex;  // coroutines print from whichever pool thread resumed them
int g_failures = 0;      // touched by the demo coroutine only (one at a time)

template <class... Parts>
void say(const Parts&... parts) {
  std::ostringstream line;
  (line << ... << parts);
  const std::lock_guard<std::mutex> lock(g_out_mutex);
  std::cout << line.str() << std::endl;
}

void check(bool ok, std::string_view what) {
  if (ok) return;
  ++g_failures;
  say("CHECK FAILED: ", what);
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<Ms>(Clock::now() - start).count();
}

// asyncio.sleep(delay): a future that is done after `delay`.
concur::Future<void> sleep(concur::Executor& pool, Ms delay) {
  return pool.submit([delay] { std::this_thread::sleep_for(delay); });
}

// async def say_after(delay, what): await asyncio.sleep(delay); print(what)
concur::Task<void> say_after(concur::Executor& pool, Ms delay, std::string what,
                             Clock::time_point start) {
  co_await sleep(pool, delay);
  say("  ", what, " (", ms_since(start), " ms)");
}

// 1. One after the other: 100 ms + 200 ms.
concur::Task<long long> sequential(concur::Executor& pool) {
  const Clock::time_point start = Clock::now();
  co_await say_after(pool, 100ms, "hello", start);
  co_await say_after(pool, 200ms, "world", start);
  co_return ms_since(start);
}

// 2. Both started (asyncio.create_task), then awaited: max(100 ms, 200 ms).
concur::Task<long long> concurrent(concur::Executor& pool) {
  const Clock::time_point start = Clock::now();
  concur::Future<void> hello =
      pool.submit(say_after, std::ref(pool), Ms(100), std::string("hello"), start);
  concur::Future<void> world =
      pool.submit(say_after, std::ref(pool), Ms(200), std::string("world"), start);
  co_await hello;
  co_await world;
  co_return ms_since(start);
}

// 3. The fast routine: a dot every 100 ms, on one growing line, until asked to stop.
struct DotLog {
  std::atomic<int> count{0};
  std::atomic<long long> last_dot_ms{0};
};

concur::Task<int> dots(std::stop_token stop, concur::Executor& pool, DotLog& log,
                       Clock::time_point start) {
  while (true) {
    co_await sleep(pool, 100ms);
    if (stop.stop_requested()) break;
    {
      const std::lock_guard<std::mutex> lock(g_out_mutex);
      std::cout << (log.count == 0 ? "  ." : ".") << std::flush;
    }
    log.last_dot_ms = ms_since(start);
    ++log.count;
  }
  say("");  // ends the line of dots
  co_return log.count.load();
}

// The slow routine: 1 s of (simulated) work.
concur::Task<std::string> slow(concur::Executor& pool) {
  co_await sleep(pool, 1000ms);
  co_return "slow routine done";
}

concur::Task<void> demo(concur::Executor& pool) {
  say("1. sequential: co_await say_after(100 ms), then say_after(200 ms)");
  const long long seq = co_await sequential(pool);
  say("   took ", seq, " ms (expect ~300 = 100 + 200)");
  check(seq >= 250 && seq <= 700, "sequential takes 250-700 ms");

  say("2. concurrent: submit both, then co_await both");
  const long long con = co_await concurrent(pool);
  say("   took ", con, " ms (expect ~200 = max(100, 200))");
  check(con >= 180 && con <= 450, "concurrent takes 180-450 ms");
  check(con < seq, "concurrent is faster than sequential");

  say("3. dots every 100 ms until the slow routine (1 s) ends");
  const Clock::time_point start = Clock::now();
  DotLog log;
  concur::Future<int> fast = pool.submit(dots, std::ref(pool), std::ref(log), start);
  const std::string done = co_await pool.submit(slow, std::ref(pool));
  const long long stop_ms = ms_since(start);
  check(fast.request_stop(), "request_stop() reaches the dots coroutine");
  const int count = co_await fast;
  const long long stopped_ms = ms_since(start);
  say("   ", done, " at ", stop_ms, " ms; dots stopped at ", stopped_ms, " ms after ", count,
      " dots (last dot at ", log.last_dot_ms.load(), " ms)");
  check(count >= 3 && count <= 12, "about 10 dots (3-12) in 1 s");
  check(stopped_ms - stop_ms <= 500, "the dots stop within 500 ms of the request");
  co_await sleep(pool, 300ms);
  check(log.count == count, "no dot after the dots routine ended");
  say("   no dot in the 300 ms after the stop: ", log.count == count ? "yes" : "NO");
}

}  // namespace

int main() {
  concur::ThreadPoolExecutor pool(4);
  pool.submit(demo, std::ref(static_cast<concur::Executor&>(pool))).result();
  if (g_failures != 0) {
    std::cout << g_failures << " check(s) failed" << std::endl;
    return 1;
  }
  std::cout << "all checks passed" << std::endl;
  return 0;
}
