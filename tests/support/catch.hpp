// tests/support/catch.hpp - the only way tests include Catch2 (v2 or v3).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once
#if __has_include(<catch2/catch_test_macros.hpp>)  // Catch2 v3
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
namespace concur_test {
using Catch::Matchers::ContainsSubstring;
}  // namespace concur_test
#else  // Catch2 v2 (Debian bookworm)
#include <catch2/catch.hpp>

#include <string>
namespace concur_test {
inline auto ContainsSubstring(const std::string& s) {
  return Catch::Matchers::Contains(s);
}
}  // namespace concur_test
#endif
