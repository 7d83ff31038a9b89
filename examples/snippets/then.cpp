// then.cpp - a chain of continuations: inline, on a pool, flattened, and an error passing down.
#include <concur/thread_pool.hpp>

#include <iostream>
#include <stdexcept>
#include <string>

int main() {
  concur::ThreadPoolExecutor pool(2);

  // Inline in the thread that completes the parent, then on the pool, then flattened.
  concur::Future<std::string> words = pool.submit([] { return std::string("to be or not"); });
  concur::Future<std::size_t> length =
      words.then([](const std::string& s) { return s.size(); })
          .then(pool, [](std::size_t n) { return n * 2; })
          .then([&pool](std::size_t n) { return pool.submit([n] { return n + 1; }); });
  std::cout << "length: " << length.result() << "\n";  // 25

  // An error skips the value continuations; one taking the future sees it.
  concur::Future<std::string> handled =
      pool.submit([]() -> int { throw std::runtime_error("no data"); })
          .then([](int x) { return x + 1; })  // never called
          .then([](const concur::Future<int>& f) {
            try {
              return std::to_string(f.result());
            } catch (const std::runtime_error& e) {
              return std::string("recovered from: ") + e.what();
            }
          });
  std::cout << handled.result() << "\n";  // recovered from: no data
  return length.result() == 25 ? 0 : 1;
}
