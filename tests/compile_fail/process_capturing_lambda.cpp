// tests/compile_fail/process_capturing_lambda.cpp - must NOT compile: a lambda with captures
// submitted to a ProcessPoolExecutor. The build must print "captured state may point into the
// parent's memory" (STYLE C12). process_ok.cpp is the control.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/process_pool.hpp>

int main() {
  concur::ProcessPoolExecutor pool(1);
  const int k = 41;
  auto f = pool.submit([k] { return k + 1; });
  return f.result() == 42 ? 0 : 1;
}
