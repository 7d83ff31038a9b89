// concur/codec.hpp - Codec<T>, Writer and Reader: how values cross to a worker process and back.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// A ProcessPoolExecutor sends each call's arguments to a worker process and its result back as
// bytes. Codec<T> says how a T becomes bytes and back; Python does this with pickle. Built in:
// arithmetic types, enums, std::string, vector, array, deque, list, map, unordered_map, set,
// unordered_set, pair, tuple, optional, variant, monostate and chrono::duration, nested freely.
// Nothing else is copied as raw bytes (a pointer would mean nothing in another process), unless
// a type opts in:
//
//   template <> inline constexpr bool concur::bitwise_codec<Point> = true;   // trivially copyable
//
// or has a Codec of its own:
//
//   template <> struct concur::Codec<Order> {
//     static void encode(concur::Writer& w, const Order& o) { w.write(o.id); w.write(o.text); }
//     static Order decode(concur::Reader& r) {
//       auto id = r.read<int>();
//       return Order{id, r.read<std::string>()};
//     }
//   };
//
// Guarantees: decoding never reads out of bounds; truncated or corrupt input throws CodecError;
// a length prefix larger than the bytes that remain is refused before anything is allocated,
// and what one message decodes to stays proportional to its size (elements that take no bytes,
// like std::monostate, count against a budget per Reader). One message holds at most
// max_message_size bytes: a Writer refuses to grow past it.
// Bytes are in the machine's own byte order: both ends are the same program on the same kind
// of machine.

#include <concur/errors.hpp>

#include <concur/detail/future_state.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace concur {

/// How T is written to and read from bytes. The primary template is left undefined, so that
/// whether a type has a codec can be asked without a hard error. Specialise it with
/// `static void encode(Writer&, const T&)` and `static T decode(Reader&)`.
template <class T>
struct Codec;

/// Opt a trivially copyable type into being copied as raw bytes.
template <class T>
inline constexpr bool bitwise_codec = false;

class Writer;
class Reader;

namespace detail {
template <class T>
concept has_codec = requires(Writer& w, Reader& r, const T& value) {
  Codec<T>::encode(w, value);
  { Codec<T>::decode(r) } -> std::same_as<T>;
};

template <class T>
[[noreturn]] void throw_no_codec();
}  // namespace detail

/// True if values of T can cross to a worker process (a Codec<T> exists).
template <class T>
inline constexpr bool has_codec_v = detail::has_codec<T>;

/// The most bytes one encoded message (a call with its arguments, or a result) may hold: 1 GiB.
/// Writer::write_bytes and Writer::write_raw throw CodecError rather than grow past it, and a
/// process pool treats a longer frame on its sockets as corrupt.
inline constexpr std::size_t max_message_size = std::size_t{1} << 30;

/// Appends bytes to a growing buffer.
class Writer {
 public:
  Writer() = default;

  /// Appends raw bytes. Throws CodecError if the message would exceed max_message_size.
  void write_bytes(std::span<const std::byte> bytes) {
    reserve_more(bytes.size());
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  }

  /// Appends value through Codec<U>.
  template <class U>
  void write(const U& value) {
    static_assert(detail::has_codec<U>,
                  "concur::Writer::write: concur::Codec<T> is not specialised for this type; "
                  "specialise Codec<T> with encode(Writer&, const T&) and decode(Reader&), or "
                  "opt a trivially copyable type in with concur::bitwise_codec<T> = true");
    Codec<U>::encode(*this, value);
  }

  /// The bytes written so far.
  const std::vector<std::byte>& bytes() const noexcept { return buffer_; }
  std::vector<std::byte>& bytes() noexcept { return buffer_; }
  /// Moves the bytes out; the writer is empty afterwards.
  std::vector<std::byte> release() noexcept { return std::exchange(buffer_, {}); }

  // For codecs of fixed-size values: appends the object representation of value.
  template <class U>
  void write_raw(const U& value) {
    static_assert(std::is_trivially_copyable_v<U>);
    reserve_more(sizeof(U));
    const std::size_t at = buffer_.size();
    buffer_.resize(at + sizeof(U));
    std::memcpy(buffer_.data() + at, &value, sizeof(U));
  }

