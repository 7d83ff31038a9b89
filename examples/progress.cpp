// examples/progress.cpp - a progress bar over 200 tasks, driven by as_completed() and by map().
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Shows: concur::Progress with counts, rate and ETA, redrawn in place on a terminal and
// printed as plain lines (every 10 %) when stdout is a file or a pipe (try `./progress | cat`);
// with_progress() over as_completed() (1) and over map() (2); advance() from done-callbacks (3).
// Expect: three bars reaching 200/200; the program ends with "all checks passed" and exits 0.
// Runs in about 2 s.

#include <concur/future.hpp>
#include <concur/progress.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <latch>
#include <random>
#include <thread>
#include <vector>

namespace {

constexpr int tasks = 200;

// A task that waits 5..25 ms, as a small download would, and returns its input.
int fetch(int i) {
  thread_local std::mt19937 random(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::milliseconds(5 + random() % 21));
  return i;
}

}  // namespace

int main() {
  int failures = 0;
  concur::ThreadPoolExecutor pool(8);

  // 1. as_completed: the bar moves as each call finishes, in completion order.
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < tasks; ++i) futures.push_back(pool.submit(fetch, i));
  long sum = 0;
  {
    concur::Progress bar(futures.size(), {.label = "as_completed"});
    for (const concur::Future<int>& f : concur::with_progress(concur::as_completed(futures), bar)) {
      sum += f.result();
    }
    if (bar.count() != tasks) ++failures;
  }  // the destructor prints the final state

  // 2. map: results in input order; the bar counts each one the loop has consumed.
  std::vector<int> inputs;
  for (int i = 0; i < tasks; ++i) inputs.push_back(i);
  long mapped = 0;
  {
    concur::Progress bar(inputs.size(), {.label = "map         "});
    for (int v : concur::with_progress(pool.map(fetch, inputs), bar)) mapped += v;
    bar.close();
    if (bar.count() != tasks) ++failures;
  }

  // 3. callbacks: advance() is thread-safe, so pool threads can move the bar themselves.
  {
    concur::Progress bar(tasks, {.label = "callbacks   "});
    std::latch advanced(tasks);
    std::vector<concur::Future<int>> more;
    for (int i = 0; i < tasks; ++i) {
      more.push_back(pool.submit(fetch, i));
      more.back().add_done_callback([&bar, &advanced](const concur::Future<int>&) {
        bar.advance();
        advanced.count_down();
      });
    }
    concur::wait(more);
    // As in Python, a future's callbacks run after it is done: wait() can return while the
    // last ones still run. The latch waits for them.
    advanced.wait();
    bar.close();
    if (bar.count() != tasks) ++failures;
  }

  const long expected = static_cast<long>(tasks) * (tasks - 1) / 2;
  if (sum != expected || mapped != expected) ++failures;
  std::cout << (failures == 0 ? "all checks passed" : "CHECKS FAILED") << std::endl;
  return failures == 0 ? 0 : 1;
}
