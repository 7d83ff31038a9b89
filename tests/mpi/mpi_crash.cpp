// tests/mpi/mpi_crash.cpp - a worker rank dies in a call: the job must end, never hang.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
//
// Open MPI 4.1 has no fault tolerance: when a rank dies, mpirun ends every rank. This program
// kills the worker rank running its call (SIGKILL) and then waits for that call; mpirun must
// then end the whole job with a failure status (tests/mpi/expect_job_ends.cmake checks that it
// ends, and in time). If it printed "survived", the client outlived its dead worker.
#include <concur/mpi.hpp>

#include <signal.h>
#include <unistd.h>

#include <iostream>

namespace {
int die(int /*unused*/) {
  ::raise(SIGKILL);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return concur::mpi_main(argc, argv, [](concur::MPIPoolExecutor& pool) {
    std::cout << "worker answers: " << pool.submit([](int x) { return x + 1; }, 1).result()
              << std::endl;
    try {
      pool.submit(die, 0).result();
    } catch (const std::exception& e) {
      std::cout << "exception: " << e.what() << std::endl;
    }
    std::cout << "survived" << std::endl;
    return 0;
  });
}