  // A length or count prefix.
  void write_size(std::size_t n) { write_raw(static_cast<std::uint64_t>(n)); }

 private:
  // Refuses to grow past max_message_size: the receiving end would take it for corruption.
  void reserve_more(std::size_t n) const {
    if (n > max_message_size - buffer_.size()) {
      throw CodecError("concur::Writer: the message would exceed concur::max_message_size (" +
                       std::to_string(max_message_size) +
                       " bytes): " + std::to_string(buffer_.size()) + " written, " +
                       std::to_string(n) + " more to write");
    }
  }

  std::vector<std::byte> buffer_;
};

/// Reads bytes from a span, checking every length against what remains.
class Reader {
 public:
  /// The most elements of types that encode as no bytes (std::monostate, std::tuple<>) that
  /// the containers of one message may hold together when decoded. A budget for the whole
  /// Reader, not a cap per container: nested containers must not multiply it. An element of a
  /// node-based container (list, set, map and their unordered kin) costs node_cost of it: it
  /// takes a heap node of its own (and a set or map of such keys holds one at most anyway).
  static constexpr std::uint64_t max_empty_elements = std::uint64_t{1} << 24;
  static constexpr std::uint64_t node_cost = 32;

  explicit Reader(std::span<const std::byte> data) noexcept : data_(data) {}

  /// The next n bytes; throws CodecError if fewer remain.
  std::span<const std::byte> read_bytes(std::size_t n) {
    if (n > remaining()) {
      throw CodecError(
          "concur::Reader::read_bytes: message truncated: " + std::to_string(remaining()) +
          " bytes left, " + std::to_string(n) + " needed");
    }
    const std::span<const std::byte> out = data_.subspan(position_, n);
    position_ += n;
    return out;
  }

  /// Reads a U through Codec<U>.
  template <class U>
  U read() {
    static_assert(detail::has_codec<U>,
                  "concur::Reader::read: concur::Codec<T> is not specialised for this type; "
                  "specialise Codec<T> with encode(Writer&, const T&) and decode(Reader&)");
    return Codec<U>::decode(*this);
  }

  /// How many bytes have not been read.
  std::size_t remaining() const noexcept { return data_.size() - position_; }

  // For codecs of fixed-size values.
  template <class U>
  U read_raw() {
    static_assert(std::is_trivially_copyable_v<U> && std::is_default_constructible_v<U>);
    const std::span<const std::byte> bytes = read_bytes(sizeof(U));
    U value;
    std::memcpy(&value, bytes.data(), sizeof(U));
    return value;
  }

  // A count of elements, refused when the bytes that remain cannot hold that many elements of
  // at least min_element_size bytes each, so a corrupt prefix cannot make us allocate. Elements
  // that may encode as no bytes at all (std::monostate, std::tuple<>) are taken from the
  // budget of max_empty_elements this Reader has for the whole message instead, each at
  // empty_cost (1, or node_cost for a node-based container).
  std::size_t read_count(const char* type, std::size_t min_element_size = 1,
                         std::uint64_t empty_cost = 1) {
    const auto n = read_raw<std::uint64_t>();
    if (min_element_size == 0) {
      if (n > empty_budget_ / empty_cost) {
        throw CodecError(std::string("concur::Codec<") + type + ">::decode: a length prefix of " +
                         std::to_string(n) + " exceeds the " +
                         std::to_string(empty_budget_ / empty_cost) +
                         " elements of no bytes this message may still hold "
                         "(concur::Reader::max_empty_elements): the message is corrupt");
      }
      empty_budget_ -= n * empty_cost;
    } else if (n > remaining() / min_element_size) {
      throw CodecError(std::string("concur::Codec<") + type + ">::decode: a length prefix of " +
                       std::to_string(n) + " does not fit the " + std::to_string(remaining()) +
                       " bytes left: the message is corrupt or truncated");
    }
    return static_cast<std::size_t>(n);
  }

 private:
  std::span<const std::byte> data_;
  std::size_t position_ = 0;
  std::uint64_t empty_budget_ = max_empty_elements;  // see read_count
};

