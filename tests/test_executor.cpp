// tests/test_executor.cpp - Executor::submit and Executor::map, exercised through
// ThreadPoolExecutor. Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Ported from CPython's Lib/test/test_concurrent_futures/executor.py (class ExecutorTest), plus
// the C++-only parts of DESIGN.md "Executor": argument decay-copying, std::ref, move-only
// arguments and results, lvalue versus temporary ranges, use through Executor& and
// std::unique_ptr<Executor>. tests/README.md maps every Python method to a case here.
#include <concur/executor.hpp>
#include <concur/thread_pool.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support/catch.hpp"
#include "support/gate.hpp"
#include "support/tasks.hpp"

using namespace std::chrono_literals;
using concur_test::int_pow;
using concur_test::mul;

namespace {

constexpr auto kLongWait = std::chrono::seconds(10);  // a hang turns into a failure after this

struct DivMod {
  int quotient;
  int remainder;
  friend bool operator==(const DivMod&, const DivMod&) = default;
};

DivMod divmod(int a, int b) {
  if (b == 0) throw std::domain_error("divmod: integer division by zero");
  return {a / b, a % b};
}

// itertools.count() for C++: 0, 1, 2, ... without end. begin() never compares equal to end().
class Naturals {
 public:
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    using reference = int;
    using pointer = void;

    iterator() = default;
    int operator*() const { return value_; }
    iterator& operator++() {
      ++value_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++value_;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) {
      return a.is_end_ == b.is_end_ && (a.is_end_ || a.value_ == b.value_);
    }

   private:
    friend class Naturals;
    int value_ = 0;
    bool is_end_ = false;
  };

  iterator begin() const { return iterator(); }
  iterator end() const {
    iterator it;
    it.is_end_ = true;
    return it;
  }
};

// A range that can be neither copied nor moved: map() can only take it by reference.
class PinnedInts {
 public:
  explicit PinnedInts(std::vector<int> values) : values_(std::move(values)) {}
  PinnedInts(const PinnedInts&) = delete;
  PinnedInts& operator=(const PinnedInts&) = delete;
  std::vector<int>::const_iterator begin() const { return values_.begin(); }
  std::vector<int>::const_iterator end() const { return values_.end(); }

 private:
  std::vector<int> values_;
};

// A range that can be moved but not copied: a temporary must be moved into map()'s result.
class MoveOnlyInts {
 public:
  explicit MoveOnlyInts(std::vector<int> values) : values_(std::move(values)) {}
  MoveOnlyInts(MoveOnlyInts&&) noexcept = default;
  MoveOnlyInts& operator=(MoveOnlyInts&&) noexcept = default;
  MoveOnlyInts(const MoveOnlyInts&) = delete;
  MoveOnlyInts& operator=(const MoveOnlyInts&) = delete;
  ~MoveOnlyInts() = default;
  std::vector<int>::const_iterator begin() const { return values_.begin(); }
  std::vector<int>::const_iterator end() const { return values_.end(); }

 private:
  std::vector<int> values_;
};

std::vector<int> iota_vector(int n, int first = 0) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), first);
  return v;
}

// Arrives at a latch when destroyed: shows when the library lets go of an object.
struct DestructionSignal {
  concur_test::Latch* latch;
  explicit DestructionSignal(concur_test::Latch& l) : latch(&l) {}
  DestructionSignal(const DestructionSignal&) = delete;
  DestructionSignal& operator=(const DestructionSignal&) = delete;
  ~DestructionSignal() { latch->arrive(); }
};

