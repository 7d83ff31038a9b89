// tests/test_when.cpp - when_all() and when_any(): variadic and range forms, errors and
// cancellation inside, already-done and duplicated inputs, empty inputs, and no blocked thread.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/future.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/futures.hpp"

namespace {

using namespace std::chrono_literals;
using concur_test::TestError;

}  // namespace

TEST_CASE("when_all of mixed types finishes once every input is done, and never fails",
          "[when][when_all]") {
  concur::Promise<int> ints;
  concur::Promise<std::string> strings;
  concur::Promise<void> voids;
  concur::Promise<double> cancelled;
  auto all = concur::when_all(ints.get_future(), strings.get_future(), voids.get_future(),
                              cancelled.get_future());
  STATIC_REQUIRE(
      std::is_same_v<decltype(all),
                     concur::Future<std::tuple<concur::Future<int>, concur::Future<std::string>,
                                               concur::Future<void>, concur::Future<double>>>>);
  ints.set_exception(std::make_exception_ptr(TestError("one input failed")));
  strings.set_result("two");
  REQUIRE(cancelled.get_future().cancel());
  CHECK_FALSE(all.done());  // voids is still pending
  CHECK_FALSE(all.wait_for(10ms));
  voids.set_result();
  REQUIRE(all.done());
  CHECK(all.exception() == nullptr);  // when_all itself does not fail
  const auto& [i, s, v, d] = all.result();
  CHECK_THROWS_AS(i.result(), TestError);
  CHECK(s.result() == "two");
  CHECK(v.state() == concur::FutureState::finished);
  CHECK(d.cancelled());
  CHECK(i == ints.get_future());
}

TEST_CASE("when_all over a range finishes with the elements in order, duplicates kept",
          "[when][when_all]") {
  std::vector<concur::Promise<int>> promises(5);
  std::vector<concur::Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  futures.push_back(futures[1]);  // a duplicate
  auto all = concur::when_all(futures);
  STATIC_REQUIRE(std::is_same_v<decltype(all), concur::Future<std::vector<concur::Future<int>>>>);
  for (std::size_t k = promises.size(); k-- > 0;) {  // in reverse order
    CHECK_FALSE(all.done());
    promises[k].set_result(static_cast<int>(k));
  }
  const std::vector<concur::Future<int>>& got = all.result();
  REQUIRE(got.size() == 6);
  for (std::size_t k = 0; k < 5; ++k) {
    CHECK(got[k] == futures[k]);
    CHECK(got[k].result() == static_cast<int>(k));
  }
  CHECK(got[5] == futures[1]);
}

TEST_CASE("when_all of already-done inputs is done at once", "[when][when_all]") {
  concur::Promise<int> a;
  concur::Promise<int> b;
  a.set_result(1);
  b.set_result(2);
  auto all = concur::when_all(a.get_future(), b.get_future(), a.get_future());
  REQUIRE(all.done());
  CHECK(std::get<2>(all.result()).result() == 1);
  auto range = concur::when_all(std::vector<concur::Future<int>>{b.get_future(), a.get_future()});
  REQUIRE(range.done());
  CHECK(range.result()[0].result() == 2);
}

TEST_CASE("when_all of nothing is finished at once, with an empty result", "[when][when_all]") {
  auto range = concur::when_all(std::vector<concur::AnyFuture>{});
  REQUIRE(range.done());
  CHECK(range.result().empty());
  auto none = concur::when_all();
  STATIC_REQUIRE(std::is_same_v<decltype(none), concur::Future<std::tuple<>>>);
  CHECK(none.done());
}

TEST_CASE("when_any returns the first of 100 futures to be done", "[when][when_any]") {
  std::vector<concur::Promise<int>> promises(100);
  std::vector<concur::Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  auto any = concur::when_any(futures);
  STATIC_REQUIRE(
      std::is_same_v<decltype(any), concur::Future<concur::WhenAny<concur::Future<int>>>>);
  CHECK_FALSE(any.done());
  promises[57].set_result(570);
  REQUIRE(any.done());
  for (std::size_t k = 0; k < promises.size(); ++k) {
    if (k != 57) promises[k].set_result(static_cast<int>(k));  // later ones change nothing
  }
  const concur::WhenAny<concur::Future<int>>& first = any.result();
  CHECK(first.index == 57);
  CHECK(first.future == futures[57]);
  CHECK(first.future.result() == 570);
}

