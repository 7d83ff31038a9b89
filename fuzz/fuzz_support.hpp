// fuzz/fuzz_support.hpp - what the fuzz targets share: reporting a failed check, writing seeds.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/codec.hpp>

#include <concur/detail/remote.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace concur::fuzz {

using Bytes = std::vector<std::byte>;

// A property the target checks does not hold: report it and abort, which libFuzzer records as
// a crash (with the input that caused it).
[[noreturn]] inline void fail(const char* where, const char* what) {
  std::fprintf(stderr, "concur fuzz check failed: %s: %s\n", where, what);
  std::abort();
}

// The bytes a worker sends for exception e (a seed).
inline Bytes encoded_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (...) {
    concur::Writer w;
    concur::detail::encode_current_exception(w);
    return w.release();
  }
}

// Writes one seed input as <dir>/<index>-<name> (fixed names: the committed corpus is stable).
inline void write_seed(const char* dir, std::size_t index, const char* name, const Bytes& input) {
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%02zu-", index);
  const std::string path = std::string(dir) + "/" + prefix + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(input.data(), 1, input.size(), f) != input.size() ||
      std::fclose(f) != 0) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

}  // namespace concur::fuzz
