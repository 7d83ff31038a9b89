// tests/test_process_stop.cpp - cooperative stop of calls running in a ProcessPoolExecutor.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// DESIGN.md (beyond) request_stop(): a task whose first parameter is std::stop_token receives
// the token tied to its future; in a process pool the request reaches the worker as a signal,
// and a task that has not stopped stop_grace_period later is killed with its worker: its
// future ends finished, with CancelledError as its exception. Every case is tagged
// [process][stop]; the TSan builds exclude [process]. The thread pool's side is in
// test_stop.cpp.
//
// Tasks talk to the test through FIFOs named by path (Fifo, support/process.hpp; its FIFOs live
// in /tmp/concur-stop-test-*): a task reports its pid, then loops or waits for a gate.
#include <concur/errors.hpp>
#include <concur/future.hpp>
#include <concur/process_pool.hpp>

#include <concur/detail/posix/worker.hpp>

#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
using namespace concur_test;  // support/process.hpp

namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
constexpr auto kLongWait = kProcessLongWait;  // a hang turns into a failure after this

// Reports its pid, then loops until its token is stopped: 42 if it was, -1 if it gave up.
int cooperative(std::stop_token token, std::string out) {
  send_line(out, std::to_string(self_pid()));
  const auto give_up = Clock::now() + kLongWait;
  while (!token.stop_requested()) {
    if (Clock::now() > give_up) return -1;
    ::sched_yield();
  }
  return 42;
}

// Reports its pid, then waits for the gate whatever its token says.
int ignores_token(std::stop_token /*ignored*/, std::string out, std::string gate) {
  send_line(out, std::to_string(self_pid()));
  wait_gate(gate);
  return 7;
}

bool stopped_at_start(std::stop_token token) {
  return token.stop_requested();
}

// Reports its pid, waits for the gate, then says whether its token was stopped.
bool stopped_after_gate(std::stop_token token, std::string out, std::string gate) {
  send_line(out, std::to_string(self_pid()));
  wait_gate(gate);
  return token.stop_requested();
}

concur::ProcessPoolOptions options(std::size_t workers,
                                   std::optional<std::chrono::nanoseconds> grace) {
  concur::ProcessPoolOptions o;
  o.max_workers = workers;
  o.stop_grace_period = grace;
  return o;
}

bool serves(const std::vector<int>& pids, int pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

}  // namespace

TEST_CASE("a cooperative task in a process pool stops when asked and returns its value",
          "[process][stop]") {
  concur::ProcessPoolExecutor pool(options(1, 20s));  // far longer than any stop takes
  Fifo out("stop");
  auto f = pool.submit(cooperative, out.path());
  const int pid = out.read_int();
  const auto asked = Clock::now();
  REQUIRE(f.request_stop());
  REQUIRE(f.wait_for(kLongWait));
  const double latency_ms = ms(Clock::now() - asked);
  INFO("stop latency: " << latency_ms << " ms");
  REQUIRE(f.state() == concur::FutureState::finished);
  REQUIRE(f.result() == 42);
  CHECK(Clock::now() - asked < 1s);
  REQUIRE(serves(pool.worker_pids(), pid));  // not killed
  REQUIRE_FALSE(f.request_stop());           // once
}

TEST_CASE("a process-pool task ignoring its token is killed after the grace period",
          "[process][stop]") {
  const auto policy =
      GENERATE(concur::CrashPolicy::replace_worker, concur::CrashPolicy::break_pool);
  auto o = options(1, 200ms);
  o.on_worker_crash = policy;  // a deliberate kill: neither policy applies
  concur::ProcessPoolExecutor pool(o);
  Fifo out("stop");
  Fifo gate("stop");  // never opened
  auto f = pool.submit(ignores_token, out.path(), gate.path());
  const int pid = out.read_int();
  const std::optional<ProcId> worker = identify(pid);
  REQUIRE(worker.has_value());
  const auto asked = Clock::now();
  REQUIRE(f.request_stop());
  REQUIRE(f.wait_for(kLongWait));
  const auto took = Clock::now() - asked;
  const double took_ms = ms(took);
  INFO("ended " << took_ms << " ms after request_stop()");
  REQUIRE(took >= 200ms);
  REQUIRE(f.state() == concur::FutureState::finished);
  REQUIRE_FALSE(f.cancelled());
  REQUIRE_THROWS_AS(f.result(), concur::CancelledError);
  REQUIRE_THROWS_WITH(f.result(), ContainsSubstring("stop_grace_period"));
  REQUIRE(wait_exited(*worker, kLongWait));
  // The pool still serves, from a new worker.
  auto g = pool.submit(square_and_pid, 3);
  REQUIRE(g.result().first == 9);
  REQUIRE(g.result().second != pid);
  REQUIRE_FALSE(serves(pool.worker_pids(), pid));
}

TEST_CASE("a process-pool task asked to stop before it was sent is killed after the grace period",
          "[process][stop]") {
  concur::ProcessPoolExecutor pool(options(1, 200ms));
  Fifo out("stop");
  Fifo gate("stop");
  Fifo never("stop");  // never opened
  auto blocker = pool.submit(report_and_wait, out.path(), gate.path(), 1);
  REQUIRE(out.read_int() == 1);
  auto filler = pool.submit(square, 2);  // may be written ahead: the next one stays queued
  auto target = pool.submit(ignores_token, out.path(), never.path());
  REQUIRE(target.state() == concur::FutureState::pending);
  REQUIRE(target.request_stop());
  gate.open_gate();
  REQUIRE(blocker.result() == 1);
  REQUIRE(filler.result() == 4);
  REQUIRE(target.wait_for(kLongWait));
  REQUIRE(target.state() == concur::FutureState::finished);
  REQUIRE_THROWS_AS(target.result(), concur::CancelledError);
  REQUIRE(pool.submit(square, 5).result() == 25);
}

