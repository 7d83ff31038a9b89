// tests/compile_fail/submit_not_invocable.cpp - must NOT compile: the task takes an int, we pass a
// std::string. The build must print "fn cannot be called with these arguments" (STYLE C12).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/thread_pool.hpp>

#include <string>

int main() {
  concur::ThreadPoolExecutor pool(1);
  auto f = pool.submit([](int) {}, std::string("not an int"));
  f.result();
  return 0;
}
