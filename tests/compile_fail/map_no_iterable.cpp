// tests/compile_fail/map_no_iterable.cpp - must NOT compile: map() without an iterable.
// The build must print "map: pass at least one iterable" (STYLE C12).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/thread_pool.hpp>

int main() {
  concur::ThreadPoolExecutor pool(1);
  auto results = pool.map([] { return 1; });
  static_cast<void>(results);
  return 0;
}
