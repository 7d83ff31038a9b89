// tests/consumers/find_package/main.cpp - a user's program: concur found through find_package.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/concur.hpp>

#include <cstdio>
#include <vector>

int main() {
  concur::ThreadPoolExecutor pool(2);
  if (pool.submit([] { return 6 * 7; }).result() != 42) {
    std::puts("consumer FAILED: submit");
    return 1;
  }
  const std::vector<int> items{1, 2, 3};
  std::vector<int> doubled;
  for (int v : pool.map([](int x) { return x * 2; }, items)) doubled.push_back(v);
  if (doubled != std::vector<int>{2, 4, 6}) {
    std::puts("consumer FAILED: map");
    return 1;
  }
  std::puts("consumer OK");
  return 0;
}