TEST_CASE("a stop request never reaches a later task on the same worker", "[process][stop]") {
  concur::ProcessPoolExecutor pool(options(1, 20s));
  Fifo out("stop");
  Fifo gate("stop");

  SECTION("the task after a stopped one starts with a fresh token") {
    auto a = pool.submit(cooperative, out.path());
    const int pid = out.read_int();
    REQUIRE(a.request_stop());
    REQUIRE(a.result() == 42);
    auto b = pool.submit(stopped_after_gate, out.path(), gate.path());
    REQUIRE(out.read_int() == pid);  // same worker
    gate.open_gate();
    REQUIRE(b.result() == false);
  }
  SECTION("a stop asked for a call written ahead waits for that call to start") {
    auto running = pool.submit(stopped_after_gate, out.path(), gate.path());
    const int pid = out.read_int();
    auto ahead = pool.submit(cooperative, out.path());  // one worker: written ahead
    REQUIRE(ahead.request_stop());
    gate.open_gate();
    REQUIRE(running.result() == false);  // the request was not for it
    REQUIRE(out.read_int() == pid);
    REQUIRE(ahead.result() == 42);  // and it reached the call it was for
  }
  // The worker's side of the guard: a signal names a call id, and only that call stops. The
  // calls of a fresh one-worker pool are numbered 1, 2, ... (the pool's internal numbering).
  SECTION("a stop signal naming an earlier call is ignored") {
    REQUIRE(pool.submit(stopped_at_start).result() == false);           // call 1
    auto b = pool.submit(stopped_after_gate, out.path(), gate.path());  // call 2
    const int pid = out.read_int();
    REQUIRE(concur::detail::posix::send_stop_request(pid, 1));
    REQUIRE(::kill(pid, concur::detail::posix::stop_signal()) == 0);  // not sigqueue: ignored
    gate.open_gate();  // pending signals are handled before the read returns
    REQUIRE(b.result() == false);
  }
  SECTION("control: a stop signal naming the running call stops it") {
    REQUIRE(pool.submit(stopped_at_start).result() == false);           // call 1
    auto b = pool.submit(stopped_after_gate, out.path(), gate.path());  // call 2
    const int pid = out.read_int();
    REQUIRE(concur::detail::posix::send_stop_request(pid, 2));
    gate.open_gate();
    REQUIRE(b.result() == true);
  }
}

TEST_CASE("a process-pool task asked to stop while pending starts with its token stopped",
          "[process][stop]") {
  concur::ProcessPoolExecutor pool(options(1, 20s));
  Fifo out("stop");
  Fifo gate("stop");
  auto blocker = pool.submit(report_and_wait, out.path(), gate.path(), 1);
  REQUIRE(out.read_int() == 1);
  auto filler = pool.submit(square, 2);  // may be written ahead: the next ones stay queued
  auto asked = pool.submit(stopped_at_start);
  auto not_asked = pool.submit(stopped_at_start);
  REQUIRE(asked.state() == concur::FutureState::pending);
  REQUIRE(asked.request_stop());
  gate.open_gate();
  REQUIRE(blocker.result() == 1);
  REQUIRE(filler.result() == 4);
  REQUIRE(asked.result() == true);
  REQUIRE(not_asked.result() == false);
}

TEST_CASE("with stop_grace_period unset a task ignoring its token is never killed",
          "[process][stop]") {
  concur::ProcessPoolExecutor pool(options(1, std::nullopt));
  Fifo out("stop");
  Fifo gate("stop");
  auto f = pool.submit(ignores_token, out.path(), gate.path());
  const int pid = out.read_int();
  REQUIRE(f.request_stop());
  REQUIRE_FALSE(f.wait_for(700ms));  // the default grace period would have killed it by now...
  REQUIRE(serves(pool.worker_pids(), pid));
  gate.open_gate();
  REQUIRE(f.result() == 7);  // ...but it ends as it likes
  REQUIRE(serves(pool.worker_pids(), pid));
}

TEST_CASE("shutdown(true, true) stops running process-pool tasks and cancels pending ones",
          "[process][stop][shutdown]") {
  concur::ProcessPoolExecutor pool(options(2, 20s));
  Fifo out("stop");
  std::vector<concur::Future<int>> sent;
  sent.push_back(pool.submit(cooperative, out.path()));
  sent.push_back(pool.submit(cooperative, out.path()));
  out.read_int();
  out.read_int();
  // Two workers each take at most one call ahead: the fifth call is still queued.
  sent.push_back(pool.submit(cooperative, out.path()));
  sent.push_back(pool.submit(cooperative, out.path()));
  auto pending = pool.submit(cooperative, out.path());
  const auto asked = Clock::now();
  pool.shutdown(true, true);
  const double shutdown_ms = ms(Clock::now() - asked);
  INFO("shutdown took " << shutdown_ms << " ms");
  REQUIRE(sent[0].result() == 42);  // stopped, not given up, not killed
  REQUIRE(sent[1].result() == 42);
  for (std::size_t i = 2; i < sent.size(); ++i) {  // written ahead (stopped) or still queued
    REQUIRE((sent[i].cancelled() || sent[i].result() == 42));
  }
  REQUIRE(pending.cancelled());
  REQUIRE(Clock::now() - asked < 10s);
}
