#!/usr/bin/env bash
# tools/bench_report.sh - one command from a checkout to docs/performance.md and its plot.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#
# Installs what is missing (as root; otherwise says what to install), configures and builds the
# release-gcc preset, runs the workload benchmarks (build/release-gcc/bench/concur.bench.workloads)
# into build/perf/workloads.json, runs bench/py_side_by_side.py (Python's concurrent.futures and
# concur.bench.seed on the seed workloads) into build/perf/python.json, and renders
# docs/performance.md and docs/performance.png with tools/render_report.py.
#
# Usage: bash tools/bench_report.sh [--quick] [BENCHMARK_ARG...]
#   --quick          smoke run: --benchmark_min_time=0.05 without repetitions, and
#                    py_side_by_side.py --quick (about 1 minute instead of about 3, plus the
#                    first build)
#   BENCHMARK_ARG    passed on to concur.bench.workloads, e.g. --benchmark_filter=RoundTrip
# Run it from anywhere; it works in the repository root. Numbers are only meaningful on an
# otherwise idle machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly preset=release-gcc
readonly build_dir=build/$preset
readonly perf_dir=build/perf
readonly packages=(libbenchmark-dev libasio-dev libtbb-dev libthread-pool-dev gnuplot-nox)

quick=0
bench_args=()
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) bench_args+=("$arg") ;;
  esac
done

step() { printf '\n== %s\n' "$*"; }
die() {
  printf 'bench_report: %s\n' "$*" >&2
  exit 1
}

# 1. Dependencies: Debian packages, installed only if missing and only as root.
step "dependencies"
for tool in cmake python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
if command -v dpkg-query >/dev/null; then
  missing=()
  for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    echo "all present: ${packages[*]}"
  elif ((EUID == 0)); then
    echo "installing: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; then
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
  else
    echo "missing: ${missing[*]}"
    echo "  install them as root: sudo apt-get install -y ${missing[*]}"
    [[ " ${missing[*]} " != *" libbenchmark-dev "* ]] ||
      die "Google Benchmark (libbenchmark-dev) is required"
    echo "  going on without them: missing peers show as '—', without gnuplot there is no plot"
  fi
else
  echo "no dpkg: not checking packages (needs Google Benchmark; optional: Asio, oneTBB,"
  echo "thread_pool, gnuplot)"
fi

# 2. Build (Release; the preset's build directory is $build_dir). Only the two programs this
# report runs: the preset also builds the tests and examples, which take minutes and are not
# needed here (build them with `cmake --build --preset $preset`).
targets=(concur.bench.workloads concur.bench.seed)
step "configure and build: cmake --preset $preset && cmake --build --preset $preset" \
  "--target ${targets[*]}"
cmake --preset "$preset"
cmake --build --preset "$preset" --target "${targets[@]}"

# 3. The workload benchmarks.
mkdir -p "$perf_dir"
rm -f "$perf_dir/workloads.json" "$perf_dir/python.json"
workloads=$build_dir/bench/concur.bench.workloads
if ((quick)); then
  timing=(--benchmark_min_time=0.05)
else
  # Five repetitions of each benchmark, shuffled among the others' (Google Benchmark's random
  # interleaving): a minute when the VM's two cores act as one then hits every subject alike
  # instead of whichever ran then, and medians of 5 shrug off the odd bad one.
  timing=(--benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
    --benchmark_min_time=0.2 --benchmark_report_aggregates_only=true)
fi
if [[ -x $workloads ]]; then
  step "workloads: $workloads"
  "$workloads" --benchmark_out="$perf_dir/workloads.json" --benchmark_out_format=json \
    "${timing[@]}" ${bench_args[@]+"${bench_args[@]}"}
else
  echo "bench_report: $workloads was not built (is Google Benchmark installed?);" \
    "the workload tables will be empty" >&2
fi

# 4. Python's concurrent.futures beside concur on the seed workloads.
step "Python side by side: bench/py_side_by_side.py"
python_args=(--binary "$build_dir/bench/concur.bench.seed" --json "$perf_dir/python.json")
if ((quick)); then python_args+=(--quick); fi
python3 bench/py_side_by_side.py "${python_args[@]}"

# 5. The report.
step "report: tools/render_report.py"
python3 tools/render_report.py --workloads "$perf_dir/workloads.json" \
  --python "$perf_dir/python.json" --build-dir "$build_dir" \
  --markdown docs/performance.md --png docs/performance.png \
  --command "bash tools/bench_report.sh${*:+ $*}" --elapsed "$SECONDS"

printf '\nbench_report: done in %d min %02d s: docs/performance.md, docs/performance.png\n' \
  $((SECONDS / 60)) $((SECONDS % 60))
