// concur/detail/config.hpp - platform detection, CONCUR_ASSERT and the syscall seam.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <cstdio>
#include <cstdlib>

#if defined(__unix__) || defined(__APPLE__)
#define CONCUR_HAS_POSIX 1
#else
#define CONCUR_HAS_POSIX 0
#endif

// The one seam for fault injection (fmt's FMT_SYSTEM idea): a test may define it before any
// concur include, in an executable of its own.
#ifndef CONCUR_SYSCALL
#define CONCUR_SYSCALL(name) ::name
#endif

namespace concur::detail {
[[noreturn]] inline void assert_fail(const char* file, int line, const char* msg) noexcept {
  std::fprintf(stderr, "concur: internal assertion failed at %s:%d: %s\n", file, line, msg);
  std::abort();
}
}  // namespace concur::detail

// Asserts catch concur's own bugs; misuse by users throws the documented errors instead.
#ifndef CONCUR_ASSERT
#ifdef NDEBUG
#define CONCUR_ASSERT(cond, msg) static_cast<void>(sizeof(cond))
#else
#define CONCUR_ASSERT(cond, msg) \
  ((cond) ? static_cast<void>(0) : ::concur::detail::assert_fail(__FILE__, __LINE__, (msg)))
#endif
#endif
