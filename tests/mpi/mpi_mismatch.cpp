// tests/mpi/mpi_mismatch.cpp - built twice (CONCUR_TEST_VARIANT 1 and 2), launched as one job:
// `mpirun -n 1 variant1 : -n 1 variant2`. Rank 0's pool must refuse a worker whose program
// differs from its own ("run another build of the program") and stop it, so that both ranks
// end: code addresses sent by one would mean nothing in the other.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/mpi.hpp>

#include <iostream>

namespace {
// Different machine code in each variant.
[[gnu::noinline]] int variant_code(int x) {
  return x * (CONCUR_TEST_VARIANT * 7919 + 1);
}
}  // namespace

int main(int argc, char** argv) {
  return concur::mpi_main(argc, argv, [](concur::MPIPoolExecutor& pool) {
    std::cout << "UNEXPECTED: the pool accepted another build: "
              << pool.submit(variant_code, 2).result() << std::endl;
    return 1;
  });
}
