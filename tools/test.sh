#!/usr/bin/env bash
# tools/test.sh - every check CI runs, in one command: ASan+UBSan and TSan with g++ and clang++,
# header self-containment, examples, clang-format, and two consumer projects.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#
# Usage: bash tools/test.sh [step...]   (from any directory; no steps = all of them)
# Steps: asan-gcc tsan-gcc asan-clang tsan-clang headers examples bench format fetch-content
#        find-package fuzz soak model
# CONCUR_FUZZ_SECONDS (default 60) and CONCUR_SOAK_SECONDS (default 60) bound the fuzz and soak
# steps.
# Missing tools (Catch2, cmake, compilers, clang-format) are installed with apt-get when possible.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
all_steps=(asan-gcc tsan-gcc asan-clang tsan-clang headers examples bench format fetch-content find-package
           fuzz soak model)
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=("${all_steps[@]}")
for s in "${steps[@]}"; do
  [[ " ${all_steps[*]} " == *" $s "* ]] || { echo "tools/test.sh: unknown step '$s' (steps: ${all_steps[*]})" >&2; exit 2; }
done
wants() { [[ " ${steps[*]} " == *" $1 "* ]]; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=$SECONDS
summary=()

print_summary() {
  echo
  echo "==> summary"
  printf '  %s\n' "${summary[@]}"
  echo "  total: $((SECONDS - started)) s"
}

# run_step <name> <command...>: runs the command with errexit on; on failure prints the summary
# and stops. (A subshell outside any `if`, because bash ignores set -e inside an `if` condition.)
run_step() {
  local name=$1 t0=$SECONDS rc=0
  shift
  printf '\n==> %s: %s\n' "$name" "$*"
  set +e
  (set -e; "$@")
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    summary+=("$(printf 'FAILED  %-14s %5d s   (exit %d)' "$name" $((SECONDS - t0)) $rc)")
    print_summary
    echo "tools/test.sh: step '$name' FAILED; rerun it alone with: bash tools/test.sh $name" >&2
    exit 1
  fi
  summary+=("$(printf 'ok      %-14s %5d s' "$name" $((SECONDS - t0)))")
}

# --- 1. Dependencies: install only what is missing (Debian/Ubuntu apt-get) -----------------------
have_catch2() {
  local d
  for d in /usr/lib/cmake/Catch2 /usr/lib/*/cmake/Catch2 /usr/lib64/cmake/Catch2 \
           /usr/share/cmake/Catch2 /usr/local/lib/cmake/Catch2 /usr/local/lib/*/cmake/Catch2 \
           /usr/local/lib64/cmake/Catch2 /usr/local/share/cmake/Catch2; do
    [ -e "$d/Catch2Config.cmake" ] && return 0
  done
  local prefix
  local IFS=':'
  for prefix in ${CMAKE_PREFIX_PATH:-}; do
    for d in "$prefix"/lib/cmake/Catch2 "$prefix"/lib/*/cmake/Catch2 "$prefix"/lib64/cmake/Catch2 \
             "$prefix"/share/cmake/Catch2; do
      [ -e "$d/Catch2Config.cmake" ] && return 0
    done
  done
  return 1
}

missing=()
have_catch2 || missing+=(catch2)
command -v cmake >/dev/null || missing+=(cmake)
command -v make >/dev/null || missing+=(make)
command -v python3 >/dev/null || missing+=(python3)
command -v g++ >/dev/null || missing+=(g++)
command -v clang++ >/dev/null || missing+=(clang)
command -v clang-format >/dev/null || missing+=(clang-format)
[ -e /usr/include/benchmark/benchmark.h ] || [ -e /usr/local/include/benchmark/benchmark.h ] ||
  missing+=(libbenchmark-dev)
# The peers the workload benchmarks compare against (optional to build concur; installed here so
# that CI compiles and smoke-runs every comparison).
[ -e /usr/include/asio.hpp ] || missing+=(libasio-dev)
[ -e /usr/include/tbb/tbb.h ] || [ -e /usr/include/oneapi/tbb.h ] || missing+=(libtbb-dev)
[ -e /usr/include/thread_pool/thread_pool.hpp ] || missing+=(libthread-pool-dev)
# MPI (Open MPI): concur::mpi's tests, example and benchmark run as jobs of 3 ranks on this machine.
command -v mpirun >/dev/null || missing+=(openmpi-bin)
compgen -G "/usr/include/*/mpi/mpi.h" >/dev/null || [ -e /usr/include/mpi.h ] ||
  compgen -G "/usr/lib/*/openmpi/include/mpi.h" >/dev/null || missing+=(libopenmpi-dev)
# Reliability steps: libFuzzer (clang's runtime) and the spin model checker.
if wants fuzz; then
  compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null ||
    missing+=(libclang-rt-14-dev)
fi
if wants model; then command -v spin >/dev/null || missing+=(spin); fi
if wants model; then command -v gcc >/dev/null || missing+=(gcc); fi
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "==> installing: ${missing[*]}"
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  else
    echo "tools/test.sh: missing ${missing[*]} and no apt-get; install them yourself" \
         "(without Catch2, CMake downloads Catch2 v3 from GitHub)" >&2
  fi
fi
cmake_version=$(cmake --version | sed -n '1s/[^0-9]*\([0-9][0-9.]*\).*/\1/p')
if [ "$(printf '%s\n' 3.25 "$cmake_version" | sort -V | head -n1)" != 3.25 ]; then
  echo "tools/test.sh: CMake $cmake_version is too old; workflow presets need 3.25 or newer" >&2
  exit 1
fi
echo "==> tools: $(cmake --version | head -n1); $(g++ --version | head -n1); $(clang++ --version | head -n1)"

# --- 2. ThreadSanitizer probe --------------------------------------------------------------------
# TSan in g++ 12 / clang 14 dies at startup ("FATAL: ThreadSanitizer: unexpected memory mapping")
# on kernels with high ASLR entropy (vm.mmap_rnd_bits > 28). If a trivial TSan program fails
# here but runs under `setarch -R` (ASLR off for that process tree), the TSan workflow (build-time
# test discovery included) runs under setarch. Nothing changes where TSan works as is.
tsan_wrapper() {  # tsan_wrapper <compiler>: prints "" or "setarch <arch> -R"; fails if neither works
  local cxx=$1 exe="$tmp/tsan-probe-$1"
  printf '#include <thread>\nint main() { std::thread([] {}).join(); }\n' > "$tmp/tsan-probe.cpp"
  "$cxx" -std=c++20 -fsanitize=thread -O1 "$tmp/tsan-probe.cpp" -o "$exe"
  if "$exe" >/dev/null 2>&1; then
    echo ""
  elif setarch "$(uname -m)" -R "$exe" >/dev/null 2>&1; then
    echo "setarch $(uname -m) -R"
  else
    echo "tools/test.sh: a trivial -fsanitize=thread program fails with $cxx, even under setarch -R:" >&2
    "$exe" >&2 || true
    return 1
  fi
}

run_tsan() {  # run_tsan <compiler> <preset>
  local wrapper
  wrapper=$(tsan_wrapper "$1")
  [ -z "$wrapper" ] || echo "TSan needs ASLR off on this kernel: running under '$wrapper'"
  $wrapper cmake --workflow --preset "$2"
}

# --- 3. Steps ------------------------------------------------------------------------------------
check_format() {
  if ! command -v clang-format >/dev/null; then
    echo "WARNING: clang-format not found, format check skipped" >&2
    return 0
  fi
  local files=()
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and new (not ignored) files, so a file is checked before its first commit too.
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.hpp' '*.cpp')
  else
    mapfile -t files < <(find include tests examples bench -name '*.[hc]pp' 2>/dev/null)
  fi
  echo "$(clang-format --version): ${#files[@]} files"
  [ ${#files[@]} -eq 0 ] || clang-format --dry-run --Werror "${files[@]}" || {
    echo "fix with: clang-format -i <file>... (clang-format 14, .clang-format at the root)" >&2
    return 1
  }
}

# Every public and detail header compiles on its own (STYLE C2); reuses the asan-gcc build tree.
verify_headers() {
  cmake --preset asan-gcc >/dev/null
  cmake --build build/asan-gcc --target all_verify_interface_header_sets -j2
}

# Benchmarks build in Release and each runs once, briefly, so that they cannot rot; their
# numbers are not judged here (STYLE C18).
bench_smoke() {
  cmake -S . -B build/bench-smoke -DCMAKE_BUILD_TYPE=Release -DCONCUR_BUILD_TESTS=OFF \
        -DCONCUR_BUILD_EXAMPLES=OFF -DCONCUR_BUILD_BENCH=ON
  cmake --build build/bench-smoke -j2
  local exe found=0 dir=build/bench-smoke
  for exe in $dir/bench/concur.bench.*; do
    [ -x "$exe" ] || continue
    [ "$exe" != $dir/bench/concur.bench.seed ] || continue  # not a Google Benchmark program
    found=1
    echo "--- $exe"
    local launch=()
    # The MPI benchmark is a job: rank 0 measures, ranks 1 and 2 serve its pool.
    [ "$exe" != $dir/bench/concur.bench.mpi ] ||
      launch=(mpirun --oversubscribe --allow-run-as-root -n 3)
    ${launch[@]+"${launch[@]}"} "$exe" --benchmark_min_time=0.01 --benchmark_out="$exe.json" \
      --benchmark_out_format=json
  done
  [ $found -eq 1 ] || { echo "no benchmark was built (is Google Benchmark installed?)" >&2; return 1; }
  # The report's pieces, on the smoke figures: Python side by side (quick sizes) and rendering.
  echo "--- bench/py_side_by_side.py --quick"
  python3 bench/py_side_by_side.py --quick --binary $dir/bench/concur.bench.seed \
    --json $dir/python.json
  echo "--- tools/render_report.py (into $dir, not docs/)"
  python3 tools/render_report.py --workloads $dir/bench/concur.bench.workloads.json \
    --python $dir/python.json --markdown $dir/performance.md --png $dir/performance.png \
    --build-dir $dir
  grep -q "^| W1" $dir/performance.md || grep -q "W1" $dir/performance.md
}

consumer_fetch_content() {
  cmake -S tests/consumers/fetch_content -B "$tmp/fetch-content" -DCONCUR_SOURCE_DIR="$root"
  cmake --build "$tmp/fetch-content" -j2
  "$tmp/fetch-content/consumer"
}

consumer_find_package() {
  cmake -S . -B "$tmp/install-build" -DCONCUR_BUILD_TESTS=OFF -DCONCUR_BUILD_EXAMPLES=OFF \
        -DCONCUR_BUILD_BENCH=OFF
  cmake --install "$tmp/install-build" --prefix "$tmp/prefix"
  cmake -S tests/consumers/find_package -B "$tmp/find-package" -DCMAKE_PREFIX_PATH="$tmp/prefix"
  cmake --build "$tmp/find-package" -j2
  "$tmp/find-package/consumer"
  if [ -x "$tmp/find-package/consumer_mpi" ]; then  # built where MPI is installed
    mpirun --oversubscribe --allow-run-as-root -n 2 "$tmp/find-package/consumer_mpi"
  fi
}

# ctest keeps a passing test's output to itself: the fault storm runs once more, on its own, so
# that the log shows its injected-vs-observed table.
asan_gcc() {
  cmake --workflow --preset asan-gcc
  echo "--- the fault storm's summary (tests/fault/test_fault_process.cpp)"
  build/asan-gcc/tests/concur.fault "a storm of 10*"  # (a comma would split the filter)
}

wants asan-gcc      && run_step asan-gcc      asan_gcc
wants tsan-gcc      && run_step tsan-gcc      run_tsan g++ tsan-gcc
wants asan-clang    && run_step asan-clang    cmake --workflow --preset asan-clang
wants tsan-clang    && run_step tsan-clang    run_tsan clang++ tsan-clang
wants headers       && run_step headers       verify_headers
wants examples      && run_step examples      cmake --workflow --preset examples
wants bench         && run_step bench         bench_smoke
wants format        && run_step format        check_format
wants fetch-content && run_step fetch-content consumer_fetch_content
wants find-package  && run_step find-package  consumer_find_package
wants fuzz          && run_step fuzz          bash tools/fuzz.sh "${CONCUR_FUZZ_SECONDS:-60}"
wants soak          && run_step soak          bash tools/soak.sh "${CONCUR_SOAK_SECONDS:-60}"
wants model         && run_step model         bash tools/model.sh

print_summary
echo "tools/test.sh: all steps passed"