namespace detail {

// The fewest bytes one encoded T takes; used to refuse impossible counts early. A user's
// Codec is assumed to write at least one byte.
template <class T>
struct MinSize {
  static constexpr std::size_t value = 1;
};
template <class T>
requires(std::is_arithmetic_v<T> || std::is_enum_v<T> || bitwise_codec<T>) struct MinSize<T> {
  static constexpr std::size_t value = sizeof(T);
};
template <>
struct MinSize<std::monostate> {
  static constexpr std::size_t value = 0;
};
template <class... Ts>
struct MinSize<std::tuple<Ts...>> {
  static constexpr std::size_t value = (std::size_t{0} + ... + MinSize<Ts>::value);
};
template <class A, class B>
struct MinSize<std::pair<A, B>> {
  static constexpr std::size_t value = MinSize<A>::value + MinSize<B>::value;
};
template <class T, std::size_t N>
struct MinSize<std::array<T, N>> {
  static constexpr std::size_t value = N * MinSize<T>::value;
};
template <class T>
constexpr std::size_t min_encoded_size() {
  return MinSize<T>::value;
}

template <class T>
constexpr bool raw_arithmetic =
    (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) || std::is_enum_v<T> || bitwise_codec<T>;

// A one-element tuple of a raw value: encoded exactly as the value (map's batches over one
// iterable are vectors of these).
template <class T>
struct raw_single_tuple : std::false_type {};
template <class U>
struct raw_single_tuple<std::tuple<U>> : std::bool_constant<raw_arithmetic<U>> {};

template <class C>
void encode_sequence(Writer& w, const C& items) {
  w.write_size(items.size());
  for (const auto& item : items) w.write(item);
}

// A sequence read element by element; node: C allocates one node per element.
template <class T, class C, bool Node>
C decode_sequence(Reader& r, const char* type) {
  const std::size_t n = r.read_count(type, min_encoded_size<T>(), Node ? Reader::node_cost : 1);
  C out;
  for (std::size_t i = 0; i < n; ++i) out.insert(out.end(), r.read<T>());
  return out;
}

}  // namespace detail

namespace detail {
// An enum whose underlying type is fixed (every scoped enum; `enum E : int`): every value of
// that type is a valid E. Without a fixed type some bit patterns are not, and decoding one
// would be undefined behaviour: such enums need a Codec of their own.
template <class T>
concept fixed_enum = std::is_enum_v<T> && requires {
  T{std::underlying_type_t<T>{}};
};
}  // namespace detail

/// Arithmetic types (bool checked to be 0 or 1), enums with a fixed underlying type, and
/// bitwise_codec opt-ins: raw bytes.
template <class T>
requires(std::is_arithmetic_v<T> || detail::fixed_enum<T> ||
         (bitwise_codec<T> && std::is_trivially_copyable_v<T>)) struct Codec<T> {
  static void encode(Writer& w, const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      w.write_raw(static_cast<std::uint8_t>(value ? 1 : 0));
    } else {
      w.write_raw(value);
    }
  }
  static T decode(Reader& r) {
    if constexpr (std::is_same_v<T, bool>) {
      const auto b = r.read_raw<std::uint8_t>();
      if (b > 1) throw CodecError("concur::Codec<bool>::decode: byte is neither 0 nor 1");
      return b == 1;
    } else {
      return r.read_raw<T>();
    }
  }
};

