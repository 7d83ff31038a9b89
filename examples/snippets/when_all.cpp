// when_all.cpp - waiting for several futures, or for the first, without blocking a thread.
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <iostream>
#include <string>
#include <tuple>
#include <vector>

int main() {
  concur::ThreadPoolExecutor pool(2);

  // Mixed types: a future of a tuple of the futures, done when all are.
  auto both = concur::when_all(pool.submit([] { return 6; }),
                               pool.submit([] { return std::string("seven"); }));
  auto sum = both.then([](const std::tuple<concur::Future<int>, concur::Future<std::string>>& t) {
    return std::get<0>(t).result() + static_cast<int>(std::get<1>(t).result().size());
  });
  std::cout << "sum: " << sum.result() << "\n";  // 11

  // A range: the first to finish wins; index says which.
  std::vector<concur::Future<int>> racers;
  for (int i = 0; i < 4; ++i) racers.push_back(pool.submit([i] { return i * i; }));
  concur::WhenAny<concur::Future<int>> first = concur::when_any(racers).result();
  std::cout << "first: racer " << first.index << " -> " << first.future.result() << "\n";

  std::vector<concur::Future<int>> all = concur::when_all(racers).result();
  int total = 0;
  for (const auto& f : all) total += f.result();
  std::cout << "total: " << total << "\n";  // 14
  return sum.result() == 11 && total == 14 ? 0 : 1;
}
