#include <concur/concur.hpp>

#include <functional>
#include <iostream>

// A coroutine: starts on the pool, awaits futures without blocking a thread.
concur::Task<int> answer(concur::Executor& pool) {
  int six = co_await pool.submit([] { return 6; });
  int seven = co_await pool.submit([] { return 7; }).via(pool);  // resume on the pool
  const int product = six * seven;
  co_return product;
}

int main() {
  concur::ThreadPoolExecutor pool(2);
  concur::Future<int> f = pool.submit(answer, std::ref(pool));  // Future<int>, not Future<Task>
  std::cout << f.result() << "\n";                              // 42
  return f.result() == 42 ? 0 : 1;
}
