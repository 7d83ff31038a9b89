// tests/compile_fail/map_spans_optional.cpp - must NOT compile: spans() over bool results, which
// a chunk keeps in std::optional. The build must print "spans() needs results kept as plain
// values" (STYLE C12).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/thread_pool.hpp>

#include <vector>

int main() {
  concur::ThreadPoolExecutor pool(1);
  const std::vector<int> items{1, 2, 3};
  auto results = pool.map([](int x) { return x > 1; }, items, concur::MapOptions{.chunksize = 2});
  auto runs = results.spans();
  static_cast<void>(runs);
  return 0;
}