template <>
struct Codec<std::string> {
  static void encode(Writer& w, const std::string& s) {
    w.write_size(s.size());
    w.write_bytes(std::as_bytes(std::span<const char>(s.data(), s.size())));
  }
  static std::string decode(Reader& r) {
    const std::size_t n = r.read_count("std::string");
    const std::span<const std::byte> bytes = r.read_bytes(n);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
};

template <class T, class A>
requires detail::has_codec<T>
struct Codec<std::vector<T, A>> {
  static void encode(Writer& w, const std::vector<T, A>& v) {
    if constexpr (detail::raw_arithmetic<T>) {
      w.write_size(v.size());
      w.write_bytes(std::as_bytes(std::span<const T>(v.data(), v.size())));
    } else if constexpr (detail::raw_single_tuple<T>::value) {
      // As the values one by one would be, a block of them to a write.
      using U = std::tuple_element_t<0, T>;
      w.write_size(v.size());
      constexpr std::size_t block = 256;
      U values[block];
      for (std::size_t at = 0; at < v.size(); at += block) {
        const std::size_t n = std::min(block, v.size() - at);
        for (std::size_t i = 0; i < n; ++i) values[i] = std::get<0>(v[at + i]);
        w.write_bytes(std::as_bytes(std::span<const U>(values, n)));
      }
    } else {
      detail::encode_sequence(w, v);
    }
  }
  static std::vector<T, A> decode(Reader& r) {
    if constexpr (detail::raw_arithmetic<T>) {
      const std::size_t n = r.read_count("std::vector", sizeof(T));
      const std::span<const std::byte> bytes = r.read_bytes(n * sizeof(T));
      std::vector<T, A> out(n);
      if (n != 0) std::memcpy(out.data(), bytes.data(), bytes.size());
      return out;
    } else if constexpr (detail::raw_single_tuple<T>::value) {
      using U = std::tuple_element_t<0, T>;
      const std::size_t n = r.read_count("std::vector", sizeof(U));
      const std::span<const std::byte> bytes = r.read_bytes(n * sizeof(U));
      std::vector<T, A> out;
      out.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        U value;
        std::memcpy(&value, bytes.data() + i * sizeof(U), sizeof(U));
        out.emplace_back(value);
      }
      return out;
    } else {
      const std::size_t n = r.read_count("std::vector", detail::min_encoded_size<T>());
      std::vector<T, A> out;
      out.reserve(n);
      for (std::size_t i = 0; i < n; ++i) out.push_back(r.read<T>());
      return out;
    }
  }
};

template <class T, std::size_t N>
requires detail::has_codec<T>
struct Codec<std::array<T, N>> {
  static void encode(Writer& w, const std::array<T, N>& a) {
    for (const T& item : a) w.write(item);
  }
  static std::array<T, N> decode(Reader& r) { return decode_all(r, std::make_index_sequence<N>{}); }

 private:
  template <std::size_t... I>
  static std::array<T, N> decode_all(Reader& r, std::index_sequence<I...> /*unused*/) {
    // Braced initialisation evaluates left to right.
    return std::array<T, N>{{(static_cast<void>(I), r.read<T>())...}};
  }
};

template <class T, class A>
requires detail::has_codec<T>
struct Codec<std::deque<T, A>> {
  static void encode(Writer& w, const std::deque<T, A>& d) { detail::encode_sequence(w, d); }
  static std::deque<T, A> decode(Reader& r) {
    return detail::decode_sequence<T, std::deque<T, A>, false>(r, "std::deque");
  }
};

template <class T, class A>
requires detail::has_codec<T>
struct Codec<std::list<T, A>> {
  static void encode(Writer& w, const std::list<T, A>& l) { detail::encode_sequence(w, l); }
  static std::list<T, A> decode(Reader& r) {
    return detail::decode_sequence<T, std::list<T, A>, true>(r, "std::list");
  }
};

template <class K, class C, class A>
requires detail::has_codec<K>
struct Codec<std::set<K, C, A>> {
  static void encode(Writer& w, const std::set<K, C, A>& s) { detail::encode_sequence(w, s); }
  static std::set<K, C, A> decode(Reader& r) {
    return detail::decode_sequence<K, std::set<K, C, A>, true>(r, "std::set");
  }
};

template <class K, class H, class E, class A>
requires detail::has_codec<K>
struct Codec<std::unordered_set<K, H, E, A>> {
  static void encode(Writer& w, const std::unordered_set<K, H, E, A>& s) {
    detail::encode_sequence(w, s);
  }
  static std::unordered_set<K, H, E, A> decode(Reader& r) {
    return detail::decode_sequence<K, std::unordered_set<K, H, E, A>, true>(r,
                                                                            "std::unordered_set");
  }
};

template <class K, class V, class C, class A>
requires(detail::has_codec<K>&& detail::has_codec<V>) struct Codec<std::map<K, V, C, A>> {
  static void encode(Writer& w, const std::map<K, V, C, A>& m) {
    w.write_size(m.size());
    for (const auto& [k, v] : m) {
      w.write(k);
      w.write(v);
    }
  }
  static std::map<K, V, C, A> decode(Reader& r) {
    const std::size_t n =
        r.read_count("std::map", detail::min_encoded_size<std::pair<K, V>>(), Reader::node_cost);
    std::map<K, V, C, A> out;
    for (std::size_t i = 0; i < n; ++i) {
      K k = r.read<K>();
      out.insert_or_assign(std::move(k), r.read<V>());
    }
    return out;
  }
};

