// examples/order_queue.cpp - the talks' "order queue" workload: orders handled by worker processes.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Shows: ten orders, each a std::pair<int, std::string>, handed to a ProcessPoolExecutor with 4
// worker processes (1); each order crossing to a worker and its answer crossing back through
// concur's built-in Codec, with a plain function as the task, as a process pool requires (2);
// the results read in submission order, whichever worker finished first (3).
// Expect: ten "worker <pid> takes order ..." lines from the workers (their order and pids vary
// from run to run), then "order 1 was processed by worker <pid>" ... "order 10 ...", in order,
// then how many distinct workers took part (2 to 4). Ends with "all checks passed" and exits 0;
// exits 1 unless all ten orders came back, from at least two processes other than this one.
// Runs in well under a second.

#include <concur/future.hpp>
#include <concur/process_pool.hpp>

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <iostream>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Order = std::pair<int, std::string>;  // (number, description): std::pair has a Codec

int g_failures = 0;

void check(bool ok, std::string_view what) {
  if (ok) return;
  ++g_failures;
  std::cerr << "CHECK FAILED: " << what << std::endl;
}

// 2. The task. It runs in a worker process, so it is a plain function (a lambda capturing
// anything would be refused at compile time: its captures could point into this process's
// memory). It prints from the worker and flushes at once, because workers leave with _exit,
// which throws away whatever stdio still buffers.
std::string process_order(const Order& order) {
  std::cout << "  worker " << ::getpid() << " takes order (" << order.first << ", \""
            << order.second << "\")" << std::endl;
  // A little work, so that one worker cannot take every order before the others start.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return "order " + std::to_string(order.first) + " was processed by worker " +
         std::to_string(::getpid());
}

// The pid at the end of "order <i> was processed by worker <pid>", or -1 if the text differs.
int worker_pid_of(const std::string& result, int number) {
  const std::string prefix = "order " + std::to_string(number) + " was processed by worker ";
  if (result.rfind(prefix, 0) != 0) return -1;
  try {
    std::size_t used = 0;
    const int pid = std::stoi(result.substr(prefix.size()), &used);
    return used == result.size() - prefix.size() ? pid : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

int main() {
  constexpr int orders = 10;
  constexpr std::size_t workers = 4;
  std::cout << "concur order_queue example: " << orders << " orders, " << workers
            << " worker processes, parent pid " << ::getpid() << "\n";

  std::vector<std::string> results;
  try {
    // Workers are forks of this program: flush first, or they would inherit (and print again)
    // whatever this process still has buffered.
    std::cout << "\n1. the workers take the orders" << std::endl;
    concur::ProcessPoolExecutor pool(workers);

    std::vector<concur::Future<std::string>> futures;
    for (int i = 1; i <= orders; ++i) {
      futures.push_back(
          pool.submit(process_order, Order{i, "purchase order number " + std::to_string(i)}));
    }

    // 3. Results in the order the orders were submitted; result() waits for each one.
    for (const concur::Future<std::string>& f : futures) results.push_back(f.result());
  } catch (const std::exception& e) {
    std::cerr << "order_queue: unexpected exception: " << e.what() << std::endl;
    return 1;
  }  // like Python's with-block: the pool's destructor waits for its workers to exit

  std::cout << "\n2. the results, in order" << std::endl;
  std::set<int> pids;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const int number = static_cast<int>(i) + 1;
    std::cout << "  " << results[i] << "\n";
    const int pid = worker_pid_of(results[i], number);
    check(pid > 0, "order " + std::to_string(number) + " came back as expected");
    check(pid != ::getpid(), "order " + std::to_string(number) + " ran in another process");
    if (pid > 0) pids.insert(pid);
  }
  std::cout << "\n" << pids.size() << " distinct worker processes processed orders (pids";
  for (int pid : pids) std::cout << ' ' << pid;
  std::cout << ")\n";

  check(results.size() == static_cast<std::size_t>(orders), "all ten orders came back");
  check(pids.size() >= 2, "at least two worker processes took orders");
  check(pids.size() <= workers, "no more worker processes than max_workers took orders");
  if (g_failures != 0) {
    std::cerr << g_failures << " check(s) failed" << std::endl;
    return 1;
  }
  std::cout << "all checks passed" << std::endl;
  return 0;
}
