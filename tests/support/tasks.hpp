// tests/support/tasks.hpp - plain task functions that several executor tests submit.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

namespace concur_test {

// Free functions, so thread pools and process pools (which take a function pointer) alike can
// run them.
inline int mul(int x, int y) {
  return x * y;
}

inline long long int_pow(int base, int exponent) {
  long long out = 1;
  for (int i = 0; i < exponent; ++i) out *= base;
  return out;
}

}  // namespace concur_test
