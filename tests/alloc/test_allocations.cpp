// tests/alloc/test_allocations.cpp - how many heap allocations a submit costs.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Its own program because it replaces the global operator new to count calls. Issue 4's target:
// at most one allocation per submit of a small callable (the future's state and the call share
// it), none for result() or wait(), none on a worker between calls.
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "support/catch.hpp"

namespace {
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

long allocations() {
  return g_allocations.load(std::memory_order_relaxed);
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_alloc(n);
}
void* operator new[](std::size_t n) {
  return counted_alloc(n);
}
void* operator new(std::size_t n, const std::nothrow_t& /*tag*/) noexcept {
  try {
    return counted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& /*tag*/) noexcept {
  try {
    return counted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p, const std::nothrow_t& /*tag*/) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t& /*tag*/) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t /*size*/) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t /*size*/) noexcept {
  std::free(p);
}

namespace {
constexpr int calls = 2000;

struct Captures {  // 32 bytes of captures, as in the benchmark W6
  std::int64_t a, b, c, d;
};
}  // namespace

TEST_CASE("submit of a small callable allocates once; result() and wait() allocate nothing",
          "[alloc][thread_pool]") {
  concur::ThreadPoolExecutor pool(2);
  const Captures k{1, 2, 3, 4};
  std::vector<concur::Future<int>> futures;
  futures.reserve(calls);
  for (int i = 0; i < calls; ++i) {  // warm up: threads started, queue grown
    futures.push_back(pool.submit([k] { return static_cast<int>(k.a + k.b + k.c + k.d); }));
  }
  concur::wait(futures);
  futures.clear();

  SECTION("submit then result(), one at a time") {
    const long before = allocations();
    int sum = 0;
    for (int i = 0; i < calls; ++i) {
      sum += pool.submit([k] { return static_cast<int>(k.a + k.b + k.c + k.d); }).result();
    }
    const long used = allocations() - before;
    REQUIRE(sum == 10 * calls);
    REQUIRE(used <= calls);
  }
  SECTION("many submits, then wait() for all") {
    const long before = allocations();
    for (int i = 0; i < calls; ++i) {
      futures.push_back(pool.submit([k] { return static_cast<int>(k.a + k.b + k.c + k.d); }));
    }
    const long submitted = allocations() - before;
    for (auto& f : futures) f.wait();  // no vector: the futures' own waits
    const long waited = allocations() - before - submitted;
    REQUIRE(submitted <= calls);
    REQUIRE(waited == 0);
    for (auto& f : futures) REQUIRE(f.result() == 10);
  }
}