template <class K, class V, class H, class E, class A>
requires(
    detail::has_codec<K>&& detail::has_codec<V>) struct Codec<std::unordered_map<K, V, H, E, A>> {
  static void encode(Writer& w, const std::unordered_map<K, V, H, E, A>& m) {
    w.write_size(m.size());
    for (const auto& [k, v] : m) {
      w.write(k);
      w.write(v);
    }
  }
  static std::unordered_map<K, V, H, E, A> decode(Reader& r) {
    const std::size_t n = r.read_count(
        "std::unordered_map", detail::min_encoded_size<std::pair<K, V>>(), Reader::node_cost);
    std::unordered_map<K, V, H, E, A> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      K k = r.read<K>();
      out.insert_or_assign(std::move(k), r.read<V>());
    }
    return out;
  }
};

template <class A, class B>
requires(detail::has_codec<A>&& detail::has_codec<B>) struct Codec<std::pair<A, B>> {
  static void encode(Writer& w, const std::pair<A, B>& p) {
    w.write(p.first);
    w.write(p.second);
  }
  static std::pair<A, B> decode(Reader& r) {
    A a = r.read<A>();
    return std::pair<A, B>(std::move(a), r.read<B>());
  }
};

template <class... Ts>
requires(detail::has_codec<Ts>&&...) struct Codec<std::tuple<Ts...>> {
  static void encode(Writer& w, const std::tuple<Ts...>& t) {
    std::apply([&](const Ts&... xs) { (w.write(xs), ...); }, t);
  }
  static std::tuple<Ts...> decode(Reader& r) {
    // Braced initialisation evaluates left to right.
    return std::tuple<Ts...>{r.read<Ts>()...};
  }
};

template <class T>
requires detail::has_codec<T>
struct Codec<std::optional<T>> {
  static void encode(Writer& w, const std::optional<T>& o) {
    w.write(o.has_value());
    if (o) w.write(*o);
  }
  static std::optional<T> decode(Reader& r) {
    if (!r.read<bool>()) return std::nullopt;
    return r.read<T>();
  }
};

template <>
struct Codec<std::monostate> {
  static void encode(Writer& /*w*/, const std::monostate& /*m*/) {}
  static std::monostate decode(Reader& /*r*/) { return {}; }
};

template <class... Ts>
requires(detail::has_codec<Ts>&&...) struct Codec<std::variant<Ts...>> {
  static void encode(Writer& w, const std::variant<Ts...>& v) {
    if (v.valueless_by_exception()) {
      throw CodecError("concur::Codec<std::variant>::encode: the variant is valueless");
    }
    w.write_size(v.index());
    std::visit([&w](const auto& x) { w.write(x); }, v);
  }
  static std::variant<Ts...> decode(Reader& r) {
    const auto index = r.read_raw<std::uint64_t>();
    if (index >= sizeof...(Ts)) {
      throw CodecError("concur::Codec<std::variant>::decode: alternative index " +
                       std::to_string(index) + " out of range: the message is corrupt");
    }
    return decode_at(r, static_cast<std::size_t>(index), std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  static std::variant<Ts...> decode_at(Reader& r, std::size_t index,
                                       std::index_sequence<I...> /*unused*/) {
    using Decoder = std::variant<Ts...> (*)(Reader&);
    static constexpr Decoder decoders[] = {
        [](Reader& rd) { return std::variant<Ts...>(std::in_place_index<I>, rd.read<Ts>()); }...};
    return decoders[index](r);
  }
};

template <class Rep, class Period>
requires detail::has_codec<Rep>
struct Codec<std::chrono::duration<Rep, Period>> {
  static void encode(Writer& w, const std::chrono::duration<Rep, Period>& d) { w.write(d.count()); }
  static std::chrono::duration<Rep, Period> decode(Reader& r) {
    return std::chrono::duration<Rep, Period>(r.read<Rep>());
  }
};

}  // namespace concur
