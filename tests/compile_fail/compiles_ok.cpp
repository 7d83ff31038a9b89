// tests/compile_fail/compiles_ok.cpp - the compile-fail fixtures with correct calls; must compile,
// so the others are known to fail because of their one bad line (fmt's control).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/thread_pool.hpp>

#include <string>
#include <vector>

int main() {
  concur::ThreadPoolExecutor pool(1);
  // Control for submit_not_invocable.cpp: the argument matches the parameter.
  auto f = pool.submit([](int) {}, 1);
  f.result();
  auto g = pool.submit([](const std::string& s) { return s.size(); }, std::string("ok"));
  // Control for map_no_iterable.cpp: one iterable.
  const std::vector<int> items{1, 2, 3};
  int sum = 0;
  for (int v : pool.map([](int x) { return x; }, items)) sum += v;
  // Control for map_spans_optional.cpp: spans() over int results.
  auto results = pool.map([](int x) { return x; }, items, concur::MapOptions{.chunksize = 2});
  for (auto run : results.spans()) {
    for (int v : run) sum += v;
  }
  return g.result() == 2 && sum == 12 ? 0 : 1;
}
