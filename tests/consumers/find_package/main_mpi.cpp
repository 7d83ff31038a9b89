// tests/consumers/find_package/main_mpi.cpp - an installed concur::mpi: one call on a worker rank.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#include <concur/mpi.hpp>

#include <iostream>

int main(int argc, char** argv) {
  return concur::mpi_main(argc, argv, [](concur::MPIPoolExecutor& pool) {
    const int answer = pool.submit([](int x) { return x * 2; }, 21).result();
    std::cout << "consumer_mpi: " << answer << std::endl;
    return answer == 42 ? 0 : 1;
  });
}