TEST_CASE("when_any of inputs already done picks the first of them in input order",
          "[when][when_any]") {
  concur::Promise<int> pending;
  concur::Promise<int> second;
  concur::Promise<int> third;
  third.set_result(3);
  second.set_exception(std::make_exception_ptr(TestError("done by failing")));
  auto any = concur::when_any(pending.get_future(), second.get_future(), third.get_future());
  REQUIRE(any.done());
  CHECK(any.result().index == 1);
  CHECK_THROWS_AS(any.result().future.result(), TestError);
  pending.set_result(0);
}

TEST_CASE("when_any of mixed types yields an AnyFuture, of one type a Future<T>",
          "[when][when_any]") {
  concur::Promise<int> ints;
  concur::Promise<std::string> strings;
  auto mixed = concur::when_any(ints.get_future(), strings.get_future());
  STATIC_REQUIRE(
      std::is_same_v<decltype(mixed), concur::Future<concur::WhenAny<concur::AnyFuture>>>);
  auto same = concur::when_any(ints.get_future(), ints.get_future());
  STATIC_REQUIRE(
      std::is_same_v<decltype(same), concur::Future<concur::WhenAny<concur::Future<int>>>>);
  REQUIRE(strings.get_future().cancel());
  REQUIRE(mixed.done());
  CHECK(mixed.result().index == 1);
  CHECK(mixed.result().future.cancelled());
  CHECK(mixed.result().future == concur::AnyFuture(strings.get_future()));
  CHECK_FALSE(same.done());
  ints.set_result(1);
  CHECK(same.result().index == 0);  // a duplicated input: its first position
}

TEST_CASE("when_any of an empty range throws std::invalid_argument", "[when][when_any]") {
  CHECK_THROWS_AS(concur::when_any(std::vector<concur::Future<int>>{}), std::invalid_argument);
}

TEST_CASE("when_all and when_any refuse an empty handle", "[when]") {
  concur::Promise<int> p;
  concur::Future<int> empty;
  CHECK_THROWS_AS(concur::when_all(p.get_future(), empty), concur::InvalidStateError);
  CHECK_THROWS_AS(concur::when_any(std::vector<concur::Future<int>>{empty}),
                  concur::InvalidStateError);
  p.set_result(0);
}

TEST_CASE("when_all and when_any block no thread: they work on a pool's only worker",
          "[when][threads]") {
  concur::ThreadPoolExecutor pool(1);
  concur::Promise<int> a;
  concur::Promise<std::string> b;
  // The first task builds the combinators over pending promises and returns; if either waited,
  // the second task, which resolves the promises on the same (only) worker, could never run.
  auto built = pool.submit([&] {
    auto all = concur::when_all(a.get_future(), b.get_future());
    auto any = concur::when_any(a.get_future(), b.get_future());
    auto size = all.then([](const std::tuple<concur::Future<int>, concur::Future<std::string>>& t) {
      return std::get<1>(t).result().size();
    });
    return std::make_tuple(all, any, size);
  });
  auto resolved = pool.submit([&] {
    b.set_result("four");
    a.set_result(1);
  });
  REQUIRE(resolved.wait_for(30s));
  const auto& [all, any, size] = built.result();
  CHECK(std::get<0>(all.result()).result() == 1);
  CHECK(any.result().index == 1);
  CHECK(size.result() == 4);
}

TEST_CASE("when_all and when_any over futures completed from several threads at once",
          "[when][threads]") {
  constexpr std::size_t n = 400;
  std::vector<concur::Promise<int>> promises(n);
  std::vector<concur::Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  auto all = concur::when_all(futures);
  auto any = concur::when_any(futures);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < n; i += 4) promises[i].set_result(static_cast<int>(i));
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(all.done());
  REQUIRE(any.done());
  const std::size_t first = any.result().index;
  REQUIRE(first < n);
  CHECK(any.result().future == futures[first]);
  int sum = 0;
  for (const auto& f : all.result()) sum += f.result();
  CHECK(sum == static_cast<int>(n * (n - 1) / 2));
}
