// tests/compile_fail/process_coroutine.cpp - must NOT compile: a function returning a
// concur::Task (a coroutine) submitted to a ProcessPoolExecutor. The build must print "a
// coroutine cannot run in a worker process" (STYLE C12). process_ok.cpp is the control.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/coroutine.hpp>
#include <concur/process_pool.hpp>

concur::Task<int> answer() {
  co_return 42;
}

int main() {
  concur::ProcessPoolExecutor pool(1);
  auto f = pool.submit(answer);
  return f.result() == 42 ? 0 : 1;
}
