// map_spans.cpp - reading map's results a ready run at a time, for loops over contiguous memory.
#include <concur/thread_pool.hpp>

#include <cstdint>
#include <iostream>
#include <numeric>
#include <span>
#include <stdexcept>
#include <vector>

int main() {
  concur::ThreadPoolExecutor pool(2);
  std::vector<int> xs(1'000'000);
  std::iota(xs.begin(), xs.end(), 0);

  // Each run is a std::span of consecutive results that are ready; the inner loop vectorises.
  std::int64_t sum = 0;
  auto doubled = pool.map([](int x) { return 2 * x; }, xs, concur::MapOptions{.chunksize = 16384});
  for (std::span<int> run : doubled.spans()) {
    for (int v : run) sum += v;
  }
  std::cout << "sum: " << sum << "\n";  // 999999000000

  // A call that threw stands alone: dereferencing at it rethrows, and the loop can go on.
  auto checked = pool.map(
      [](int x) {
        if (x == 3) throw std::invalid_argument("three");
        return x;
      },
      std::vector<int>{1, 2, 3, 4, 5}, concur::MapOptions{.chunksize = 5});
  auto runs = checked.spans();
  int kept = 0;
  for (auto it = runs.begin(); it != runs.end(); ++it) {
    try {
      for (int v : *it) kept += v;
    } catch (const std::invalid_argument& e) {
      std::cout << "skipped: " << e.what() << "\n";
    }
  }
  std::cout << "kept: " << kept << "\n";  // 12
  return sum == 999'999'000'000 && kept == 12 ? 0 : 1;
}
