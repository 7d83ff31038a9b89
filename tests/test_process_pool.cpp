// tests/test_process_pool.cpp - ProcessPoolExecutor: forked workers, codecs, shutdown, resources.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Ported from CPython's Lib/test/test_concurrent_futures/test_process_pool.py
// (ProcessPoolExecutorTest and the ExecutorTest cases it inherits), test_deadlock.py (the cases
// without a crash; workers that die are in test_process_crash.cpp), test_shutdown.py
// (ProcessPoolShutdownTest) and test_init.py (the process pools), plus DESIGN.md
// "ProcessPoolExecutor" and "Codec". Every case is tagged [process]: the TSan builds exclude that
// tag, because TSan cannot follow a fork of a multi-threaded process.
//
// Tasks run in forked worker processes and cannot touch this process's memory. They talk to the
// test through their results and through FIFOs named by path (Fifo, support/process.hpp): a task
// reports that it started by writing a line, and waits until the test "opens the gate" by writing a
// byte. A Fifo is declared after the pool, so when a failed REQUIRE unwinds the test it is closed
// first: tasks still waiting on it read end-of-file and return, and the pool's destructor does not
// hang.
#include <concur/errors.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>
#include <concur/process_pool.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/gate.hpp"
#include "support/process.hpp"
#include "support/tasks.hpp"

using namespace std::chrono_literals;
using namespace concur_test;  // support/process.hpp and support/tasks.hpp

namespace {

constexpr auto kLongWait = kProcessLongWait;  // a hang turns into a failure after this

// Joins a helper thread on every way out of a test; `before_join` releases it first.
class JoinGuard {
 public:
  JoinGuard(std::thread& thread, std::function<void()> before_join)
      : thread_(thread), before_join_(std::move(before_join)) {}
  JoinGuard(const JoinGuard&) = delete;
  JoinGuard& operator=(const JoinGuard&) = delete;
  ~JoinGuard() {
    if (before_join_) before_join_();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread& thread_;
  std::function<void()> before_join_;
};

concur::ProcessPoolOptions pool_options(std::size_t max_workers,
                                        std::size_t max_tasks_per_child = 0) {
  concur::ProcessPoolOptions options;
  options.max_workers = max_workers;
  options.max_tasks_per_child = max_tasks_per_child;
  return options;
}

// ---------------------------------------------------------------------------------------------
// Tasks. Each runs in a worker process.

// pow(base, exponent) modulo a prime: Python's pow over range(40) without big integers.
long long pow_mod(long long base, long long exponent) {
  constexpr long long kPrime = 1'000'000'007;
  long long out = 1;
  for (long long i = 0; i < exponent; ++i) out = out * base % kPrime;
  return out;
}

int absolute(int x) {
  return x < 0 ? -x : x;
}

int divide(int a, int b) {
  if (b == 0) throw std::domain_error("division by zero");
  return a / b;
}

int half_or_throw(int x) {
  if (x % 5 == 3) throw std::domain_error("no half of " + std::to_string(x));
  return x / 2;
}

// Reports its pid to `out`, waits for the gate, returns its pid.
int report_pid_and_wait(const std::string& out, const std::string& gate) {
  send_line(out, std::to_string(self_pid()));
  wait_gate(gate);
  return self_pid();
}

int die_by_sigkill() {
  ::raise(SIGKILL);
  return -1;
}

[[noreturn]] int exit_now(int code) {
  ::_exit(code);
}

struct Tripler {
  int operator()(int x) const { return 3 * x; }
};
static_assert(std::is_empty_v<Tripler>);

std::vector<int> minus_five_to_four() {
  return {-5, -4, -3, -2, -1, 0, 1, 2, 3, 4};
}
const std::vector<int> kAbsolutes{5, 4, 3, 2, 1, 0, 1, 2, 3, 4};

// ---------------------------------------------------------------------------------------------
// Types whose Codec misbehaves on purpose (test_deadlock.py's ErrorAtPickle and ErrorAtUnpickle).

struct EncodeThrows {  // encoding throws, wherever it happens
  int value = 0;
};
struct DecodeThrows {  // decoding throws, wherever it happens
  int value = 0;
};
struct NoCodec {  // deliberately without a Codec
  int value = 0;
};

// Sends "destroyed" to its Fifo when the last armed copy dies in a worker process
// (test_ressources_gced_in_workers). Moving disarms the source, so one armed object exists at a
// time on each side; objects in the test process never send.
struct Tracked {
  std::string fifo;
  bool armed = true;

