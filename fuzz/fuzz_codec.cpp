// fuzz/fuzz_codec.cpp - libFuzzer target: Codec<T>::decode of every built-in type on any bytes.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// The first input byte picks a type (modulo the number of cases), the rest is decoded as one
// value of that type. Decoding may only succeed or throw concur::CodecError; anything else
// (another exception, an out-of-bounds read, a huge allocation, a hang) is a bug. A value that
// decodes is encoded again and must round-trip: decode(encode(v)) consumes every byte and gives
// v back (compared as values, or as bytes where values do not compare: floating point).
//
// Built with -DCONCUR_FUZZ_WRITE_SEEDS this file is instead a program that writes one small
// valid input per case into the directory given as its argument (the seed corpus).

#include <concur/codec.hpp>
#include <concur/errors.hpp>

#include <concur/detail/future_state.hpp>
#include <concur/detail/remote.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"

namespace {

enum class Color : std::uint8_t { red, green, blue };

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

}  // namespace

template <>
inline constexpr bool concur::bitwise_codec<Point> = true;

namespace {

using concur::fuzz::Bytes;
using concur::fuzz::encoded_exception;
using concur::fuzz::fail;

// How a decoded value is checked after encoding it again.
enum class Check {
  value,  // decode(encode(v)) == v
  bytes,  // encode(decode(encode(v))) == encode(v): for values with floating point inside
  none,   // decoded only (a function pointer; a long double, whose padding bytes are not kept)
};

template <class T>
Bytes encode(const T& value) {
  concur::Writer w;
  w.write(value);
  return w.release();
}

template <class T>
T decode_all(const Bytes& bytes, const char* name) {
  concur::Reader r(bytes);
  T value = r.read<T>();
  if (r.remaining() != 0) fail(name, "decoding its own encoding left bytes over");
  return value;
}

template <class T, Check C>
void run_case(concur::Reader& r, const char* name) {
  const T a = r.read<T>();
  if constexpr (C != Check::none) {
    const Bytes once = encode(a);
    T b{};
    try {
      b = decode_all<T>(once, name);
    } catch (const concur::CodecError& e) {
      fail(name, e.what());
    }
    if constexpr (C == Check::value) {
      if (!(a == b)) fail(name, "decode(encode(v)) != v");
    } else {
      if (encode(b) != once) fail(name, "encode(decode(encode(v))) != encode(v)");
    }
  }
}

// Exceptions as bytes: what a worker sends for a call that threw.
void run_exception(concur::Reader& r, const char* name) {
  const std::exception_ptr e = concur::detail::decode_exception(r);
  static_cast<void>(concur::detail::describe(e));
  Bytes once;
  try {
    std::rethrow_exception(e);
  } catch (...) {
    concur::Writer w;
    concur::detail::encode_current_exception(w);
    once = w.release();
  }
  concur::Reader again(once);
  const std::exception_ptr e2 = concur::detail::decode_exception(again);
  if (again.remaining() != 0) fail(name, "decoding its own encoding left bytes over");
  try {
    std::rethrow_exception(e2);
  } catch (...) {
    concur::Writer w;
    concur::detail::encode_current_exception(w);
    if (w.bytes() != once) fail(name, "the exception does not round-trip");
  }
}

template <class V>
std::vector<std::byte> chunk_seed(std::initializer_list<V> values, std::uint64_t failed_at) {
  concur::detail::ChunkResult<V> c;
  for (const V& v : values) c.values.push_back(v);
  c.error_at.push_back(failed_at);
  c.errors.push_back(std::make_exception_ptr(std::runtime_error("chunk call failed")));
  return encode(c);
}

struct Case {
  const char* name;
  void (*run)(concur::Reader&, const char*);
  Bytes (*seed)();
};

template <class T, Check C>
constexpr Case make_case(const char* name, Bytes (*seed)()) {
  return Case{name, &run_case<T, C>, seed};
}

using V = Check;
using Str = std::string;
using Variant = std::variant<std::monostate, int, std::string, std::vector<double>>;

const Case cases[] = {
    make_case<bool, V::value>("bool", [] { return encode(true); }),
    make_case<char, V::value>("char", [] { return encode('c'); }),
    make_case<signed char, V::value>("signed_char", [] { return encode<signed char>(-3); }),
    make_case<unsigned char, V::value>("unsigned_char", [] { return encode<unsigned char>(200); }),
    make_case<std::int16_t, V::value>("int16", [] { return encode<std::int16_t>(-1234); }),
    make_case<std::uint16_t, V::value>("uint16", [] { return encode<std::uint16_t>(54321); }),
    make_case<std::int32_t, V::value>("int32", [] { return encode<std::int32_t>(-7); }),
    make_case<std::uint32_t, V::value>("uint32", [] { return encode<std::uint32_t>(7); }),
    make_case<std::int64_t, V::value>("int64", [] { return encode<std::int64_t>(-1); }),
    make_case<std::uint64_t, V::value>("uint64", [] { return encode<std::uint64_t>(1) ; }),
    make_case<float, V::bytes>("float", [] { return encode(1.5F); }),
    make_case<double, V::bytes>("double", [] { return encode(-0.25); }),
    make_case<long double, V::none>("long_double", [] { return encode(3.0L); }),
    make_case<char8_t, V::value>("char8", [] { return encode(u8'x'); }),
    make_case<char16_t, V::value>("char16", [] { return encode(u'x'); }),
    make_case<char32_t, V::value>("char32", [] { return encode(U'x'); }),
    make_case<wchar_t, V::value>("wchar", [] { return encode(L'x'); }),
    make_case<Color, V::value>("enum", [] { return encode(Color::blue); }),
    make_case<Point, V::value>("bitwise", [] { return encode(Point{3, -4}); }),
    make_case<Str, V::value>("string", [] { return encode(Str("hello")); }),
    make_case<std::vector<int>, V::value>("vector_int", [] { return encode(std::vector{1, 2, 3}); }),
    make_case<std::vector<bool>, V::value>(
        "vector_bool", [] { return encode(std::vector<bool>{true, false, true}); }),
    make_case<std::vector<double>, V::bytes>("vector_double",
                                             [] { return encode(std::vector{0.5, -1.0}); }),
    make_case<std::vector<Str>, V::value>(
        "vector_string", [] { return encode(std::vector<Str>{"a", "", "bc"}); }),
    make_case<std::vector<std::vector<int>>, V::value>(
        "vector_vector", [] { return encode(std::vector<std::vector<int>>{{1}, {}, {2, 3}}); }),
    make_case<std::vector<Point>, V::value>(
        "vector_bitwise", [] { return encode(std::vector<Point>{{1, 2}, {3, 4}}); }),
    make_case<std::array<std::int16_t, 3>, V::value>(
        "array_int16", [] { return encode(std::array<std::int16_t, 3>{1, -2, 3}); }),
    make_case<std::array<Str, 2>, V::value>("array_string",
                                            [] { return encode(std::array<Str, 2>{"x", "yz"}); }),
    make_case<std::deque<std::int64_t>, V::value>(
        "deque", [] { return encode(std::deque<std::int64_t>{5, 6}); }),
    make_case<std::list<Str>, V::value>("list", [] { return encode(std::list<Str>{"p", "q"}); }),
    make_case<std::map<Str, int>, V::value>(
        "map", [] { return encode(std::map<Str, int>{{"one", 1}, {"two", 2}}); }),
    make_case<std::map<int, std::vector<Str>>, V::value>(
        "map_vector",
        [] { return encode(std::map<int, std::vector<Str>>{{1, {"a"}}, {2, {"b", "c"}}}); }),
    make_case<std::unordered_map<Str, std::uint32_t>, V::value>(
        "unordered_map",
        [] { return encode(std::unordered_map<Str, std::uint32_t>{{"k", 1U}, {"l", 2U}}); }),
    make_case<std::set<int>, V::value>("set", [] { return encode(std::set<int>{3, 1, 2}); }),
    make_case<std::set<double>, V::none>("set_double",
                                         [] { return encode(std::set<double>{0.5, 2.5}); }),
    make_case<std::unordered_set<Str>, V::value>(
        "unordered_set", [] { return encode(std::unordered_set<Str>{"u", "v"}); }),
    make_case<std::pair<int, Str>, V::value>("pair",
                                             [] { return encode(std::pair<int, Str>{4, "four"}); }),
    make_case<std::tuple<>, V::value>("tuple_empty", [] { return encode(std::tuple<>{}); }),
    make_case<std::tuple<bool, char, Str, double>, V::bytes>(
        "tuple", [] { return encode(std::tuple<bool, char, Str, double>{true, 'z', "t", 1.0}); }),
    make_case<std::optional<int>, V::value>("optional_int",
                                            [] { return encode(std::optional<int>(9)); }),
    make_case<std::optional<Str>, V::value>("optional_string",
                                            [] { return encode(std::optional<Str>()); }),
    make_case<std::optional<std::optional<bool>>, V::value>(
        "optional_optional",
        [] { return encode(std::optional<std::optional<bool>>(std::optional<bool>(false))); }),
    make_case<Variant, V::bytes>("variant", [] { return encode(Variant(Str("v"))); }),
    make_case<std::monostate, V::value>("monostate", [] { return encode(std::monostate{}); }),
    make_case<std::chrono::milliseconds, V::value>(
        "milliseconds", [] { return encode(std::chrono::milliseconds(250)); }),
    make_case<std::chrono::duration<double>, V::bytes>(
        "seconds_double", [] { return encode(std::chrono::duration<double>(0.5)); }),
    make_case<std::vector<std::monostate>, V::value>(
        "vector_monostate", [] { return encode(std::vector<std::monostate>(3)); }),
    make_case<std::list<std::monostate>, V::value>(
        "list_monostate", [] { return encode(std::list<std::monostate>(2)); }),
    make_case<std::vector<std::vector<std::monostate>>, V::value>(
        "vector_vector_monostate",
        [] { return encode(std::vector<std::vector<std::monostate>>{{}, {{}, {}}}); }),
    make_case<std::set<std::tuple<>>, V::value>(
        "set_empty_tuple", [] { return encode(std::set<std::tuple<>>{std::tuple<>{}}); }),
    make_case<std::map<int, std::tuple<>>, V::value>(
        "map_empty_tuple", [] { return encode(std::map<int, std::tuple<>>{{1, {}}, {2, {}}}); }),
    make_case<std::vector<std::optional<std::variant<int, Str>>>, V::value>(
        "vector_optional_variant",
        [] {
          return encode(std::vector<std::optional<std::variant<int, Str>>>{
              std::nullopt, std::variant<int, Str>(1), std::variant<int, Str>(Str("s"))});
        }),
    make_case<concur::detail::ChunkResult<int>, V::bytes>(
        "chunk_int", [] { return chunk_seed<int>({1, 0, 3}, 1); }),
    make_case<concur::detail::ChunkResult<Str>, V::bytes>(
        "chunk_string", [] { return chunk_seed<Str>({"a", ""}, 1); }),
    make_case<concur::detail::ChunkResult<bool>, V::bytes>(
        "chunk_bool", [] { return chunk_seed<bool>({true, false}, 0); }),
    make_case<concur::detail::ChunkResult<std::monostate>, V::bytes>(
        "chunk_monostate", [] { return chunk_seed<std::monostate>({{}, {}}, 1); }),
    make_case<concur::detail::Shipped<int (*)(int)>, V::none>(
        "shipped_function", [] { return encode(std::uintptr_t{0x401000}); }),
    Case{"exception", &run_exception,
         [] { return encoded_exception(std::make_exception_ptr(std::out_of_range("index 7"))); }},
    Case{"exception_crashed", &run_exception,
         [] {
           return encoded_exception(
               std::make_exception_ptr(concur::WorkerCrashedError(42, -1, 9, "killed")));
         }},
    Case{"exception_remote", &run_exception,
         [] {
           return encoded_exception(std::make_exception_ptr(concur::RemoteError("my::Error", "w")));
         }},
};

constexpr std::size_t case_count = sizeof cases / sizeof cases[0];

}  // namespace

#ifdef CONCUR_FUZZ_WRITE_SEEDS

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: fuzz_codec_seeds <corpus directory>\n", stderr);
    return 2;
  }
  for (std::size_t i = 0; i < case_count; ++i) {
    Bytes input{static_cast<std::byte>(i)};
    const Bytes value = cases[i].seed();
    input.insert(input.end(), value.begin(), value.end());
    concur::fuzz::write_seed(argv[1], i, cases[i].name, input);
  }
  return 0;
}

#else

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Case& c = cases[data[0] % case_count];
  concur::Reader r(std::as_bytes(std::span<const std::uint8_t>(data + 1, size - 1)));
  try {
    c.run(r, c.name);
  } catch (const concur::CodecError&) {
    // Corrupt input, refused: the expected outcome for most inputs.
  }
  return 0;
}

#endif
