// tests/compile_fail/missing_codec.cpp - must NOT compile: Writer::write on a struct that has no
// Codec. The build must print "Codec<T> is not specialised" (STYLE C12); codec_ok.cpp is the
// same fixture with the Codec added.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/codec.hpp>

#include <string>

struct Order {
  int id = 0;
  std::string text;
};

int main() {
  concur::Writer w;
  w.write(Order{1, "one"});
  return w.bytes().empty() ? 1 : 0;
}