  explicit Tracked(std::string path) : fifo(std::move(path)) {}
  Tracked(const Tracked&) = default;
  Tracked(Tracked&& other) noexcept : fifo(other.fifo), armed(std::exchange(other.armed, false)) {}
  Tracked& operator=(const Tracked&) = delete;
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() {
    if (armed && self_pid() != g_test_pid) send_line(fifo, "destroyed");
  }
};

}  // namespace

template <>
struct concur::Codec<EncodeThrows> {
  static void encode(concur::Writer& /*w*/, const EncodeThrows& /*x*/) {
    throw std::runtime_error("EncodeThrows refuses to be encoded");
  }
  static EncodeThrows decode(concur::Reader& r) { return EncodeThrows{r.read<int>()}; }
};

template <>
struct concur::Codec<DecodeThrows> {
  static void encode(concur::Writer& w, const DecodeThrows& x) { w.write(x.value); }
  static DecodeThrows decode(concur::Reader& /*r*/) {
    throw concur::CodecError("DecodeThrows refuses to be decoded");
  }
};

template <>
struct concur::Codec<Tracked> {
  static void encode(concur::Writer& w, const Tracked& x) { w.write(x.fifo); }
  static Tracked decode(concur::Reader& r) { return Tracked(r.read<std::string>()); }
};

namespace {

int take_encode_throws(EncodeThrows x) {
  return x.value;
}
EncodeThrows make_encode_throws(int value) {
  return EncodeThrows{value};
}
int take_decode_throws(DecodeThrows x) {
  return x.value;
}
DecodeThrows make_decode_throws(int value) {
  return DecodeThrows{value};
}
int take_tracked(Tracked t) {
  return static_cast<int>(t.fifo.size());
}

int take_no_codec(NoCodec x) {
  return x.value;
}
NoCodec make_no_codec(int value) {
  return NoCodec{value};
}

}  // namespace

// =============================================================================================
// submit and the callables a worker can run

// test_process_pool.py: ProcessPoolExecutorTest.test_submit (inherited from executor.py)
TEST_CASE("submit runs the call in a worker process and the future holds its result",
          "[process][submit]") {
  concur::ProcessPoolExecutor pool(2);
  REQUIRE(pool.max_workers() == 2);
  concur::Future<long long> f = pool.submit(int_pow, 2, 8);
  REQUIRE(f.result() == 256);
  const int worker = pool.submit(self_pid).result();
  REQUIRE(worker > 0);
  REQUIRE(worker != self_pid());
}

TEST_CASE("submit takes function pointers, captureless lambdas and empty function objects",
          "[process][submit]") {
  concur::ProcessPoolExecutor pool(2);

  SECTION("a function named directly") {
    REQUIRE(pool.submit(square, 7).result() == 49);
  }
  SECTION("the address of a function") {
    REQUIRE(pool.submit(&mul, 6, 7).result() == 42);
  }
  SECTION("a function pointer variable") {
    int (*fn)(int) = absolute;
    REQUIRE(pool.submit(fn, -8).result() == 8);
  }
  SECTION("a captureless lambda, run in the worker") {
    auto f = pool.submit([](int a, int b) { return std::make_pair(a - b, self_pid()); }, 10, 4);
    const auto [value, pid] = f.result();
    REQUIRE(value == 6);
    REQUIRE(pid != self_pid());
  }
  SECTION("a captureless generic lambda") {
    REQUIRE(pool.submit([](auto x) { return x + x; }, std::string("ab")).result() == "abab");
  }
  SECTION("an empty function object") {
    REQUIRE(pool.submit(Tripler{}, 5).result() == 15);
  }
  SECTION("a void function") {
    Fifo out;
    concur::Future<void> f = pool.submit(send_line, out.path(), std::string("the void task ran"));
    f.result();
    REQUIRE(out.read_line(kLongWait) == std::optional<std::string>("the void task ran"));
  }
}

// executor.py: ExecutorTest.test_max_workers_negative (a std::size_t cannot be negative; 0 means
// the default, DESIGN.md "ProcessPoolExecutor")
TEST_CASE("max_workers 0 means hardware_concurrency", "[process][workers]") {
  const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  SECTION("the size_t constructor") {
    concur::ProcessPoolExecutor pool;
    REQUIRE(pool.max_workers() == cpus);
  }
  SECTION("the options constructor") {
    concur::ProcessPoolExecutor pool(pool_options(0));
    REQUIRE(pool.max_workers() == cpus);
    REQUIRE(pool.submit(square, 4).result() == 16);
  }
}

// C++ only (Python pickles any picklable callable; here the callable must be forkable and every
// argument and result must have a Codec).
TEST_CASE("arguments and results cross as string, vector, map, tuple and optional",
          "[process][codec]") {
  concur::ProcessPoolExecutor pool(2);

  SECTION("each type echoed by a worker comes back equal") {
    const auto echo = [](auto value) { return std::make_pair(value, self_pid()); };
    auto check = [&pool, echo](const auto& value) {
      const auto [back, pid] = pool.submit(echo, value).result();
      CHECK(back == value);
      CHECK(pid != self_pid());
    };
    check(std::string());
    check(std::string("plain text"));
    static const char kBinary[] = "embedded\0nul and bytes \xff\x01";
    check(std::string(kBinary, sizeof kBinary - 1));
    check(std::vector<int>{});
    check(
        std::vector<int>{1, -2, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()});
    check(std::vector<std::string>{"", "a", std::string(1000, 'x')});
    check(std::map<std::string, int>{});
    check(std::map<std::string, std::vector<double>>{{"a", {1.5, -0.0}}, {"b", {}}});
    check(std::tuple<int, std::string, double>{-7, "seven", 7.25});
    check(std::tuple<>{});
    check(std::optional<std::string>{});
    check(std::optional<std::string>("present"));
    check(std::optional<int>(0));
    check(std::vector<std::optional<std::tuple<int, std::string>>>{
        std::nullopt, std::make_tuple(1, std::string("one")), std::nullopt});
    check(std::map<int, std::optional<std::vector<std::string>>>{
        {1, std::nullopt}, {2, std::vector<std::string>{"x", "y"}}});
    check(std::numeric_limits<std::int64_t>::max());
    check(std::numeric_limits<std::uint64_t>::max());
    check(true);
  }

  SECTION("several arguments of different types are transformed in the worker") {
    using Record = std::tuple<int, std::string, double>;
    const auto transform = [](std::string name, std::vector<int> numbers,
                              std::map<std::string, int> counts, Record record,
                              std::optional<std::string> note) {
      for (char& c : name) c = static_cast<char>(c == ' ' ? '_' : c);
      std::reverse(numbers.begin(), numbers.end());
      for (auto& [key, count] : counts) count *= 2;
      std::get<0>(record) += 1;
      std::get<1>(record) += "!";
      std::get<2>(record) *= 2;
      if (note) *note += " (seen)";
      return std::make_tuple(name, numbers, counts, record, note);
    };
    auto f = pool.submit(transform, std::string("a b c"), std::vector<int>{1, 2, 3},
                         std::map<std::string, int>{{"x", 1}, {"y", 5}}, Record{41, "hi", 1.25},
                         std::optional<std::string>("note"));
    const auto& [name, numbers, counts, record, note] = f.result();
    REQUIRE(name == "a_b_c");
    REQUIRE(numbers == std::vector<int>{3, 2, 1});
    REQUIRE(counts == std::map<std::string, int>{{"x", 2}, {"y", 10}});
    REQUIRE(record == Record{42, "hi!", 2.5});
    REQUIRE(note == std::optional<std::string>("note (seen)"));
  }
}

// =============================================================================================
// Through Executor&

// executor.py: ExecutorTest.test_submit and test_map, through the abstract base
TEST_CASE("submit, map and shutdown work through Executor& and std::unique_ptr<Executor>",
          "[process][executor]") {
  std::unique_ptr<concur::Executor> owner =
      std::make_unique<concur::ProcessPoolExecutor>(std::size_t{2});
  concur::Executor& ex = *owner;
  REQUIRE(ex.submit(square, 12).result() == 144);
  REQUIRE(ex.submit([](int x) { return x + 1; }, 1).result() == 2);
  REQUIRE(ex.submit(Tripler{}, 2).result() == 6);
  auto results = ex.map(absolute, minus_five_to_four());
  REQUIRE(std::vector<int>(results.begin(), results.end()) == kAbsolutes);
  ex.shutdown();
  REQUIRE_THROWS_AS(ex.submit(square, 1), concur::ShutdownError);
  owner.reset();
}

// DESIGN.md "Executor": through Executor&, a call the process pool cannot run makes submit throw
// a concur::Error and queues nothing.
TEST_CASE("through Executor& a lambda with captures makes submit throw and queues nothing",
          "[process][executor]") {
  concur::ProcessPoolExecutor pool(1);
  concur::Executor& ex = pool;
  Fifo ran;
  const std::string path = ran.path();

  SECTION("captured by copy") {
    REQUIRE_THROWS_AS(ex.submit([path] {
      send_line(path, "the capturing lambda ran");
      return 1;
    }),
                      concur::Error);
  }
  SECTION("captured by reference") {
    int calls = 0;
    REQUIRE_THROWS_AS(ex.submit([&calls, &path] {
      send_line(path, "the capturing lambda ran");
      return ++calls;
    }),
                      concur::Error);
  }
  SECTION("the message names submit") {
    REQUIRE_THROWS_WITH(ex.submit([path] { return path.size(); }),
                        concur_test::ContainsSubstring("submit"));
  }

  // The pool still works, and what was refused never ran anywhere.
  REQUIRE(ex.submit(square, 9).result() == 81);
  auto results = ex.map(square, std::vector<int>{1, 2, 3});
  REQUIRE(std::vector<int>(results.begin(), results.end()) == std::vector<int>{1, 4, 9});
  pool.shutdown();  // every call that was queued has ended
  REQUIRE_FALSE(ran.read_line(0ms).has_value());
}

// DESIGN.md "ProcessPoolExecutor": arguments and results cross through Codec<T>; through
// Executor& a missing Codec is a run-time concur::Error instead of a compile-time one.
TEST_CASE("through Executor& an argument or a result without a Codec makes submit throw",
          "[process][executor][codec]") {
  STATIC_REQUIRE(!concur::has_codec_v<NoCodec>);
  concur::ProcessPoolExecutor pool(1);
  concur::Executor& ex = pool;
  SECTION("an argument") {
    REQUIRE_THROWS_AS(ex.submit(take_no_codec, NoCodec{3}), concur::Error);
  }
  SECTION("a result") {
    REQUIRE_THROWS_AS(ex.submit(make_no_codec, 3), concur::Error);
  }
  REQUIRE(ex.submit(square, 4).result() == 16);
}

// =============================================================================================
// Exceptions thrown in a worker

namespace {

enum class Thrown {
  invalid_argument,
  out_of_range,
  runtime_error,
  logic_error,
  bad_alloc,
  domain_error,
  length_error,
  range_error,
  overflow_error,
  underflow_error,
  exception,
};

void throw_standard(Thrown kind, const std::string& what) {
  switch (kind) {
    case Thrown::invalid_argument:
      throw std::invalid_argument(what);
    case Thrown::out_of_range:
      throw std::out_of_range(what);
    case Thrown::runtime_error:
      throw std::runtime_error(what);
    case Thrown::logic_error:
      throw std::logic_error(what);
    case Thrown::bad_alloc:
      throw std::bad_alloc();
    case Thrown::domain_error:
      throw std::domain_error(what);
    case Thrown::length_error:
      throw std::length_error(what);
    case Thrown::range_error:
      throw std::range_error(what);
    case Thrown::overflow_error:
      throw std::overflow_error(what);
    case Thrown::underflow_error:
      throw std::underflow_error(what);
    case Thrown::exception:
      throw std::exception();
  }
}

// The exception the same throw produces in this process: the expected type and what().
std::exception_ptr thrown_here(Thrown kind, const std::string& what) {
  try {
    throw_standard(kind, what);
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

namespace inventory {
struct OutOfStock : std::exception {
  const char* what() const noexcept override { return "only 3 widgets left"; }
};
struct PriceChanged : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace inventory

enum class UserThrown { out_of_stock, price_changed, an_int };

int throw_user(UserThrown kind) {
  switch (kind) {
    case UserThrown::out_of_stock:
      throw inventory::OutOfStock();
    case UserThrown::price_changed:
      throw inventory::PriceChanged("the price is now 12");
    case UserThrown::an_int:
      throw 42;
  }
  return 0;
}

enum class OwnThrown { timeout, invalid_state, codec, shutdown, remote, worker_crashed };

int throw_own(OwnThrown kind) {
  switch (kind) {
    case OwnThrown::timeout:
      throw concur::TimeoutError("the task timed out on its own");
    case OwnThrown::invalid_state:
      throw concur::InvalidStateError("the task found a bad state");
    case OwnThrown::codec:
      throw concur::CodecError("the task could not decode its input");
    case OwnThrown::shutdown:
      throw concur::ShutdownError("the task found its pool shut down");
    case OwnThrown::remote:
      throw concur::RemoteError("billing::Declined", "card declined");
    case OwnThrown::worker_crashed:
      throw concur::WorkerCrashedError(4711, -1, 9, "a nested pool's worker was killed");
  }
  return 0;
}

}  // namespace

// test_process_pool.py: ProcessPoolExecutorTest.test_traceback;
// test_deadlock.py: ExecutorDeadlockTest.test_error_during_func_exec_on_worker
TEST_CASE("standard exceptions thrown in a worker arrive as themselves with their what()",
          "[process][exceptions]") {
  const Thrown kind = GENERATE(Thrown::invalid_argument, Thrown::out_of_range,
                               Thrown::runtime_error, Thrown::logic_error, Thrown::bad_alloc,
                               Thrown::domain_error, Thrown::length_error, Thrown::range_error,
                               Thrown::overflow_error, Thrown::underflow_error, Thrown::exception);
  const std::string what = "thrown in the worker, kind " + std::to_string(static_cast<int>(kind));
  concur::ProcessPoolExecutor pool(1);
  concur::Future<void> f = pool.submit(throw_standard, kind, what);
  const std::exception_ptr got = f.exception();
  const std::exception_ptr expected = thrown_here(kind, what);
  INFO("got " << describe(got) << ", expected " << describe(expected));
  REQUIRE(got);
  try {
    std::rethrow_exception(got);
  } catch (const std::exception& e) {
    try {
      std::rethrow_exception(expected);
    } catch (const std::exception& want) {
      CHECK(std::string(typeid(e).name()) == typeid(want).name());
      CHECK(std::string(e.what()) == want.what());
    }
  } catch (...) {
    FAIL("the worker's exception arrived as something not derived from std::exception");
  }
  // The worker survived its exception: the pool keeps serving.
  REQUIRE(pool.submit(square, 3).result() == 9);
}

// DESIGN.md "ProcessPoolExecutor": other types arrive as RemoteError naming the type.
TEST_CASE("a user exception thrown in a worker arrives as RemoteError naming its type",
          "[process][exceptions]") {
  concur::ProcessPoolExecutor pool(1);

  SECTION("a type derived from std::exception") {
    auto f = pool.submit(throw_user, UserThrown::out_of_stock);
    REQUIRE_THROWS_AS(f.result(), concur::RemoteError);
    try {
      f.result();
    } catch (const concur::RemoteError& e) {
      CHECK_THAT(e.type_name(), concur_test::ContainsSubstring("inventory::OutOfStock"));
      CHECK(std::string(e.what()) == "only 3 widgets left");
    }
  }
  SECTION("a user type derived from std::runtime_error") {
    auto f = pool.submit(throw_user, UserThrown::price_changed);
    REQUIRE_THROWS_AS(f.result(), concur::RemoteError);
    try {
      f.result();
    } catch (const concur::RemoteError& e) {
      CHECK_THAT(e.type_name(), concur_test::ContainsSubstring("inventory::PriceChanged"));
      CHECK(std::string(e.what()) == "the price is now 12");
    }
  }
  SECTION("a thrown int") {
    auto f = pool.submit(throw_user, UserThrown::an_int);
    REQUIRE_THROWS_AS(f.result(), concur::RemoteError);
    try {
      f.result();
    } catch (const concur::RemoteError& e) {
      CHECK_THAT(e.type_name(), concur_test::ContainsSubstring("int"));
    }
  }
  REQUIRE(pool.submit(square, 5).result() == 25);
}

// executor.py: ExecutorTest.test_map_timeout_from_callable (a TimeoutError raised by the call is
// that call's exception)
TEST_CASE("concur errors thrown in a worker arrive as themselves with their what()",
          "[process][exceptions]") {
  concur::ProcessPoolExecutor pool(1);
  SECTION("TimeoutError") {
    REQUIRE_THROWS_AS(pool.submit(throw_own, OwnThrown::timeout).result(), concur::TimeoutError);
    REQUIRE_THROWS_WITH(pool.submit(throw_own, OwnThrown::timeout).result(),
                        "the task timed out on its own");
    auto results = pool.map(throw_own, std::vector<OwnThrown>{OwnThrown::timeout});
    REQUIRE_THROWS_AS(*results.begin(), concur::TimeoutError);
  }
  SECTION("InvalidStateError") {
    REQUIRE_THROWS_AS(pool.submit(throw_own, OwnThrown::invalid_state).result(),
                      concur::InvalidStateError);
  }
  SECTION("CodecError") {
    REQUIRE_THROWS_AS(pool.submit(throw_own, OwnThrown::codec).result(), concur::CodecError);
    REQUIRE_THROWS_WITH(pool.submit(throw_own, OwnThrown::codec).result(),
                        "the task could not decode its input");
  }
  SECTION("ShutdownError") {
    REQUIRE_THROWS_AS(pool.submit(throw_own, OwnThrown::shutdown).result(), concur::ShutdownError);
  }
  SECTION("RemoteError (from a nested pool) keeps its type name") {
    auto f = pool.submit(throw_own, OwnThrown::remote);
    REQUIRE_THROWS_AS(f.result(), concur::RemoteError);
    try {
      f.result();
    } catch (const concur::RemoteError& e) {
      CHECK(e.type_name() == "billing::Declined");
      CHECK(std::string(e.what()) == "card declined");
    }
  }
  SECTION("WorkerCrashedError (from a nested pool)") {
    auto f = pool.submit(throw_own, OwnThrown::worker_crashed);
    INFO("the call ended with " << describe(f.exception()));
    REQUIRE_THROWS_AS(f.result(), concur::WorkerCrashedError);
    REQUIRE_THROWS_WITH(f.result(), "a nested pool's worker was killed");
  }
}

// =============================================================================================
// map

// test_process_pool.py: test_map and test_map_chunksize (executor.py and ProcessPoolExecutorTest)
TEST_CASE("map returns what the plain loop would for every chunksize", "[process][map]") {
  concur::ProcessPoolExecutor pool(2);
  std::vector<long long> xs(40);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<long long>(i);
  std::vector<long long> expected;
  for (long long x : xs) expected.push_back(pow_mod(x, x));

  const std::size_t chunksize = GENERATE(std::size_t{1}, 3, 6, 40, 50);
  concur::MapOptions options;
  options.chunksize = chunksize;
  auto results = pool.map(pow_mod, xs, xs, options);
  REQUIRE(std::vector<long long>(results.begin(), results.end()) == expected);

  concur::MapOptions zero;
  zero.chunksize = 0;
  REQUIRE_THROWS_AS(pool.map(pow_mod, xs, xs, zero), std::invalid_argument);
}

// executor.py: ExecutorTest.test_map_exception
TEST_CASE("map rethrows a worker's exception at its position and iteration goes on",
          "[process][map][exceptions]") {
  concur::ProcessPoolExecutor pool(2);
  const std::size_t chunksize = GENERATE(std::size_t{1}, 3);
  concur::MapOptions options;
  options.chunksize = chunksize;
  auto results =
      pool.map(divide, std::vector<int>{1, 1, 1, 1}, std::vector<int>{2, 3, 0, 5}, options);
  auto it = results.begin();
  REQUIRE(*it == 0);
  ++it;
  REQUIRE(*it == 0);
  ++it;
  REQUIRE_THROWS_AS(*it, std::domain_error);
  REQUIRE_THROWS_WITH(*it, "division by zero");
  ++it;
  REQUIRE(*it == 0);
  ++it;
  REQUIRE(it == results.end());
}

// C++ only: map over many items keeps input order across chunks and a bounded buffer.
TEST_CASE("map over 1000 items keeps input order for chunksize 1 and 7 with and without buffersize",
          "[process][map]") {
  const std::size_t chunksize = GENERATE(std::size_t{1}, 7);
  const std::optional<std::size_t> buffersize =
      GENERATE(std::optional<std::size_t>{}, std::optional<std::size_t>{16});
  concur::ProcessPoolExecutor pool(2);
  std::vector<int> xs(1000);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<int>(i) - 500;
  concur::MapOptions options;
  options.chunksize = chunksize;
  options.buffersize = buffersize;
  auto results = pool.map(square_and_pid, xs, options);
  std::size_t i = 0;
  std::set<int> pids;
  for (const auto& [value, pid] : results) {
    REQUIRE(i < xs.size());
    REQUIRE(value == xs[i] * xs[i]);
    pids.insert(pid);
    ++i;
  }
  REQUIRE(i == xs.size());
  REQUIRE(pids.count(self_pid()) == 0);
  REQUIRE(pids.size() <= 2);
}

// executor.py: ExecutorTest.test_map_timeout
TEST_CASE("map's timeout throws TimeoutError at a call still running when it expires",
          "[process][map][timeout]") {
  concur::ProcessPoolExecutor pool(2);
  Fifo started;
  Fifo gate;
  const auto block_on_negative = [](int x, std::string out, std::string gate_path) {
    if (x < 0) {
      send_line(out, "blocked");
      wait_gate(gate_path);
    }
    return x;
  };
  const auto start = std::chrono::steady_clock::now();
  concur::MapOptions options;
  options.timeout = std::chrono::seconds(3);
  auto results = pool.map(block_on_negative, std::vector<int>{0, 0, -1},
                          std::vector<std::string>(3, started.path()),
                          std::vector<std::string>(3, gate.path()), options);
  std::vector<int> got;
  bool timed_out = false;
  for (auto it = results.begin(); it != results.end(); ++it) {
    try {
      got.push_back(*it);
    } catch (const concur::TimeoutError&) {
      timed_out = true;
      break;
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  gate.open_gate();
  REQUIRE(timed_out);
  REQUIRE(got == std::vector<int>{0, 0});
  REQUIRE(elapsed >= 3s);  // counted from the map call, so never before
  REQUIRE(started.read_line(kLongWait) == std::optional<std::string>("blocked"));
}

// executor.py: ExecutorTest.test_shutdown_race_issue12456
TEST_CASE("shutdown right after a process-pool map with more items than workers runs them all",
          "[process][map][shutdown]") {
  concur::ProcessPoolExecutor pool(2);
  auto results = pool.map(square, std::vector<int>{2, 2, 2});
  pool.shutdown();
  REQUIRE(std::vector<int>(results.begin(), results.end()) == std::vector<int>{4, 4, 4});
}

// =============================================================================================
// Many callers

// test_deadlock.py: test_gh105829_should_not_deadlock_if_wakeup_pipe_full (many submits while the
// pool is busy must not block on an internal pipe), at a larger scale and from several threads.
TEST_CASE("1000 calls submitted from 4 threads all complete with the right results",
          "[process][threads]") {
  concur::ProcessPoolExecutor pool(2);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::vector<std::vector<concur::Future<int>>> futures(kThreads);
  std::vector<int> submit_failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&pool, &futures, &submit_failures, t] {
      for (int i = 0; i < kPerThread; ++i) {
        try {
          futures[static_cast<std::size_t>(t)].push_back(pool.submit(mul, t + 1, i));
        } catch (...) {
          ++submit_failures[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    const auto& mine = futures[static_cast<std::size_t>(t)];
    REQUIRE(submit_failures[static_cast<std::size_t>(t)] == 0);
    REQUIRE(mine.size() == static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      REQUIRE(mine[static_cast<std::size_t>(i)].result() == (t + 1) * i);
    }
  }
}

// =============================================================================================
// Workers: how many, reuse, initializer, max_tasks_per_child

// test_process_pool.py: ProcessPoolExecutorTest.test_idle_process_reuse_one and
// test_idle_process_reuse_multiple
TEST_CASE("consecutive calls reuse the worker processes instead of starting new ones",
          "[process][workers]") {
  SECTION("one worker") {
    concur::ProcessPoolExecutor pool(1);
    const int first = pool.submit(self_pid).result();
    REQUIRE(pool.submit(self_pid).result() == first);
    REQUIRE(pool.submit(self_pid).result() == first);
    REQUIRE(pool.worker_pids() == std::vector<int>{first});
  }
  SECTION("two workers, some calls waited for and some not") {
    concur::ProcessPoolExecutor pool(2);
    std::set<int> pids;
    pids.insert(pool.submit(self_pid).result());
    auto a = pool.submit(self_pid);
    pids.insert(pool.submit(self_pid).result());
    auto b = pool.submit(self_pid);
    pids.insert(pool.submit(self_pid).result());
    auto c = pool.submit(self_pid);
    pids.insert(a.result());
    pids.insert(b.result());
    pids.insert(c.result());
    REQUIRE(pids.size() <= 2);
  }
}

// test_process_pool.py: ProcessPoolExecutorTest.test_saturation;
// test_shutdown.py: ProcessPoolShutdownTest.test_processes_terminate
TEST_CASE("a saturated pool runs exactly max_workers worker processes", "[process][workers]") {
  const std::size_t workers = GENERATE(std::size_t{1}, 2, 3);
  const int jobs = 5 * static_cast<int>(workers);
  concur::ProcessPoolExecutor pool(workers);
  Fifo started;
  Fifo gate;
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < jobs; ++i) {
    futures.push_back(pool.submit(report_pid_and_wait, started.path(), gate.path()));
  }
  std::set<int> running;
  for (std::size_t i = 0; i < workers; ++i) running.insert(started.read_int());
  REQUIRE(running.size() == workers);                   // each blocked call holds its own process
  REQUIRE_FALSE(started.read_line(200ms).has_value());  // and no further process takes one
  std::vector<int> live = pool.worker_pids();
  REQUIRE(live.size() == workers);
  REQUIRE(std::set<int>(live.begin(), live.end()) == running);

  gate.open_gate(static_cast<std::size_t>(jobs));
  std::set<int> ran_in;
  for (auto& f : futures) ran_in.insert(f.result());
  REQUIRE(ran_in == running);

  std::vector<ProcId> ids;
  for (int pid : running) {
    const std::optional<ProcId> id = identify(pid);
    REQUIRE(id.has_value());
    ids.push_back(*id);
  }
  pool.shutdown();
  for (const ProcId& id : ids) {
    INFO("worker " << id.pid);
    const std::optional<ProcStat> stat = read_stat(id.pid);
    REQUIRE((!stat || stat->start != id.start || stat->state == 'Z'));  // shutdown() waited
  }
}

namespace {

// Per process: how often the initializer ran in it.
int g_initializer_runs = 0;

void count_initializer_run() {
  ++g_initializer_runs;
}

std::pair<int, int> initializer_runs_and_pid() {
  return {g_initializer_runs, self_pid()};
}

std::pair<int, int> initializer_runs_when_released(const std::string& out,
                                                   const std::string& gate) {
  send_line(out, std::to_string(self_pid()));
  wait_gate(gate);
  return {g_initializer_runs, self_pid()};
}

void initializer_throws() {
  throw std::runtime_error("error in initializer");
}

void initializer_aborts() {
  std::signal(SIGABRT, SIG_DFL);  // Catch2's handler would report a "test failure" from the worker
  std::abort();
}

}  // namespace

// test_init.py: InitializerMixin.test_initializer, as
// ProcessPool{Fork,Forkserver,Spawn}InitializerTest
TEST_CASE("the initializer runs once in every worker process and never in the parent",
          "[process][init]") {
  const int parent_runs = g_initializer_runs;

  SECTION("both workers of a two-worker pool") {
    concur::ProcessPoolOptions options = pool_options(2);
    options.initializer = count_initializer_run;
    concur::ProcessPoolExecutor pool(options);
    Fifo started;
    Fifo gate;
    auto a = pool.submit(initializer_runs_when_released, started.path(), gate.path());
    auto b = pool.submit(initializer_runs_when_released, started.path(), gate.path());
    started.read_int();
    started.read_int();  // both calls run at once: two processes
    gate.open_gate(2);
    const auto [runs_a, pid_a] = a.result();
    const auto [runs_b, pid_b] = b.result();
    REQUIRE(pid_a != pid_b);
    REQUIRE(runs_a == 1);
    REQUIRE(runs_b == 1);
  }
  SECTION("every worker replacing a crashed one") {
    concur::ProcessPoolOptions options = pool_options(1);
    options.initializer = count_initializer_run;
    concur::ProcessPoolExecutor pool(options);
    std::set<int> pids;
    for (int i = 0; i < 3; ++i) {
      const auto [runs, pid] = pool.submit(initializer_runs_and_pid).result();
      REQUIRE(runs == 1);
      pids.insert(pid);
      REQUIRE_THROWS_AS(pool.submit(die_by_sigkill).result(), concur::WorkerCrashedError);
    }
    REQUIRE(pids.size() == 3);
  }
  SECTION("every worker replacing one retired by max_tasks_per_child") {
    concur::ProcessPoolOptions options = pool_options(1, 1);
    options.initializer = count_initializer_run;
    concur::ProcessPoolExecutor pool(options);
    std::set<int> pids;
    for (int i = 0; i < 4; ++i) {
      const auto [runs, pid] = pool.submit(initializer_runs_and_pid).result();
      REQUIRE(runs == 1);
      pids.insert(pid);
    }
    REQUIRE(pids.size() == 4);
  }
  REQUIRE(g_initializer_runs == parent_runs);
}

// test_init.py: FailingInitializerMixin.test_initializer, as
// ProcessPool{Fork,Forkserver,Spawn}FailingInitializerTest
TEST_CASE("an initializer that throws or aborts breaks the pool with BrokenProcessPool",
          "[process][init]") {
  const bool aborts = GENERATE(false, true);
  const std::set<ProcId> before = descendants();
  {
    concur::ProcessPoolOptions options = pool_options(2);
    options.initializer = aborts ? initializer_aborts : initializer_throws;
    concur::ProcessPoolExecutor pool(options);
    try {
      concur::Future<int> f = pool.submit(square, 2);
      REQUIRE(f.wait_for(kLongWait));
      REQUIRE_THROWS_AS(f.result(), concur::BrokenProcessPool);
    } catch (const concur::BrokenProcessPool&) {
      // the pool was already broken: submit said so
    }
    // From then on submit is guaranteed to fail.
    REQUIRE_THROWS_AS(pool.submit(square, 3), concur::BrokenProcessPool);
    REQUIRE_THROWS_AS(pool.map(square, std::vector<int>{1, 2}), concur::BrokenProcessPool);
    pool.shutdown();
  }
  REQUIRE(new_since(before, descendants()).empty());
}

// test_process_pool.py: ProcessPoolExecutorTest.test_max_tasks_per_child
TEST_CASE("max_tasks_per_child replaces the worker after that many calls", "[process][max_tasks]") {
  concur::ProcessPoolExecutor pool(pool_options(1, 3));
  const int original = pool.submit(self_pid).result();
  REQUIRE(pool.submit(self_pid).result() == original);
  REQUIRE(pool.submit(self_pid).result() == original);
  const int replacement = pool.submit(self_pid).result();
  REQUIRE(replacement != original);
  REQUIRE(pool.worker_pids().size() == 1);
}

// C++ only (DESIGN.md "ProcessPoolExecutor": max_tasks_per_child).
TEST_CASE("with max_tasks_per_child 2 no worker runs more than 2 calls and every call succeeds",
          "[process][max_tasks]") {
  SECTION("one worker, calls one after another: pids come in pairs") {
    concur::ProcessPoolExecutor pool(pool_options(1, 2));
    std::vector<int> pids;
    for (int i = 0; i < 6; ++i) {
      const auto [value, pid] = pool.submit(square_and_pid, i).result();
      REQUIRE(value == i * i);
      pids.push_back(pid);
    }
    REQUIRE(pids[0] == pids[1]);
    REQUIRE(pids[2] == pids[3]);
    REQUIRE(pids[4] == pids[5]);
    REQUIRE(std::set<int>(pids.begin(), pids.end()).size() == 3);
  }
  SECTION("two workers, all calls at once") {
    // Every worker runs at most 2 calls, so 20 calls need at least ceil(20 / 2) = 10 processes.
    // (A pid could only repeat across workers if the system reused it within the test.)
    constexpr int kCalls = 20;
    concur::ProcessPoolExecutor pool(pool_options(2, 2));
    std::vector<concur::Future<std::pair<int, int>>> futures;
    for (int i = 0; i < kCalls; ++i) futures.push_back(pool.submit(square_and_pid, i));
    std::map<int, int> calls_per_pid;
    for (int i = 0; i < kCalls; ++i) {
      const auto [value, pid] = futures[static_cast<std::size_t>(i)].result();
      REQUIRE(value == i * i);
      ++calls_per_pid[pid];
    }
    for (const auto& [pid, calls] : calls_per_pid) {
      INFO("worker " << pid);
      REQUIRE(calls <= 2);
    }
    REQUIRE(calls_per_pid.size() >= std::size_t{kCalls / 2});
  }
}

// test_process_pool.py: ProcessPoolExecutorTest.test_max_tasks_per_child_pending_tasks_gh115634
TEST_CASE("max_tasks_per_child with more queued calls than workers runs them all",
          "[process][max_tasks]") {
  const auto [workers, max_tasks, calls] =
      GENERATE(std::make_tuple(std::size_t{1}, std::size_t{2}, 6),
               std::make_tuple(std::size_t{2}, std::size_t{2}, 8));
  concur::ProcessPoolExecutor pool(pool_options(workers, max_tasks));
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < calls; ++i) futures.push_back(pool.submit(mul, i, 2));
  for (int i = 0; i < calls; ++i) {
    auto& f = futures[static_cast<std::size_t>(i)];
    const bool done = f.wait_for(kLongWait);
    if (!done) pool.shutdown(false, true);  // no hang in the destructor if this regresses
    REQUIRE(done);
    REQUIRE(f.result() == i * 2);
  }
}

// test_process_pool.py: ProcessPoolExecutorTest.test_max_tasks_early_shutdown
TEST_CASE("shutdown right after submitting to one-call workers runs every call",
          "[process][max_tasks][shutdown]") {
  concur::ProcessPoolExecutor pool(pool_options(3, 1));
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 6; ++i) futures.push_back(pool.submit(mul, i, i));
  pool.shutdown();
  for (int i = 0; i < 6; ++i) REQUIRE(futures[static_cast<std::size_t>(i)].result() == i * i);
}

// test_process_pool.py: ProcessPoolExecutorTest.test_shutdown_no_wait_max_tasks_gh119592 and
// test_gc_during_max_tasks_worker_exit_gh152967. C++ has no garbage collector: "dropping the
// reference" is destroying the pool, whose destructor waits for every call (shutdown(true)), so
// the queued calls must still run in replacement workers.
TEST_CASE("a worker retiring at max_tasks_per_child after shutdown is still replaced",
          "[process][max_tasks][shutdown]") {
  const bool shutdown_first = GENERATE(true, false);
  const bool destroy = GENERATE(false, true);
  std::optional<concur::ProcessPoolExecutor> pool(std::in_place, pool_options(1, 1));
  Fifo started;
  Fifo gate;
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 3; ++i) {
    futures.push_back(pool->submit(report_and_wait, started.path(), gate.path(), i));
  }
  REQUIRE(started.read_int() == 0);  // the worker is inside its only call
  if (shutdown_first) pool->shutdown(false);
  std::thread destroyer;
  JoinGuard join_destroyer(destroyer, nullptr);
  if (destroy) destroyer = std::thread([&pool] { pool.reset(); });
  gate.open_gate(3);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(futures[static_cast<std::size_t>(i)].wait_for(kLongWait));
    REQUIRE(futures[static_cast<std::size_t>(i)].result() == i);
  }
}

// test_process_pool.py: ProcessPoolExecutorTest.test_force_shutdown_during_max_tasks_worker_exit
TEST_CASE("terminate_workers or kill_workers while a worker retires starts no replacement",
          "[process][max_tasks][terminate]") {
  const bool use_terminate = GENERATE(true, false);
  const std::set<ProcId> before = descendants();
  {
    concur::ProcessPoolExecutor pool(pool_options(1, 1));
    Fifo started;
    Fifo gate;
    std::vector<concur::Future<int>> futures;
    for (int i = 0; i < 3; ++i) {
      futures.push_back(pool.submit(report_and_wait, started.path(), gate.path(), i));
    }
    REQUIRE(started.read_int() == 0);
    if (use_terminate) {
      pool.terminate_workers();
    } else {
      pool.kill_workers();
    }
    gate.open_gate(3);  // a worker that escaped would now finish its call
    for (auto& f : futures) {
      REQUIRE(f.wait_for(kLongWait));
      if (!f.cancelled()) {
        INFO(describe(f.exception()));
        REQUIRE(f.exception() != nullptr);
      }
    }
    REQUIRE_THROWS_AS(futures[0].result(), concur::Error);
    REQUIRE_FALSE(started.read_line(200ms).has_value());  // no queued call started anywhere
  }
  REQUIRE(new_since(before, descendants()).empty());
}

namespace {

int good_task(int n) {
  return n;
}

int failing_task(int /*n*/) {
  throw std::invalid_argument("failing task");
}

}  // namespace

// test_shutdown.py: ProcessPoolShutdownTest.test_shutdown_gh_132969_case_1 and _case_2
TEST_CASE("a failing call under max_tasks_per_child 1 then shutdown(wait=false) ends cleanly",
          "[process][max_tasks][shutdown]") {
  const std::size_t workers = GENERATE(std::size_t{2}, 3);
  concur::ProcessPoolExecutor pool(pool_options(workers, 1));
  auto f1 = pool.submit(good_task, 1);
  auto f2 = pool.submit(failing_task, 2);
  auto f3 = pool.submit(good_task, 3);
  int result = 0;
  try {
    result += f1.result();
    result += f2.result();
    result += f3.result();
  } catch (const std::invalid_argument&) {
    // stop at the first exception, as the Python test does
  }
  REQUIRE(result == 1);
  pool.shutdown(false);
  REQUIRE(f3.wait_for(kLongWait));
  REQUIRE(f3.result() == 3);
}

// =============================================================================================
// task_timeout

// C++ only (DESIGN.md "ProcessPoolExecutor": task_timeout).
TEST_CASE("task_timeout kills an overrunning call with TimeoutError and the pool keeps serving",
          "[process][timeout]") {
  concur::ProcessPoolOptions options = pool_options(1);
  options.task_timeout = std::chrono::milliseconds(300);
  std::optional<ProcId> sleeper;
  {
    concur::ProcessPoolExecutor pool(options);
    Fifo out;
    const auto report_then_sleep = [](std::string path, int seconds) {
      send_line(path, std::to_string(self_pid()));
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
      return self_pid();
    };
    const auto start = std::chrono::steady_clock::now();
    auto slow = pool.submit(report_then_sleep, out.path(), 30);
    const int pid = out.read_int();
    sleeper = identify(pid);
    const bool done = slow.wait_for(15s);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!done) pool.kill_workers();  // no 30 s wait in the destructor if this fails
    REQUIRE(done);
    REQUIRE(elapsed < 10s);
    REQUIRE(elapsed >= 300ms);
    REQUIRE_THROWS_AS(slow.result(), concur::TimeoutError);

    // The next calls succeed, in a new worker.
    for (int i = 0; i < 5; ++i) {
      const auto [value, worker] = pool.submit(square_and_pid, i).result();
      REQUIRE(value == i * i);
      REQUIRE(worker != pid);
    }
    if (sleeper) REQUIRE(wait_exited(*sleeper, kLongWait));  // the overrunning worker was killed
  }
  if (sleeper) REQUIRE_FALSE(exists(*sleeper));
}

// =============================================================================================
// Payloads, descriptors, processes

namespace {

std::string flip_string(std::string s) {
  for (char& c : s) c = static_cast<char>(c ^ 0x5A);
  return s;
}

std::vector<char> flip_vector(std::vector<char> v) {
  for (char& c : v) c = static_cast<char>(c ^ 0x5A);
  return v;
}

template <class Bytes>
Bytes patterned(std::size_t size, bool flipped) {
  Bytes out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    const auto byte = static_cast<unsigned char>((i * 131 + i / 7) & 0xFF);
    out[i] = static_cast<char>(flipped ? (byte ^ 0x5A) : byte);
  }
  return out;
}

template <class Bytes>
std::size_t first_difference(const Bytes& a, const Bytes& b) {
  if (a.size() != b.size()) return std::min(a.size(), b.size());
  return static_cast<std::size_t>(std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin());
}

}  // namespace

// DESIGN.md "ProcessPoolExecutor": payloads far above the pipe buffer.
TEST_CASE("payloads of 50 MB cross each way intact", "[process][codec][large]") {
  constexpr std::size_t kSize = 50u << 20;
  concur::ProcessPoolExecutor pool(1);
  SECTION("std::string") {
    const auto input = patterned<std::string>(kSize, false);
    const auto expected = patterned<std::string>(kSize, true);
    const std::string got = pool.submit(flip_string, input).take();
    REQUIRE(got.size() == kSize);
    REQUIRE(first_difference(got, expected) == kSize);
  }
  SECTION("std::vector<char>") {
    const auto input = patterned<std::vector<char>>(kSize, false);
    const auto expected = patterned<std::vector<char>>(kSize, true);
    const std::vector<char> got = pool.submit(flip_vector, input).take();
    REQUIRE(got.size() == kSize);
    REQUIRE(first_difference(got, expected) == kSize);
  }
  REQUIRE(pool.submit(square, 2).result() == 4);
}

// DESIGN.md "ProcessPoolExecutor": no leaked descriptors.
TEST_CASE("the pool leaves no file descriptor open once destroyed", "[process][resources]") {
  const std::size_t before = open_descriptor_count();
  {
    concur::ProcessPoolExecutor pool(2);
    auto crash = pool.submit(die_by_sigkill);  // its replacement opens a new socket
    REQUIRE_THROWS_AS(crash.result(), concur::WorkerCrashedError);
    std::vector<concur::Future<int>> futures;
    for (int i = 0; i < 10; ++i) futures.push_back(pool.submit(square, i));
    for (int i = 0; i < 10; ++i) REQUIRE(futures[static_cast<std::size_t>(i)].result() == i * i);
    auto results = pool.map(absolute, minus_five_to_four());
    REQUIRE(std::vector<int>(results.begin(), results.end()) == kAbsolutes);
  }
  REQUIRE(open_descriptor_count() == before);
}

// test_shutdown.py: ProcessPoolShutdownTest.test_context_manager_shutdown and test_del_shutdown
TEST_CASE("the destructor runs every call and reaps every process, and a map range outlives it",
          "[process][resources][shutdown]") {
  const std::set<ProcId> before = descendants();
  std::set<ProcId> pool_processes;
  std::optional<concur::ProcessPoolExecutor> pool(std::in_place, std::size_t{3});
  auto results = pool->map(absolute, minus_five_to_four());
  REQUIRE(pool->submit(square, 3).result() == 9);
  pool_processes = new_since(before, descendants());
  REQUIRE_FALSE(pool_processes.empty());
  pool.reset();
  for (const ProcId& id : pool_processes) {
    INFO("process " << id.pid);
    REQUIRE_FALSE(exists(id));  // exited and reaped: not even a zombie is left
  }
  REQUIRE(new_since(before, descendants()).empty());
  REQUIRE(std::vector<int>(results.begin(), results.end()) == kAbsolutes);
}

// DESIGN.md "ProcessPoolExecutor": workers exit when the parent dies.
TEST_CASE("the workers exit when the process that owns the pool dies", "[process][resources]") {
  Fifo out;
  std::cout.flush();
  std::fflush(nullptr);  // the child must not write our buffered output again
  const pid_t owner = ::fork();
  REQUIRE(owner >= 0);
  if (owner == 0) {
    // The owner: a pool with busy workers; reports every process under it, then waits to die.
    try {
      concur::ProcessPoolExecutor pool(2);
      auto a = pool.submit(self_pid);
      auto b = pool.submit(self_pid);
      static_cast<void>(a.result());
      static_cast<void>(b.result());
      for (const ProcId& id : descendants()) send_line(out.path(), std::to_string(id.pid));
      send_line(out.path(), "ready");
      for (;;) ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }
  std::vector<ProcId> orphans;
  for (;;) {
    const std::optional<std::string> line = out.read_line(kLongWait);
    REQUIRE(line.has_value());
    if (*line == "ready") break;
    if (const auto id = identify(std::stoi(*line))) orphans.push_back(*id);
  }
  REQUIRE(::kill(owner, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(owner, &status, 0) == owner);
  REQUIRE_FALSE(orphans.empty());
  std::vector<int> survivors;
  for (const ProcId& id : orphans) {
    if (!wait_exited(id, kLongWait)) survivors.push_back(id.pid);
  }
  for (int pid : survivors) ::kill(pid, SIGKILL);  // do not leave them behind
  INFO("processes still alive " << survivors.size());
  REQUIRE(survivors.empty());
}

// =============================================================================================
// shutdown

// test_shutdown.py: ExecutorShutdownTest.test_run_after_shutdown
TEST_CASE("submit and map after shutdown throw ShutdownError naming submit",
          "[process][shutdown]") {
  concur::ProcessPoolExecutor pool(1);
  const bool wait_for_calls = GENERATE(true, false);
  pool.shutdown(wait_for_calls);
  REQUIRE_THROWS_AS(pool.submit(square, 2), concur::ShutdownError);
  REQUIRE_THROWS_WITH(pool.submit(square, 2), concur_test::ContainsSubstring("submit"));
  REQUIRE_THROWS_AS(pool.map(square, std::vector<int>{1, 2}), concur::ShutdownError);
  pool.shutdown();  // idempotent
}

// test_shutdown.py: ExecutorShutdownTest.test_hang_issue12364
TEST_CASE("shutdown(wait=true) waits for every queued call", "[process][shutdown]") {
  concur::ProcessPoolExecutor pool(2);
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 30; ++i) futures.push_back(pool.submit(square, i));
  pool.shutdown();
  for (int i = 0; i < 30; ++i) {
    REQUIRE(futures[static_cast<std::size_t>(i)].done());
    REQUIRE(futures[static_cast<std::size_t>(i)].result() == i * i);
  }
}

// test_shutdown.py: ExecutorShutdownTest.test_cancel_futures
TEST_CASE("shutdown with cancel_futures cancels the queued calls and they never run",
          "[process][shutdown]") {
  constexpr int kCalls = 20;
  concur::ProcessPoolExecutor pool(1);
  Fifo started;
  Fifo gate;
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < kCalls; ++i) {
    futures.push_back(pool.submit(report_and_wait, started.path(), gate.path(), i));
  }
  REQUIRE(started.read_int() == 0);  // call 0 holds the only worker; the rest are queued
  pool.shutdown(false, true);
  std::set<int> cancelled;
  for (int i = 0; i < kCalls; ++i) {
    if (futures[static_cast<std::size_t>(i)].cancelled()) cancelled.insert(i);
  }
  // Python only promises "many": a few calls may already be on their way to the worker.
  REQUIRE(cancelled.size() >= std::size_t{kCalls / 2});
  REQUIRE(cancelled.count(0) == 0);

  gate.open_gate(kCalls);
  pool.shutdown();
  std::set<int> ran{0};
  for (int i = 0; i < kCalls; ++i) {
    auto& f = futures[static_cast<std::size_t>(i)];
    REQUIRE(f.done());
    if (cancelled.count(i) == 0) {
      REQUIRE(f.result() == i);
      if (i != 0) ran.insert(started.read_int(0ms));
    }
  }
  REQUIRE_FALSE(started.read_line(0ms).has_value());  // a cancelled call never started
  for (int i : ran) REQUIRE(cancelled.count(i) == 0);
  REQUIRE(ran.size() + cancelled.size() == std::size_t{kCalls});
}

// test_shutdown.py: ProcessPoolShutdownTest.test_shutdown_no_wait and
// ExecutorShutdownTest.test_hang_gh83386
TEST_CASE("shutdown(wait=false) returns while a call runs and the destructor still waits for it",
          "[process][shutdown]") {
  const std::set<ProcId> before = descendants();
  std::optional<concur::ProcessPoolExecutor> pool(std::in_place, std::size_t{2});
  Fifo started;
  Fifo gate;
  auto running = pool->submit(report_and_wait, started.path(), gate.path(), 7);
  auto results = pool->map(absolute, minus_five_to_four());
  REQUIRE(started.read_int() == 7);

  // If shutdown(false) wrongly waited for the held call, the fallback opens the gate later and
  // the REQUIRE below fails instead of the test hanging.
  concur_test::Gate returned;
  std::thread fallback([&returned, &gate] {
    if (!returned.wait_for(kLongWait)) static_cast<void>(gate.try_open_gate());
  });
  {
    JoinGuard join_fallback(fallback, [&returned] { returned.open(); });
    pool->shutdown(false);
  }
  REQUIRE_FALSE(running.done());
  gate.open_gate();
  pool.reset();  // waits for the running and the queued calls
  REQUIRE(running.done());
  REQUIRE(running.result() == 7);
  REQUIRE(std::vector<int>(results.begin(), results.end()) == kAbsolutes);
  REQUIRE(new_since(before, descendants()).empty());
}

// test_shutdown.py: ExecutorShutdownTest.test_hang_gh94440
TEST_CASE("shutdown(wait=true) returns after a queued call was cancelled", "[process][shutdown]") {
  concur::ProcessPoolExecutor pool(1);
  REQUIRE(pool.submit(square, 1).result() == 1);
  Fifo started;
  Fifo gate;
  auto running = pool.submit(report_and_wait, started.path(), gate.path(), 5);
  REQUIRE(started.read_int() == 5);
  auto queued = pool.submit(square, 2);
  const bool cancelled = queued.cancel();
  gate.open_gate();
  pool.shutdown();
  REQUIRE(running.result() == 5);
  REQUIRE(queued.done());
  if (cancelled) {
    REQUIRE(queued.cancelled());
  } else {
    REQUIRE(queued.result() == 4);
  }
}

// =============================================================================================
// The fork server

namespace {

// Locked by a thread of the test process started after the pool.
std::mutex g_parent_mutex;

std::pair<int, int> lock_parent_mutex() {
  const std::lock_guard<std::mutex> lock(g_parent_mutex);
  return {7, self_pid()};
}

}  // namespace

// DESIGN.md "ProcessPoolExecutor": replacement workers come from a single-threaded fork server,
// so a lock held by a parent thread started after the pool is never copied into a worker.
TEST_CASE("a replacement worker does not inherit a mutex held by a later parent thread",
          "[process][fork_server]") {
  const bool after_crash = GENERATE(false, true);
  concur::ProcessPoolExecutor pool(pool_options(1, after_crash ? std::size_t{0} : std::size_t{1}));
  concur_test::Gate locked;
  concur_test::Gate release;
  std::thread holder([&locked, &release] {
    const std::lock_guard<std::mutex> lock(g_parent_mutex);
    locked.open();
    release.wait();
  });
  JoinGuard join_holder(holder, [&release] { release.open(); });
  REQUIRE(locked.wait_for(kLongWait));

  // Retire or crash the first worker while the mutex is held: the next call needs a replacement.
  int first = 0;
  if (after_crash) {
    auto crash = pool.submit(die_by_sigkill);
    REQUIRE(crash.wait_for(kLongWait));
    try {
      crash.result();
      FAIL("the call that raised SIGKILL returned");
    } catch (const concur::WorkerCrashedError& e) {
      first = e.pid();
    }
  } else {
    first = pool.submit(self_pid).result();
  }
  auto f = pool.submit(lock_parent_mutex);
  const bool done = f.wait_for(30s);
  if (!done) pool.kill_workers();  // the replacement is stuck on a copy of the locked mutex
  REQUIRE(done);
  const auto [value, pid] = f.result();
  REQUIRE(value == 7);
  REQUIRE(pid != first);
}

// =============================================================================================
// terminate_workers and kill_workers

namespace {

int g_sigterm_fd = -1;  // in a worker: where its SIGTERM handler reports

void report_sigterm(int /*signal*/) {
  static const char kMessage[] = "SIGTERM\n";
  if (::write(g_sigterm_fd, kMessage, sizeof kMessage - 1) < 0) {
    // nothing to do in a signal handler
  }
  ::_exit(0);
}

// Reports its pid, notes a SIGTERM in `out` (a SIGKILL leaves no trace), waits for the gate,
// then reports "finished".
int watch_sigterm_and_wait(const std::string& out, const std::string& gate) {
  g_sigterm_fd = ::open(out.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  struct sigaction action {};
  action.sa_handler = report_sigterm;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  send_line(out, std::to_string(self_pid()));
  wait_gate(gate);
  send_line(out, "finished");
  return self_pid();
}

void force_shutdown(concur::ProcessPoolExecutor& pool, bool terminate) {
  if (terminate) {
    pool.terminate_workers();
  } else {
    pool.kill_workers();
  }
}

}  // namespace

// test_process_pool.py: ProcessPoolExecutorTest.test_force_shutdown_workers,
// test_force_shutdown_workers_stops_pool, test_terminate_workers and test_kill_workers
TEST_CASE("terminate_workers and kill_workers end every worker and fail the running calls",
          "[process][terminate]") {
  const bool use_terminate = GENERATE(true, false);
  const std::set<ProcId> before = descendants();
  std::vector<ProcId> workers;
  {
    concur::ProcessPoolExecutor pool(2);
    Fifo out;
    Fifo gate;
    std::vector<concur::Future<int>> running;
    for (int i = 0; i < 2; ++i) {
      running.push_back(pool.submit(watch_sigterm_and_wait, out.path(), gate.path()));
    }
    std::vector<concur::Future<int>> queued;
    for (int i = 0; i < 3; ++i) queued.push_back(pool.submit(square, i));
    for (int i = 0; i < 2; ++i) {
      const auto id = identify(out.read_int());
      REQUIRE(id.has_value());
      workers.push_back(*id);
    }

    force_shutdown(pool, use_terminate);
    for (const ProcId& id : workers) {
      INFO("worker " << id.pid);
      REQUIRE(wait_exited(id, kLongWait));  // the call itself ends them, not the destructor
    }
    gate.open_gate(2);  // a worker that survived would finish its call now

    for (auto& f : running) {
      REQUIRE(f.wait_for(kLongWait));
      REQUIRE_THROWS_AS(f.result(), concur::Error);
    }
    for (auto& f : queued) {
      REQUIRE(f.wait_for(kLongWait));
      if (!f.cancelled()) {
        INFO(describe(f.exception()));
        REQUIRE(f.exception() != nullptr);
      }
    }
    REQUIRE_THROWS_AS(pool.submit(square, 1), concur::Error);
    if (use_terminate) {
      REQUIRE(out.read_line(kLongWait) == std::optional<std::string>("SIGTERM"));
      REQUIRE(out.read_line(kLongWait) == std::optional<std::string>("SIGTERM"));
    }
    REQUIRE_FALSE(out.read_line(200ms).has_value());  // in particular, no "finished"
  }
  for (const ProcId& id : workers) REQUIRE_FALSE(exists(id));
  REQUIRE(new_since(before, descendants()).empty());
}

// test_process_pool.py: ProcessPoolExecutorTest.test_force_shutdown_workers_dead_workers and
// test_force_shutdown_workers_not_started_yet
TEST_CASE("terminate_workers and kill_workers do not throw on a fresh pool or after a worker died",
          "[process][terminate]") {
  const bool use_terminate = GENERATE(true, false);
  const std::set<ProcId> before = descendants();
  {
    concur::ProcessPoolExecutor pool(1);
    SECTION("a pool that never ran anything") {
      REQUIRE_NOTHROW(force_shutdown(pool, use_terminate));
      REQUIRE_NOTHROW(force_shutdown(pool, use_terminate));
    }
    SECTION("a pool whose worker exited during a call") {
      auto f = pool.submit(exit_now, 1);
      REQUIRE_THROWS_AS(f.result(), concur::WorkerCrashedError);
      REQUIRE_NOTHROW(force_shutdown(pool, use_terminate));
    }
    REQUIRE_THROWS_AS(pool.submit(square, 1), concur::Error);
  }
  REQUIRE(new_since(before, descendants()).empty());
}

// =============================================================================================
// Codecs that fail (test_deadlock.py; the cases where a worker dies are in test_process_crash.cpp)

// test_deadlock.py: ExecutorDeadlockTest.test_error_at_task_pickle and
// test_shutdown_deadlock_pickle
TEST_CASE("an argument whose encoding throws fails that call and the pool keeps working",
          "[process][codec][deadlock]") {
  const bool shutdown_at_once = GENERATE(false, true);
  concur::ProcessPoolExecutor pool(2);
  REQUIRE(pool.submit(square, 6).result() == 36);  // the workers are up
  std::string error;
  try {
    auto f = pool.submit(take_encode_throws, EncodeThrows{1});
    if (shutdown_at_once) pool.shutdown(false);
    REQUIRE(f.wait_for(kLongWait));
    f.result();
  } catch (const std::exception& e) {
    error = e.what();
  }
  REQUIRE_THAT(error, concur_test::ContainsSubstring("EncodeThrows refuses to be encoded"));
  if (!shutdown_at_once) REQUIRE(pool.submit(square, 7).result() == 49);
}

// test_deadlock.py: ExecutorDeadlockTest.test_error_at_task_unpickle,
// test_error_during_result_pickle_on_worker and
// test_error_during_result_unpickle_in_result_handler
TEST_CASE(
    "a Codec that throws while decoding an argument or handling a result fails that call only",
    "[process][codec][deadlock]") {
  concur::ProcessPoolExecutor pool(1);
  SECTION("an argument that throws when the worker decodes it") {
    REQUIRE_THROWS_WITH(pool.submit(take_decode_throws, DecodeThrows{1}).result(),
                        concur_test::ContainsSubstring("DecodeThrows refuses to be decoded"));
  }
  SECTION("a result that throws when the worker encodes it") {
    REQUIRE_THROWS_WITH(pool.submit(make_encode_throws, 1).result(),
                        concur_test::ContainsSubstring("EncodeThrows refuses to be encoded"));
  }
  SECTION("a result that throws when the parent decodes it") {
    REQUIRE_THROWS_WITH(pool.submit(make_decode_throws, 1).result(),
                        concur_test::ContainsSubstring("DecodeThrows refuses to be decoded"));
  }
  for (int i = 0; i < 4; ++i) REQUIRE(pool.submit(square, i).result() == i * i);
}

// test_process_pool.py: ProcessPoolExecutorTest.test_ressources_gced_in_workers
TEST_CASE("a worker destroys a call's arguments once the call is done", "[process][codec]") {
  concur::ProcessPoolExecutor pool(1);
  Fifo out;
  REQUIRE(pool.submit(take_tracked, Tracked(out.path())).result() ==
          static_cast<int>(out.path().size()));
  // No further call is submitted: the worker must not keep the arguments until the next one.
  REQUIRE(out.read_line(kLongWait) == std::optional<std::string>("destroyed"));
}

TEST_CASE("a chunked map in a process pool keeps every call's value or exception",
          "[process][map]") {
  concur::ProcessPoolExecutor pool(2);
  const auto chunksize = GENERATE(std::size_t{1}, 4, 64);
  std::vector<int> xs(100);
  std::iota(xs.begin(), xs.end(), 0);
  int index = 0;
  auto results = pool.map(half_or_throw, xs, concur::MapOptions{.chunksize = chunksize});
  for (auto it = results.begin(); it != results.end(); ++it, ++index) {
    if (index % 5 == 3) {
      REQUIRE_THROWS_AS(*it, std::domain_error);
      REQUIRE_THROWS_WITH(*it, "no half of " + std::to_string(index));
    } else {
      REQUIRE(*it == index / 2);
    }
  }
  REQUIRE(index == 100);
}
