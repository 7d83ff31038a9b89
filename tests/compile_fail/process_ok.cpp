// tests/compile_fail/process_ok.cpp - the control of the process-pool compile-fail cases: the
// same calls made right (a captureless lambda, a Point with a Codec) must compile.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/process_pool.hpp>

struct Point {
  int x;
  int y;
};
template <>
inline constexpr bool concur::bitwise_codec<Point> = true;

int main() {
  concur::ProcessPoolExecutor pool(1);
  auto f = pool.submit([](int k) { return k + 1; }, 41);
  auto g = pool.submit([](Point p) { return p.x + p.y; }, Point{40, 2});
  return f.result() == 42 && g.result() == 42 ? 0 : 1;
}
