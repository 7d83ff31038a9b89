// tests/compile_fail/process_missing_codec.cpp - must NOT compile: an argument type without a
// concur::Codec. The build must print "an argument type has no concur::Codec" (STYLE C12).
// process_ok.cpp is the control.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/process_pool.hpp>

struct Point {
  int x;
  int y;
};

int main() {
  concur::ProcessPoolExecutor pool(1);
  auto f = pool.submit([](Point p) { return p.x + p.y; }, Point{40, 2});
  return f.result() == 42 ? 0 : 1;
}
