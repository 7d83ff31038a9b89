#include <concur/concur.hpp>

#include <chrono>
#include <thread>
#include <vector>

int main() {
  concur::ThreadPoolExecutor pool(4);
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 40; ++i) {
    futures.push_back(pool.submit([i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return i;
    }));
  }
  concur::Progress bar(futures.size(), {.label = "jobs"});  // counts, rate, ETA
  int sum = 0;
  for (const auto& f : concur::with_progress(concur::as_completed(futures), bar)) {
    sum += f.result();
  }
  bar.close();
  return sum == 40 * 39 / 2 ? 0 : 1;
}