struct NotAStdException {
  int code;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// submit

// executor.py: ExecutorTest.test_submit
TEST_CASE("submit runs the callable with its arguments and the future holds the result",
          "[executor][submit]") {
  concur::ThreadPoolExecutor pool(2);

  concur::Future<long long> power = pool.submit(int_pow, 2, 8);
  REQUIRE(power.result() == 256);

  auto product = pool.submit(&mul, 6, 7);
  STATIC_REQUIRE(std::is_same_v<decltype(product), concur::Future<int>>);
  REQUIRE(product.result() == 42);

  auto text = pool.submit([] { return std::string("done"); });
  STATIC_REQUIRE(std::is_same_v<decltype(text), concur::Future<std::string>>);
  REQUIRE(text.result() == "done");
  REQUIRE(text.result() == "done");  // result() may be called again and again

  std::atomic<bool> ran{false};
  auto nothing = pool.submit([&ran] { ran = true; });
  STATIC_REQUIRE(std::is_same_v<decltype(nothing), concur::Future<void>>);
  nothing.result();
  REQUIRE(ran);
  REQUIRE(nothing.state() == concur::FutureState::finished);
}

// executor.py: ExecutorTest.test_submit_keyword
// C++ has no keyword arguments; their equivalents are an aggregate with designated initializers
// and a callable with leading arguments bound (std::bind_front).
TEST_CASE("submit passes positional, aggregate and pre-bound arguments", "[executor][submit]") {
  struct Named {
    int self = 0;
    int fn = 0;
  };
  concur::ThreadPoolExecutor pool(2);

  auto bound = pool.submit(std::bind_front(mul, 2), 8);
  REQUIRE(bound.result() == 16);

  auto capture = [](int positional, Named named) {
    return std::tuple<int, int, int>{positional, named.self, named.fn};
  };
  auto captured = pool.submit(capture, 1, Named{.self = 2, .fn = 3});
  REQUIRE(captured.result() == std::tuple<int, int, int>{1, 2, 3});

  auto mixed = pool.submit([](const std::string& s, double d,
                              char c) { return s + std::to_string(static_cast<int>(d)) + c; },
                           std::string("x"), 4.0, '!');
  REQUIRE(mixed.result() == "x4!");
}

TEST_CASE("submit invokes member function pointers as std::invoke does", "[executor][submit]") {
  struct Accumulator {
    int total = 0;
    int add(int n) { return total += n; }
  };
  concur::ThreadPoolExecutor pool(1);
  Accumulator acc;
  REQUIRE(pool.submit(&Accumulator::add, &acc, 5).result() == 5);
  REQUIRE(pool.submit(&Accumulator::add, std::ref(acc), 3).result() == 8);
  REQUIRE(acc.total == 8);
}

TEST_CASE("submit copies its arguments at the call", "[executor][submit][arguments]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  std::string text = "before";
  std::vector<int> numbers{1, 2, 3};

  auto f = pool.submit(
      [&gate](const std::string& s, const std::vector<int>& v) {
        gate.wait();
        return s + ":" + std::to_string(v.size());
      },
      text, numbers);
  // The call has not run yet: changing the caller's objects must not reach it.
  text = "after";
  numbers.clear();
  gate.open();
  REQUIRE(f.result() == "before:3");
}

TEST_CASE("std::ref and std::cref pass references through submit",
          "[executor][submit][arguments]") {
  concur::ThreadPoolExecutor pool(1);

  int counter = 0;
  pool.submit([](int& c) { c += 5; }, std::ref(counter)).result();
  REQUIRE(counter == 5);

  const std::string text = "shared";
  auto same_object =
      pool.submit([](const std::string& s, const std::string* original) { return &s == original; },
                  std::cref(text), &text);
  REQUIRE(same_object.result());

  auto copied =
      pool.submit([](const std::string& s, const std::string* original) { return &s == original; },
                  text, &text);
  REQUIRE_FALSE(copied.result());
}

TEST_CASE("submit takes move-only arguments and callables and returns move-only results",
          "[executor][submit][move_only]") {
  concur::ThreadPoolExecutor pool(2);

  auto f = pool.submit(
      [](std::unique_ptr<int> p) {
        *p += 1;
        return p;
      },
      std::make_unique<int>(41));
  STATIC_REQUIRE(std::is_same_v<decltype(f), concur::Future<std::unique_ptr<int>>>);
  REQUIRE(*f.result() == 42);
  std::unique_ptr<int> out = f.take();
  REQUIRE(out != nullptr);
  REQUIRE(*out == 42);
  REQUIRE_THROWS_AS(f.result(), concur::InvalidStateError);

  auto owner = std::make_unique<std::string>("moved in");
  auto g = pool.submit([p = std::move(owner)] { return *p; });
  REQUIRE(g.result() == "moved in");

  auto lvalue = std::make_unique<int>(7);
  auto h = pool.submit([](std::unique_ptr<int> p) { return *p * 6; }, std::move(lvalue));
  REQUIRE(h.result() == 42);
}

TEST_CASE("submit's result type is the decayed return type of the call", "[executor][submit]") {
  static const std::string stored = "static";
  concur::ThreadPoolExecutor pool(1);
  auto f = pool.submit([]() -> const std::string& { return stored; });
  STATIC_REQUIRE(std::is_same_v<decltype(f), concur::Future<std::string>>);
  REQUIRE(f.result() == "static");
  REQUIRE(&f.result() != &stored);  // the future holds its own copy
}

// executor.py: ExecutorTest.test_swallows_falsey_exceptions
// Python's bug was that exceptions evaluating as false were dropped; the C++ form is that an
// exception of any type, standard or not, reaches the future unchanged.
TEST_CASE("an exception of any type thrown by the call is rethrown by result()",
          "[executor][submit][exceptions]") {
  concur::ThreadPoolExecutor pool(2);

  auto standard = pool.submit([]() -> int { throw std::out_of_range("index 7"); });
  REQUIRE_THROWS_AS(standard.result(), std::out_of_range);
  REQUIRE_THROWS_WITH(standard.result(), concur_test::ContainsSubstring("index 7"));

  auto plain_int = pool.submit([] { throw 0; });
  REQUIRE_THROWS_AS(plain_int.result(), int);

  auto custom = pool.submit([]() -> std::string { throw NotAStdException{17}; });
  try {
    custom.result();
    FAIL("result() did not throw");
  } catch (const NotAStdException& e) {
    REQUIRE(e.code == 17);
  }
  REQUIRE(custom.exception() != nullptr);
}

// executor.py: ExecutorTest.test_no_stale_references
TEST_CASE("the pool releases a finished call's callable and arguments while its future lives",
          "[executor][submit][lifetime]") {
  concur_test::Latch released;  // declared first: it must outlive the pool's threads
  concur::ThreadPoolExecutor pool(2);
  auto in_callable = std::make_shared<DestructionSignal>(released);
  auto in_argument = std::make_shared<DestructionSignal>(released);

  auto f = pool.submit(
      [keep = std::move(in_callable)](std::shared_ptr<DestructionSignal> arg) {
        return arg != nullptr && keep != nullptr;
      },
      std::move(in_argument));
  REQUIRE(f.result());
  // The future (and the pool) are still alive; both objects must go anyway.
  REQUIRE(released.wait_for_count(2, kLongWait));
}

TEST_CASE(
    "a cancelled call's callable and arguments are released without running, while its "
    "future lives",
    "[executor][cancel][lifetime]") {
  concur_test::Latch released;  // declared first: it must outlive the pool's threads
  concur_test::Gate gate;
  concur_test::Latch started;
  concur::ThreadPoolExecutor pool(1);
  auto blocker = pool.submit([&gate, &started] {
    started.arrive();
    gate.wait();
  });
  REQUIRE(started.wait_for_count(1, kLongWait));  // the one worker is busy from here on
  std::atomic<int> runs{0};
  auto in_callable = std::make_shared<DestructionSignal>(released);
  auto in_argument = std::make_shared<DestructionSignal>(released);
  auto f = pool.submit(
      [keep = std::move(in_callable), &runs](const std::shared_ptr<DestructionSignal>&) { ++runs; },
      std::move(in_argument));
  REQUIRE(f.cancel());
  SECTION("dropped when a worker takes it off the queue") {
    gate.open();
  }
  SECTION("dropped by shutdown(cancel_futures)") {
    pool.shutdown(false, true);
    gate.open();
  }
  blocker.result();
  REQUIRE(released.wait_for_count(2, kLongWait));
  REQUIRE(f.cancelled());
  REQUIRE(runs == 0);
}

// test_shutdown.py: ExecutorShutdownTest.test_run_after_shutdown (through the base class)
TEST_CASE("submit after shutdown throws ShutdownError and queues nothing",
          "[executor][submit][shutdown]") {
  concur::ThreadPoolExecutor pool(2);
  pool.shutdown();
  std::atomic<int> runs{0};
  REQUIRE_THROWS_AS(pool.submit([&runs] { ++runs; }), concur::ShutdownError);
  REQUIRE_THROWS_AS(pool.submit([&runs] { ++runs; }), concur::Error);
  REQUIRE_THROWS_WITH(pool.submit([&runs] { ++runs; }), concur_test::ContainsSubstring("submit"));
  REQUIRE(runs == 0);
}

// ---------------------------------------------------------------------------------------------
// Executor& and std::unique_ptr<Executor>

TEST_CASE("submit, map and shutdown work through Executor&", "[executor][polymorphic]") {
  concur::ThreadPoolExecutor pool(2);
  concur::Executor& executor = pool;

  REQUIRE(executor.submit(mul, 6, 7).result() == 42);

  auto results = executor.map(mul, std::vector<int>{1, 2, 3}, std::vector<int>{4, 5, 6});
  std::vector<int> got(results.begin(), results.end());
  REQUIRE(got == std::vector<int>{4, 10, 18});

  executor.shutdown();
  REQUIRE_THROWS_AS(executor.submit(mul, 1, 1), concur::ShutdownError);
}

TEST_CASE("a pool owned through std::unique_ptr<Executor> works and its destruction waits",
          "[executor][polymorphic]") {
  STATIC_REQUIRE(std::has_virtual_destructor_v<concur::Executor>);
  STATIC_REQUIRE(std::is_abstract_v<concur::Executor>);

  std::unique_ptr<concur::Executor> executor = std::make_unique<concur::ThreadPoolExecutor>(2);
  REQUIRE(executor->submit(mul, 3, 4).result() == 12);
  auto results = executor->map([](int x) { return x + 1; }, std::vector<int>{1, 2});
  std::vector<int> got(results.begin(), results.end());
  REQUIRE(got == std::vector<int>{2, 3});

  concur_test::Gate gate;
  std::atomic<bool> finished{false};
  auto held = executor->submit([&] {
    gate.wait();
    finished = true;
  });
  // Opened from another thread, most likely while the destructor below is already waiting.
  std::thread opener([&] {
    concur_test::Gate().wait_for(50ms);
    gate.open();
  });
  executor.reset();  // ~ThreadPoolExecutor through the base: shutdown(true)
  REQUIRE(finished);
  REQUIRE(held.done());
  opener.join();
}

// ---------------------------------------------------------------------------------------------
// map

// executor.py: ExecutorTest.test_map
TEST_CASE("map returns what the built-in loop would, in input order", "[executor][map]") {
  const auto chunksize = GENERATE(std::size_t{1}, 3);
  concur::ThreadPoolExecutor pool(4);
  const std::vector<int> bases = iota_vector(10);
  const std::vector<int> exponents = iota_vector(10);

  std::vector<long long> expected;
  for (std::size_t i = 0; i < bases.size(); ++i)
    expected.push_back(int_pow(bases[i], exponents[i]));

  auto results = pool.map(int_pow, bases, exponents, concur::MapOptions{.chunksize = chunksize});
  std::vector<long long> got;
  for (long long& r : results) got.push_back(r);
  REQUIRE(got == expected);
}

TEST_CASE("map yields results in input order even when the calls finish in another order",
          "[executor][map]") {
  constexpr int n = 8;
  concur_test::Latch others_started;
  concur::ThreadPoolExecutor pool(4);
  // Item 0 finishes last: it waits until every other item has started.
  auto results = pool.map(
      [&others_started](int x) {
        if (x == 0) return others_started.wait_for_count(n - 1, kLongWait) ? 0 : -1;
        others_started.arrive();
        return x * 10;
      },
      iota_vector(n));
  std::vector<int> got(results.begin(), results.end());
  REQUIRE(got == std::vector<int>{0, 10, 20, 30, 40, 50, 60, 70});
}

TEST_CASE("map zips several ranges and stops at the shortest", "[executor][map][zip]") {
  concur::ThreadPoolExecutor pool(3);
  std::atomic<int> calls{0};

  SECTION("two ranges of different kinds") {
    auto results = pool.map(
        [&calls](int a, int b) {
          ++calls;
          return a * b;
        },
        std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, std::list<int>{1, 2, 3});
    std::vector<int> got(results.begin(), results.end());
    REQUIRE(got == std::vector<int>{1, 4, 9});
  }
  SECTION("three ranges of different element types") {
    auto results = pool.map(
        [&calls](int a, const std::string& s, double d) {
          ++calls;
          return s + std::to_string(a + static_cast<int>(d));
        },
        std::array<int, 4>{1, 2, 3, 4}, std::deque<std::string>{"a", "b"},
        std::vector<double>{10.0, 20.0, 30.0});
    std::vector<std::string> got(results.begin(), results.end());
    REQUIRE(got == std::vector<std::string>{"a11", "b22"});
  }
  SECTION("the shortest range is empty") {
    auto results = pool.map(
        [&calls](int a, int b) {
          ++calls;
          return a + b;
        },
        std::vector<int>{1, 2, 3}, std::vector<int>{});
    REQUIRE(results.begin() == results.end());
  }
  pool.shutdown();
  // Items past the shortest range are never called.
  REQUIRE(calls <= 3);
}

TEST_CASE("map over an empty range yields nothing and calls nothing", "[executor][map]") {
  concur::ThreadPoolExecutor pool(2);
  std::atomic<int> calls{0};
  auto results = pool.map(
      [&calls](int x) {
        ++calls;
        return x;
      },
      std::vector<int>{});
  REQUIRE(results.begin() == results.end());
  pool.shutdown();
  REQUIRE(calls == 0);
}

TEST_CASE("map of a void callable yields std::monostate", "[executor][map]") {
  concur::ThreadPoolExecutor pool(2);
  std::atomic<int> sum{0};
  auto results = pool.map([&sum](int x) { sum += x; }, std::vector<int>{1, 2, 3, 4});
  STATIC_REQUIRE(std::is_same_v<decltype(*results.begin()), std::monostate&>);
  std::size_t count = 0;
  for (std::monostate& m : results) {
    (void)m;
    ++count;
  }
  REQUIRE(count == 4);
  REQUIRE(sum == 10);
}

TEST_CASE("map's results can be collected into a vector and moved out", "[executor][map]") {
  concur::ThreadPoolExecutor pool(2);

  auto squares = pool.map([](int x) { return x * x; }, iota_vector(5));
  std::vector<int> got(squares.begin(), squares.end());
  REQUIRE(got == std::vector<int>{0, 1, 4, 9, 16});

  auto pointers = pool.map([](int x) { return std::make_unique<int>(x); }, iota_vector(3));
  std::vector<std::unique_ptr<int>> owned;
  for (auto& p : pointers) owned.push_back(std::move(p));
  REQUIRE(owned.size() == 3);
  for (std::size_t i = 0; i < owned.size(); ++i) {
    REQUIRE(owned[i] != nullptr);
    REQUIRE(*owned[i] == static_cast<int>(i));
  }
}

// executor.py: ExecutorTest.test_map_exception
TEST_CASE("map rethrows a call's exception at its position and iteration goes on",
          "[executor][map][exceptions]") {
  const auto chunksize = GENERATE(std::size_t{1}, 3);
  concur::ThreadPoolExecutor pool(2);

  SECTION("the failing call is third") {
    auto results = pool.map(divmod, std::vector<int>{5, 5, 5, 5}, std::vector<int>{2, 3, 0, 5},
                            concur::MapOptions{.chunksize = chunksize});
    auto it = results.begin();
    REQUIRE(*it == DivMod{2, 1});
    ++it;
    REQUIRE(*it == DivMod{1, 2});
    ++it;
    REQUIRE_THROWS_AS(*it, std::domain_error);
    ++it;
    REQUIRE(*it == DivMod{1, 0});
    ++it;
    REQUIRE(it == results.end());
  }
  SECTION("the failing call is second") {
    auto results = pool.map(divmod, std::vector<int>{5, 5, 5, 5}, std::vector<int>{2, 0, 3, 5},
                            concur::MapOptions{.chunksize = chunksize});
    auto it = results.begin();
    REQUIRE(*it == DivMod{2, 1});
    ++it;
    REQUIRE_THROWS_AS(*it, std::domain_error);
    ++it;
    REQUIRE(*it == DivMod{1, 2});
    ++it;
    REQUIRE(*it == DivMod{1, 0});
    ++it;
    REQUIRE(it == results.end());
  }
}

// executor.py: ExecutorTest.test_map_timeout_from_callable
TEST_CASE("a TimeoutError thrown by the call is that call's exception, not map's timeout",
          "[executor][map][timeout]") {
  concur::ThreadPoolExecutor pool(2);
  auto timeout_on_one = [](int x) {
    if (x == 1) throw concur::TimeoutError("timeout_on_one: thrown by the call itself");
    return x;
  };
  const std::optional<std::chrono::nanoseconds> timeout =
      GENERATE(std::optional<std::chrono::nanoseconds>{},
               std::optional<std::chrono::nanoseconds>{std::chrono::seconds(60)});

  auto results = pool.map(timeout_on_one, std::vector<int>{0, 1, 2, 3},
                          concur::MapOptions{.timeout = timeout});
  auto it = results.begin();
  REQUIRE(*it == 0);
  ++it;
  try {
    (void)*it;
    FAIL("the call's TimeoutError was not rethrown");
  } catch (const concur::TimeoutError& e) {
    REQUIRE(std::string(e.what()).find("timeout_on_one") != std::string::npos);
  }
  ++it;
  REQUIRE(*it == 2);
  ++it;
  REQUIRE(*it == 3);
  ++it;
  REQUIRE(it == results.end());
}

// executor.py: ExecutorTest.test_map_timeout
TEST_CASE("a call not done when map's timeout expires throws TimeoutError at its position",
          "[executor][map][timeout]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(2);
  const auto timeout = 300ms;

  const auto start = std::chrono::steady_clock::now();
  auto results = pool.map(
      [&gate](int x) {
        if (x == 2) gate.wait();
        return x;
      },
      std::vector<int>{0, 1, 2}, concur::MapOptions{.timeout = timeout});
  std::vector<int> seen;
  bool timed_out = false;
  auto elapsed = std::chrono::steady_clock::duration::zero();
  try {
    for (int& x : results) seen.push_back(x);
  } catch (const concur::TimeoutError&) {
    timed_out = true;
    elapsed = std::chrono::steady_clock::now() - start;
  }
  gate.open();

  REQUIRE(timed_out);
  REQUIRE(elapsed >= timeout);  // never before the timeout
  // On a loaded machine the first calls may not be done in time either (CPython gh-110097).
  REQUIRE(seen.size() <= 2);
  for (std::size_t i = 0; i < seen.size(); ++i) REQUIRE(seen[i] == static_cast<int>(i));
}

TEST_CASE("map's timeout counts from the map call, not from each dereference",
          "[executor][map][timeout]") {
  concur_test::Gate gate;
  concur::ThreadPoolExecutor pool(1);
  const auto timeout = std::chrono::seconds(3);

  const auto before_call = std::chrono::steady_clock::now();
  auto results = pool.map(
      [&gate](int x) {
        gate.wait();
        return x;
      },
      std::vector<int>{0, 1}, concur::MapOptions{.timeout = timeout});
  // Let the whole timeout pass before asking for the first result (this sleep orders nothing:
  // it only lets time pass).
  std::this_thread::sleep_until(before_call + timeout);

  const auto before_dereference = std::chrono::steady_clock::now();
  auto it = results.begin();
  REQUIRE_THROWS_AS(*it, concur::TimeoutError);
  const auto waited = std::chrono::steady_clock::now() - before_dereference;
  gate.open();
  // Counted from the dereference, it would have waited the whole timeout again.
  REQUIRE(waited < timeout);
}

// executor.py: ExecutorTest.test_map_close
TEST_CASE("destroying map's result early cancels the calls that have not started",
          "[executor][map][cancel]") {
  concur::ThreadPoolExecutor pool(1);
  std::array<std::atomic<bool>, 4> ran{};

  SECTION("nothing consumed, the only worker busy") {
    concur_test::Gate gate;
    auto blocker = pool.submit([&gate] { gate.wait(); });
    {
      auto results = pool.map(
          [&ran](int x) {
            ran[static_cast<std::size_t>(x)] = true;
            return x;
          },
          std::vector<int>{0, 1, 2, 3});
    }
    gate.open();
    blocker.result();
    pool.shutdown();
    for (auto& r : ran) REQUIRE_FALSE(r);
  }
  SECTION("one result consumed, the next call holding the worker") {
    concur_test::Gate hold_second;
    concur_test::Gate destroyed;
    bool opener_timed_out = false;
    std::thread opener([&] {
      opener_timed_out = !destroyed.wait_for(kLongWait);
      hold_second.open();
    });
    {
      auto results = pool.map(
          [&ran, &hold_second](int x) {
            ran[static_cast<std::size_t>(x)] = true;
            if (x == 1) hold_second.wait();
            return x;
          },
          std::vector<int>{0, 1, 2, 3});
      auto it = results.begin();
      REQUIRE(*it == 0);
    }  // call 1 is pending or running (held); calls 2 and 3 are pending
    destroyed.open();
    opener.join();
    pool.shutdown();
    CHECK_FALSE(opener_timed_out);  // destroying the range must not wait for a running call
    REQUIRE(ran[0]);
    REQUIRE_FALSE(ran[2]);
    REQUIRE_FALSE(ran[3]);
  }
}

// executor.py: ExecutorTest.test_free_reference
TEST_CASE("map lets go of each result once iteration has moved past it",
          "[executor][map][lifetime]") {
  concur_test::Latch destroyed;  // declared first: it must outlive the pool's threads
  concur::ThreadPoolExecutor pool(2);
  constexpr int n = 6;
  auto results = pool.map(
      [&destroyed](int) { return std::make_shared<DestructionSignal>(destroyed); }, iota_vector(n));
  std::size_t consumed = 0;
  for (auto it = results.begin(); it != results.end();) {
    {
      std::shared_ptr<DestructionSignal> taken = std::move(*it);
      REQUIRE(taken != nullptr);
    }  // our reference is gone; the range must not keep another one
    ++it;
    ++consumed;
    REQUIRE(destroyed.wait_for_count(consumed, kLongWait));
  }
  REQUIRE(consumed == n);
}

// ---------------------------------------------------------------------------------------------
// chunksize

TEST_CASE("map gives the same results in order for every chunksize", "[executor][map][chunksize]") {
  const auto chunksize = GENERATE(std::size_t{1}, 2, 3, 6, 39, 40, 50);
  concur::ThreadPoolExecutor pool(3);
  const std::vector<int> a = iota_vector(40);
  const std::vector<int> b = iota_vector(40, 100);
  auto results = pool.map([](int x, int y) { return x * 1000 + y; }, a, b,
                          concur::MapOptions{.chunksize = chunksize});
  std::vector<int> got(results.begin(), results.end());
  std::vector<int> expected;
  for (std::size_t i = 0; i < a.size(); ++i) expected.push_back(a[i] * 1000 + b[i]);
  REQUIRE(got == expected);
}

TEST_CASE("chunksize runs the calls of one chunk one after another in one task",
          "[executor][map][chunksize]") {
  // Call 0 waits for call 1 to open a gate. In separate tasks on two workers, call 1 runs
  // meanwhile and opens it; batched into one task, call 1 cannot start before call 0 returns.
  concur_test::Gate second_started;
  concur::ThreadPoolExecutor pool(2);

  SECTION("chunksize 1: the two calls run side by side") {
    auto results = pool.map(
        [&second_started](int x) {
          if (x == 1) {
            second_started.open();
            return true;
          }
          return second_started.wait_for(kLongWait);
        },
        std::vector<int>{0, 1}, concur::MapOptions{.chunksize = 1});
    std::vector<bool> got(results.begin(), results.end());
    REQUIRE(got == std::vector<bool>{true, true});
  }
  SECTION("chunksize 2: the second call waits for the first") {
    std::thread::id first_thread;
    std::thread::id second_thread;
    auto results = pool.map(
        [&](int x) {
          if (x == 1) {
            second_thread = std::this_thread::get_id();
            second_started.open();
            return true;
          }
          first_thread = std::this_thread::get_id();
          return second_started.wait_for(250ms);
        },
        std::vector<int>{0, 1}, concur::MapOptions{.chunksize = 2});
    std::vector<bool> got(results.begin(), results.end());
    REQUIRE(got == std::vector<bool>{false, true});
    REQUIRE(first_thread == second_thread);
  }
}

TEST_CASE("an exception in one call of a chunk does not lose the other calls of that chunk",
          "[executor][map][chunksize][exceptions]") {
  const auto chunksize = GENERATE(std::size_t{2}, 4, 8);
  concur::ThreadPoolExecutor pool(2);
  auto results = pool.map(
      [](int x) {
        if (x == 1 || x == 6) throw std::runtime_error("call " + std::to_string(x) + " failed");
        return x * 2;
      },
      iota_vector(8), concur::MapOptions{.chunksize = chunksize});
  int index = 0;
  for (auto it = results.begin(); it != results.end(); ++it, ++index) {
    if (index == 1 || index == 6) {
      REQUIRE_THROWS_WITH(*it, concur_test::ContainsSubstring("call " + std::to_string(index)));
    } else {
      REQUIRE(*it == index * 2);
    }
  }
  REQUIRE(index == 8);
}

namespace {
struct Labelled {  // no default constructor: a chunk keeps such results in std::optional
  explicit Labelled(int v) : value(v) {}
  int value;
};
}  // namespace

TEST_CASE("a chunk keeps bool and non-default-constructible results, and their exceptions",
          "[executor][map][chunksize][exceptions]") {
  concur::ThreadPoolExecutor pool(2);
  const auto opts = concur::MapOptions{.chunksize = 3};
  auto evens = pool.map(
      [](int x) {
        if (x == 4) throw std::runtime_error("four");
        return x % 2 == 0;
      },
      iota_vector(7), opts);
  int index = 0;
  for (auto it = evens.begin(); it != evens.end(); ++it, ++index) {
    if (index == 4) {
      REQUIRE_THROWS_WITH(*it, concur_test::ContainsSubstring("four"));
    } else {
      bool& b = *it;
      REQUIRE(b == (index % 2 == 0));
    }
  }
  REQUIRE(index == 7);
  auto labelled = pool.map(
      [](int x) {
        if (x == 0 || x == 5) throw std::runtime_error("no label " + std::to_string(x));
        return Labelled(10 * x);
      },
      iota_vector(6), opts);
  index = 0;
  for (auto it = labelled.begin(); it != labelled.end(); ++it, ++index) {
    if (index == 0 || index == 5) {
      REQUIRE_THROWS_WITH(*it, concur_test::ContainsSubstring("no label"));
      REQUIRE_THROWS_WITH(*it, concur_test::ContainsSubstring("no label"));  // again: same one
    } else {
      REQUIRE(it->value == 10 * index);
    }
  }
  REQUIRE(index == 6);
}

// ---------------------------------------------------------------------------------------------
// One random-access iterable of plain values in a thread pool: map() copies the items into one
// array and the chunks write their results into another (detail::MapArrays).

TEST_CASE("map copies a random-access range's items at the call: later writes to it change nothing",
          "[executor][map][chunksize]") {
  const auto chunksize = GENERATE(std::size_t{1}, 3, 64);
  concur::ThreadPoolExecutor pool(2);
  std::vector<int> items = iota_vector(200);
  auto results =
      pool.map([](int x) { return x * 3; }, items, concur::MapOptions{.chunksize = chunksize});
  std::fill(items.begin(), items.end(), -1);  // Python collects the iterables at the call too
  std::vector<int> got;
  for (int v : results) got.push_back(v);
  std::vector<int> expected;
  for (int i = 0; i < 200; ++i) expected.push_back(i * 3);
  REQUIRE(got == expected);
}

TEST_CASE("a map result destroyed while one of its chunks runs lets that chunk finish safely",
          "[executor][map][chunksize][lifetime]") {
  concur::ThreadPoolExecutor pool(2);
  concur_test::Gate started;
  concur_test::Gate release;
  std::atomic<int> calls{0};
  {
    auto results = pool.map(
        [&](int x) {
          ++calls;
          if (x == 0) {
            started.open();
            release.wait();
          }
          return x + 1;
        },
        iota_vector(64), concur::MapOptions{.chunksize = 32});
    REQUIRE(started.wait_for(kLongWait));
  }  // the first chunk is running: it still writes its results, into arrays it shares
  release.open();
  pool.shutdown();  // waits for the chunk; ASan reports a write to freed memory, if any
  REQUIRE(calls >= 32);
}

TEST_CASE("a stale copy of map's iterator reads what the range holds, never a chunk let go",
          "[executor][map][chunksize][iterator]") {
  concur::ThreadPoolExecutor pool(2);
  // Two iterables: chunks keep their results themselves, and each is freed once consumed.
  const std::vector<int> a = iota_vector(40);
  const std::vector<int> b = iota_vector(40, 1000);
  auto results =
      pool.map([](int x, int y) { return x + y; }, a, b, concur::MapOptions{.chunksize = 4});
  auto live = results.begin();
  REQUIRE(*live == 1000);
  const auto stale = live;              // now in the first chunk's window
  for (int i = 0; i < 10; ++i) ++live;  // two chunks on: the first chunk is gone
  REQUIRE(*live == 20 + 1000);
  REQUIRE(*stale == *live);  // the stale copy falls back on the range's position
  int count = 0;
  for (; live != results.end(); ++live) ++count;
  REQUIRE(count == 30);
}

TEST_CASE("a loop over map's results left early goes on from the same result in a new loop",
          "[executor][map][iterator]") {
  const auto chunksize = GENERATE(std::size_t{1}, 5, 100);
  concur::ThreadPoolExecutor pool(2);
  auto results = pool.map([](int x) { return x; }, iota_vector(100),
                          concur::MapOptions{.chunksize = chunksize});
  std::vector<int> got;
  for (int v : results) {
    got.push_back(v);
    if (v == 12) break;
  }
  // A break leaves the iterator at its result, as with any input range: it comes again.
  for (int v : results) got.push_back(v);
  std::vector<int> expected = iota_vector(13);
  for (int v : iota_vector(88, 12)) expected.push_back(v);
  REQUIRE(got == expected);
}

// ---------------------------------------------------------------------------------------------
// spans(): the results a ready run at a time

TEST_CASE("map's spans() gives every result once, in order, in runs no longer than a chunk",
          "[executor][map][spans]") {
  const auto chunksize = GENERATE(std::size_t{1}, 7, 64, 1000);
  concur::ThreadPoolExecutor pool(2);
  auto results = pool.map([](int x) { return 2 * x; }, iota_vector(500),
                          concur::MapOptions{.chunksize = chunksize});
  std::vector<int> got;
  std::size_t runs = 0;
  for (std::span<int> run : results.spans()) {
    REQUIRE(!run.empty());
    REQUIRE(run.size() <= chunksize);
    got.insert(got.end(), run.begin(), run.end());
    ++runs;
  }
  std::vector<int> expected;
  for (int i = 0; i < 500; ++i) expected.push_back(2 * i);
  REQUIRE(got == expected);
  REQUIRE(runs >= (500 + chunksize - 1) / chunksize);
  REQUIRE(results.begin() == results.end());
}

TEST_CASE("map's spans() rethrows a failed call on its own and goes on after it",
          "[executor][map][spans][exceptions]") {
  const auto chunksize = GENERATE(std::size_t{1}, 4, 50);
  concur::ThreadPoolExecutor pool(2);
  auto results = pool.map(
      [](int x) {
        if (x == 3 || x == 4 || x == 30) throw std::runtime_error("call " + std::to_string(x));
        return x;
      },
      iota_vector(50), concur::MapOptions{.chunksize = chunksize});
  std::vector<int> got;
  std::vector<std::string> errors;
  auto runs = results.spans();
  for (auto it = runs.begin(); it != runs.end(); ++it) {
    try {
      for (int v : *it) got.push_back(v);
    } catch (const std::runtime_error& e) {
      errors.emplace_back(e.what());
    }
  }
  std::vector<int> expected;
  for (int i = 0; i < 50; ++i) {
    if (i != 3 && i != 4 && i != 30) expected.push_back(i);
  }
  REQUIRE(got == expected);
  REQUIRE(errors == std::vector<std::string>{"call 3", "call 4", "call 30"});
}

TEST_CASE("map's spans() and its iterator share one position", "[executor][map][spans]") {
  concur::ThreadPoolExecutor pool(2);
  auto results =
      pool.map([](int x) { return x; }, iota_vector(30), concur::MapOptions{.chunksize = 10});
  auto it = results.begin();
  REQUIRE(*it == 0);
  ++it;
  ++it;
  auto runs = results.spans();
  auto run_it = runs.begin();
  const std::span<int> first = *run_it;
  REQUIRE(first.front() == 2);
  REQUIRE(first.back() == 9);  // the rest of the first chunk
  ++run_it;
  REQUIRE(*results.begin() == 10);  // the iterator goes on after the run
  std::vector<int> rest(results.begin(), results.end());
  REQUIRE(rest.size() == 20);
  REQUIRE(runs.begin() == runs.end());
}

TEST_CASE("map's spans() over nothing is empty, and throws TimeoutError past map's timeout",
          "[executor][map][spans][timeout]") {
  concur::ThreadPoolExecutor pool(2);
  SECTION("an empty range") {
    auto results =
        pool.map([](int x) { return x; }, std::vector<int>{}, concur::MapOptions{.chunksize = 4});
    auto runs = results.spans();
    REQUIRE(runs.begin() == runs.end());
  }
  SECTION("a chunk not done in time") {
    concur_test::Gate release;
    auto results = pool.map(
        [&release](int x) {
          release.wait();
          return x;
        },
        iota_vector(8), concur::MapOptions{.timeout = 50ms, .chunksize = 4});
    auto runs = results.spans();
    REQUIRE_THROWS_AS(*runs.begin(), concur::TimeoutError);
    release.open();
  }
}

// executor.py: ExecutorTest.test_map_buffersize_type_validation,
//              ExecutorTest.test_map_buffersize_value_validation
TEST_CASE("map rejects chunksize 0 and buffersize 0 with std::invalid_argument",
          "[executor][map][chunksize][buffersize]") {
  concur::ThreadPoolExecutor pool(2);
  std::atomic<int> calls{0};
  auto fn = [&calls](int x) {
    ++calls;
    return x;
  };
  const std::vector<int> items{1, 2, 3};
  // Python's TypeError for a buffersize that is not an integer is the type system's job here.
  STATIC_REQUIRE(
      std::is_same_v<decltype(concur::MapOptions::buffersize), std::optional<std::size_t>>);
  STATIC_REQUIRE(std::is_same_v<decltype(concur::MapOptions::chunksize), std::size_t>);
  REQUIRE_THROWS_AS(pool.map(fn, items, concur::MapOptions{.chunksize = 0}), std::invalid_argument);
  REQUIRE_THROWS_WITH(pool.map(fn, items, concur::MapOptions{.chunksize = 0}),
                      concur_test::ContainsSubstring("map"));
  REQUIRE_THROWS_AS(pool.map(fn, items, concur::MapOptions{.buffersize = 0}),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(pool.map(fn, items, concur::MapOptions{.buffersize = 0}),
                      concur_test::ContainsSubstring("map"));
  pool.shutdown();
  REQUIRE(calls == 0);
}

// ---------------------------------------------------------------------------------------------
// buffersize

// executor.py: ExecutorTest.test_map_buffersize
TEST_CASE("map with buffersize gives every result in order", "[executor][map][buffersize]") {
  const auto buffersize = GENERATE(std::size_t{1}, 2, 4, 8);
  const auto chunksize = GENERATE(std::size_t{1}, 3);
  concur::ThreadPoolExecutor pool(3);
  auto results = pool.map([](int x) { return std::to_string(x); }, iota_vector(4),
                          concur::MapOptions{.chunksize = chunksize, .buffersize = buffersize});
  std::vector<std::string> got(results.begin(), results.end());
  REQUIRE(got == std::vector<std::string>{"0", "1", "2", "3"});
}

// executor.py: ExecutorTest.test_map_buffersize_on_multiple_iterables
TEST_CASE("map with buffersize zips several ranges", "[executor][map][buffersize][zip]") {
  const auto buffersize = GENERATE(std::size_t{1}, 2, 4, 8);
  concur::ThreadPoolExecutor pool(3);
  auto results = pool.map([](int a, int b) { return a + b; }, iota_vector(4), iota_vector(6),
                          concur::MapOptions{.buffersize = buffersize});
  std::vector<int> got(results.begin(), results.end());
  REQUIRE(got == std::vector<int>{0, 2, 4, 6});
}

// executor.py: ExecutorTest.test_map_buffersize_on_infinite_iterable,
//              ExecutorTest.test_map_buffersize_on_multiple_infinite_iterables
TEST_CASE("map with buffersize reads an endless range lazily", "[executor][map][buffersize]") {
  concur::ThreadPoolExecutor pool(2);

  SECTION("one endless range") {
    auto results = pool.map([](int x) { return std::to_string(x); }, Naturals{},
                            concur::MapOptions{.buffersize = 2});
    auto it = results.begin();
    REQUIRE(*it == "0");
    ++it;
    REQUIRE(*it == "1");
    ++it;
    REQUIRE(*it == "2");
  }
  SECTION("two endless ranges") {
    auto results = pool.map([](int a, int b) { return a + b; }, Naturals{}, Naturals{},
                            concur::MapOptions{.buffersize = 2});
    auto it = results.begin();
    REQUIRE(*it == 0);
    ++it;
    REQUIRE(*it == 2);
    ++it;
    REQUIRE(*it == 4);
  }
  SECTION("an endless range zipped with a finite one ends with the finite one") {
    auto results = pool.map([](int a, int b) { return a * b; }, Naturals{}, std::vector<int>{5, 6},
                            concur::MapOptions{.buffersize = 1});
    std::vector<int> got(results.begin(), results.end());
    REQUIRE(got == std::vector<int>{0, 6});
  }
}

// executor.py: ExecutorTest.test_map_buffersize_on_empty_iterable
TEST_CASE("map with buffersize over an empty range yields nothing", "[executor][map][buffersize]") {
  concur::ThreadPoolExecutor pool(2);
  auto results =
      pool.map([](int x) { return x; }, std::vector<int>{}, concur::MapOptions{.buffersize = 2});
  REQUIRE(results.begin() == results.end());
}

// executor.py: ExecutorTest.test_map_buffersize_when_buffer_is_full
TEST_CASE("map with buffersize starts only buffersize calls while nothing is consumed",
          "[executor][map][buffersize]") {
  const auto buffersize = GENERATE(std::size_t{1}, 2, 5);
  concur::ThreadPoolExecutor pool(4);
  std::atomic<std::size_t> started{0};
  auto results = pool.map(
      [&started](int x) {
        ++started;
        return x;
      },
      iota_vector(20), concur::MapOptions{.buffersize = buffersize});
  pool.shutdown(true);  // every call submitted so far has run when this returns
  REQUIRE(started == buffersize);
}

TEST_CASE("map with buffersize never has more than buffersize unconsumed calls started",
          "[executor][map][buffersize]") {
  const auto buffersize = GENERATE(std::size_t{1}, 2, 4);
  constexpr int n = 30;
  concur::ThreadPoolExecutor pool(4);
  std::atomic<std::size_t> started{0};
  std::atomic<std::size_t> consumed{0};  // counts a result as consumed as soon as it is asked for
  std::atomic<std::size_t> worst{0};
  auto results = pool.map(
      [&](int x) {
        const std::size_t in_flight = ++started - consumed.load();
        std::size_t seen = worst.load();
        while (in_flight > seen && !worst.compare_exchange_weak(seen, in_flight)) {
        }
        return x;
      },
      iota_vector(n), concur::MapOptions{.buffersize = buffersize});

  std::vector<int> got;
  for (auto it = results.begin(); it != results.end(); ++it) {
    ++consumed;
    got.push_back(*it);
  }
  REQUIRE(got == iota_vector(n));
  REQUIRE(started == static_cast<std::size_t>(n));
  REQUIRE(worst <= buffersize);
}

// ---------------------------------------------------------------------------------------------
// ranges passed as lvalues and as temporaries

TEST_CASE("map references a range passed as an lvalue", "[executor][map][ranges]") {
  concur::ThreadPoolExecutor pool(2);

  SECTION("a range that can be neither copied nor moved") {
    const PinnedInts pinned(std::vector<int>{1, 2, 3});
    auto results = pool.map([](int x) { return x * 2; }, pinned);
    std::vector<int> got(results.begin(), results.end());
    REQUIRE(got == std::vector<int>{2, 4, 6});
  }
  SECTION("items read lazily come from the caller's object") {
    std::vector<int> items{1, 2, 3, 4};
    auto results = pool.map([](int x) { return x; }, items, concur::MapOptions{.buffersize = 1});
    items[3] = 40;  // not read yet: only the first call has been submitted
    std::vector<int> got(results.begin(), results.end());
    REQUIRE(got == std::vector<int>{1, 2, 3, 40});
  }
}

TEST_CASE("map moves a temporary range into its result", "[executor][map][ranges]") {
  concur::ThreadPoolExecutor pool(2);

  SECTION("a temporary vector outlives its full-expression when read lazily") {
    auto results = pool.map([](const std::string& s) { return s + "!"; },
                            std::vector<std::string>{"a", "b", "c", "d", "e"},
                            concur::MapOptions{.buffersize = 1});
    std::vector<std::string> got(results.begin(), results.end());
    REQUIRE(got == std::vector<std::string>{"a!", "b!", "c!", "d!", "e!"});
  }
  SECTION("a move-only temporary range") {
    auto results = pool.map([](int x) { return x + 1; }, MoveOnlyInts(std::vector<int>{1, 2, 3}),
                            concur::MapOptions{.buffersize = 2});
    std::vector<int> got(results.begin(), results.end());
    REQUIRE(got == std::vector<int>{2, 3, 4});
  }
}

// executor.py: ExecutorTest.test_shutdown_race_issue12456
TEST_CASE("shutdown right after a map with more items than workers runs them all",
          "[executor][map][shutdown]") {
  constexpr std::size_t workers = 3;
  concur::ThreadPoolExecutor pool(workers);
  auto results =
      pool.map([](int x) { return std::to_string(x); }, std::vector<int>(workers + 1, 2));
  pool.shutdown();
  std::vector<std::string> got(results.begin(), results.end());
  REQUIRE(got == std::vector<std::string>(workers + 1, "2"));
}
