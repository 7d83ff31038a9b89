#!/usr/bin/env bash
# tools/fuzz.sh - builds concur's libFuzzer targets (fuzz/) with clang++ under ASan+UBSan and runs
# each one on a copy of its seed corpus for a bounded time. Fails on any crash, leak, timeout or
# out-of-memory; the input that caused it is kept in build/fuzz/run/<target>/artifacts/.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#
# Usage: bash tools/fuzz.sh [seconds-per-target]   (default 60; from any directory)
# Environment: CXX_FUZZ=<clang++ to use>; FUZZ_BUILD_DIR=<build tree> (default build/fuzz).
# clang++ and libFuzzer (Debian: clang-14, libclang-rt-14-dev) are installed with apt-get when
# missing.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash tools/fuzz.sh [seconds-per-target]   (a positive whole number)" >&2
  exit 2
fi
build=${FUZZ_BUILD_DIR:-build/fuzz}
targets=(fuzz_codec fuzz_framing)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1. A clang++ whose -fsanitize=fuzzer links ---------------------------------------------------
can_fuzz() {  # can_fuzz <compiler>: builds and runs a trivial fuzz target
  command -v "$1" >/dev/null || return 1
  printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
    'extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }' \
    > "$tmp/probe.cpp"
  "$1" -std=c++20 -fsanitize=fuzzer,address,undefined "$tmp/probe.cpp" -o "$tmp/probe" \
    >/dev/null 2>&1 && "$tmp/probe" -runs=1 >/dev/null 2>&1
}

pick_compiler() {
  local c
  for c in ${CXX_FUZZ:-} clang++ clang++-14; do
    if can_fuzz "$c"; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

if ! cxx=$(pick_compiler); then
  missing=(clang-14 libclang-rt-14-dev)
  command -v cmake >/dev/null || missing+=(cmake)
  command -v make >/dev/null || missing+=(make)
  if ! command -v apt-get >/dev/null; then
    echo "tools/fuzz.sh: no clang++ with libFuzzer (-fsanitize=fuzzer) and no apt-get;" \
         "install clang and its runtime libraries (libclang-rt) yourself" >&2
    exit 1
  fi
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "==> installing: ${missing[*]}"
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  cxx=$(pick_compiler) || {
    echo "tools/fuzz.sh: clang++ still cannot link -fsanitize=fuzzer after installing" \
         "${missing[*]}" >&2
    exit 1
  }
fi
echo "==> compiler: $cxx ($("$cxx" --version | head -n1))"

# --- 2. Build ----------------------------------------------------------------------------------------
cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCONCUR_FUZZ_SANITIZERS=address,undefined
cmake --build "$build" -j2 --target "${targets[@]}"

# --- 3. Run each target on a copy of its seeds (the committed corpus stays as it is) ------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for t in "${targets[@]}"; do
  run="$build/run/$t"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp fuzz/corpus/"$t"/* "$run/corpus/"
  echo
  echo "==> $t: ${seconds} s on $(find "$run/corpus" -type f | wc -l) seed inputs (log: $run/log)"
  rc=0
  # -timeout: one input may take 10 s at most; the outer timeout only guards against a fuzzer
  # that stops honouring -max_total_time.
  timeout --signal=KILL $((seconds + 300)) "$build/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$run/artifacts/" "$run/corpus" \
    > "$run/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run/log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$run/log")
  if [ $rc -ne 0 ] || [ -n "$(ls -A "$run/artifacts")" ]; then
    tail -n 60 "$run/log"
    echo "FAILED: $t (exit $rc); inputs: $(ls "$run/artifacts" | tr '\n' ' ')" >&2
    echo "  reproduce: $build/$t $run/artifacts/<input>" >&2
    failed+=("$t")
    summary+=("$(printf 'FAILED  %-14s exit %d' "$t" "$rc")")
  else
    summary+=("$(printf 'ok      %-14s %s runs, %s exec/s, peak RSS %s MB' "$t" \
      "${runs:-?}" "${speed:-?}" "${rss:-?}")")
  fi
done

echo
echo "==> fuzz summary (${seconds} s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "tools/fuzz.sh: ${failed[*]} failed" >&2
  exit 1
fi
echo "tools/fuzz.sh: no crash, leak, timeout or out-of-memory"
