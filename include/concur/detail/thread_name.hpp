// concur/detail/thread_name.hpp - naming the calling thread, where the platform allows.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#if defined(__linux__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace concur::detail {

// Linux allows 15 characters plus the NUL.
constexpr std::size_t max_thread_name = 15;

// "<prefix>_<n>", the prefix cut so that the whole fits max_thread_name and threads of one
// pool keep distinct names.
inline std::string make_thread_name(const std::string& prefix, std::size_t n) {
  // Written with snprintf: g++ 12 at -O3 warns falsely (stringop-overflow) on "_" + to_string.
  char suffix[24];
  const int length = std::snprintf(suffix, sizeof suffix, "_%zu", n);
  const auto size = static_cast<std::size_t>(length > 0 ? length : 0);
  const std::size_t room = size < max_thread_name ? max_thread_name - size : 0;
  std::string name = prefix.substr(0, room);
  name.append(suffix, size);
  return name;
}

// Names the calling thread (visible in top -H, ps -L and debuggers). Best effort.
inline void set_thread_name(const std::string& name) noexcept {
#if defined(__linux__)
  static_cast<void>(pthread_setname_np(pthread_self(), name.c_str()));
#elif defined(__APPLE__)
  static_cast<void>(pthread_setname_np(name.c_str()));
#else
  static_cast<void>(name);
#endif
}

}  // namespace concur::detail
