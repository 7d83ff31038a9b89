// tests/support/cpu_time.hpp - CPU time used, for the tests that show a wait does not spin.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once
#include <sys/resource.h>
#include <sys/time.h>

namespace concur_test {

// CPU time (user + system) in seconds of RUSAGE_THREAD (the calling thread) or RUSAGE_SELF
// (the whole process).
inline double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace concur_test
