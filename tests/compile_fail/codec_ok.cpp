// tests/compile_fail/codec_ok.cpp - missing_codec.cpp with a Codec<Order> added; must compile
// and run, so missing_codec.cpp is known to fail because the Codec is missing (fmt's control).
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/codec.hpp>

#include <string>

struct Order {
  int id = 0;
  std::string text;
};

template <>
struct concur::Codec<Order> {
  static void encode(concur::Writer& w, const Order& o) {
    w.write(o.id);
    w.write(o.text);
  }
  static Order decode(concur::Reader& r) {
    auto id = r.read<int>();
    return Order{id, r.read<std::string>()};
  }
};

int main() {
  concur::Writer w;
  w.write(Order{1, "one"});
  concur::Reader r(w.bytes());
  const Order back = r.read<Order>();
  return back.id == 1 && back.text == "one" && r.remaining() == 0 ? 0 : 1;
}
