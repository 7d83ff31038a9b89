// bench/count_loop.hpp - the talks' count loop, shared by the benchmark programs.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <cstdint>

namespace concur_bench {

// The talks' task (as in examples/count.cpp): `i += 1` `loops` times, then `return i * number`.
// Never inlined, so that every subject times the very same machine code; the empty asm says
// that i may have changed, so -O2 cannot fold the loop into i = loops.
[[gnu::noinline]] inline std::int64_t count_loop(std::int64_t loops, int number) {
  std::int64_t i = 0;
  for (std::int64_t k = 0; k < loops; ++k) {
    ++i;
    asm volatile("" : "+r"(i));
  }
  return i * number;
}

}  // namespace concur_bench
