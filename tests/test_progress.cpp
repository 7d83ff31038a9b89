// tests/test_progress.cpp - concur::Progress and with_progress(): plain lines, terminal redraws,
// counting from several threads, and driving it with as_completed() and map().
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/future.hpp>
#include <concur/progress.hpp>
#include <concur/thread_pool.hpp>
#include <concur/wait.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"

namespace {

using namespace std::chrono_literals;

// A temporary file standing in for stdout; text() reads back everything written so far.
struct Capture {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::tmpfile(), &std::fclose};
  std::string text() const {
    std::fflush(file.get());
    std::rewind(file.get());
    std::string out;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) out.append(buffer, n);
    std::fseek(file.get(), 0, SEEK_END);
    return out;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', start)) {
    lines.push_back(text.substr(start, at - start));
    start = at + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

}  // namespace

TEST_CASE("a file gets one plain line per 10 percent, the last one at the total", "[progress]") {
  Capture out;
  REQUIRE(out.file);
  {
    concur::Progress bar(100, {.label = "jobs", .out = out.file.get(), .terminal = false});
    for (int i = 0; i < 100; ++i) bar.advance();
    bar.close();
    CHECK(bar.count() == 100);
  }
  const std::vector<std::string> lines = lines_of(out.text());
  REQUIRE(lines.size() == 10);
  CHECK(lines.front().rfind("jobs 10/100  10%", 0) == 0);
  CHECK(lines.back().rfind("jobs 100/100 100%", 0) == 0);
  CHECK(lines.back().find(" in ") != std::string::npos);
  CHECK(out.text().find('\r') == std::string::npos);
}

TEST_CASE("closing short of the total prints where it stopped, once", "[progress]") {
  Capture out;
  REQUIRE(out.file);
  concur::Progress bar(10, {.out = out.file.get(), .terminal = false, .plain_step_percent = 50});
  bar.advance(3);
  bar.close();
  bar.close();
  bar.advance(7);  // after close: ignored
  const std::vector<std::string> lines = lines_of(out.text());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("3/10  30%", 0) == 0);
  CHECK(lines[0].find("ETA") != std::string::npos);
  CHECK(bar.count() == 3);
}

TEST_CASE("a terminal gets one line redrawn in place, ended by a newline", "[progress]") {
  Capture out;
  REQUIRE(out.file);
  {
    concur::Progress bar(4, {.label = "t",
                             .out = out.file.get(),
                             .terminal = true,
                             .width = 8,
                             .redraw_every = std::chrono::hours(1)});
    bar.advance();  // too soon to redraw
    bar.advance();
    CHECK(bar.text().rfind("t [####----] 2/4  50%", 0) == 0);
    bar.advance(2);  // the total: always drawn
  }
  const std::string text = out.text();
  // Drawn at the start, at the total and at close; never in between.
  std::size_t redraws = 0;
  for (char c : text) redraws += c == '\r' ? 1 : 0;
  CHECK(redraws == 3);
  CHECK(text.find("t [--------] 0/4   0%") != std::string::npos);
  CHECK(text.find("t [########] 4/4 100%") != std::string::npos);
  CHECK(text.find("2/4") == std::string::npos);
  CHECK(text.back() == '\n');
}

TEST_CASE("Progress counts exactly when many threads advance it", "[progress]") {
  concur::Progress bar(4000, {.out = nullptr});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&bar] {
      for (int i = 0; i < 1000; ++i) bar.advance();
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(bar.count() == 4000);
}

TEST_CASE("with_progress counts each as_completed future after the loop body", "[progress]") {
  concur::ThreadPoolExecutor pool(2);
  std::vector<concur::Future<int>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(pool.submit([i] { return i; }));
  concur::Progress bar(futures.size(), {.out = nullptr});
  std::size_t seen = 0;
  int sum = 0;
  for (const concur::Future<int>& f : concur::with_progress(concur::as_completed(futures), bar)) {
    CHECK(bar.count() == seen);  // this one is not counted until the body is done
    sum += f.result();
    ++seen;
  }
  CHECK(seen == 20);
  CHECK(bar.count() == 20);
  CHECK(sum == 190);
}

TEST_CASE("with_progress over map() keeps the input order", "[progress]") {
  concur::ThreadPoolExecutor pool(2);
  const std::vector<int> xs{1, 2, 3, 4, 5, 6, 7};
  concur::Progress bar(xs.size(), {.out = nullptr});
  std::vector<int> out;
  for (int v : concur::with_progress(pool.map([](int x) { return 10 * x; }, xs), bar)) {
    out.push_back(v);
  }
  CHECK(out == std::vector<int>{10, 20, 30, 40, 50, 60, 70});
  CHECK(bar.count() == xs.size());
}

TEST_CASE("Progress of nothing and bad options", "[progress]") {
  Capture out;
  REQUIRE(out.file);
  { concur::Progress empty(0, {.out = out.file.get(), .terminal = false}); }
  const std::vector<std::string> lines = lines_of(out.text());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("0/0 100%", 0) == 0);
  CHECK_THROWS_AS(concur::Progress(5, {.plain_step_percent = 0}), std::invalid_argument);
  CHECK_THROWS_AS(concur::Progress(5, {.plain_step_percent = 101}), std::invalid_argument);
}
