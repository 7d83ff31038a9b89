// tests/support/counters.hpp - CallCounter: counts runs and destructions of task objects.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once
#include <atomic>
#include <memory>

namespace concur_test {

// Shared counters; a CallCounter::Task copy counts its calls and the destruction of
// the last copy that owned a live token.
struct CallCounter {
  std::atomic<int> calls{0};
  std::atomic<int> destroyed{0};

  struct Token {
    CallCounter* counter;
    ~Token() { counter->destroyed.fetch_add(1); }
  };

  // A callable that counts calls; every copy shares one token, whose destruction is counted once.
  auto task() {
    auto token = std::make_shared<Token>(Token{this});
    return [this, token]() { calls.fetch_add(1); };
  }
};

}  // namespace concur_test
