// mpi_pool.cpp - the same Executor on MPI ranks: `mpirun -n 3 ./mpi_pool` (3 ranks: 1 client, 2
// workers; on a cluster, `mpirun -n 64 --hostfile hosts ./mpi_pool`).
#include <concur/mpi.hpp>

#include <iostream>
#include <stdexcept>
#include <vector>

long count(int number) {  // a plain function of the program: every rank has it
  long i = 0;
  for (int k = 0; k < 10'000'000; ++k) i += k % 2;
  return i * number;
}

int main(int argc, char** argv) {
  // Every rank runs main: rank 0 runs the lambda, the other ranks serve its pool until it ends.
  return concur::mpi_main(argc, argv, [](concur::MPIPoolExecutor& pool) {
    long total = 0;
    for (long r : pool.map(count, std::vector{1, 2, 3, 4}, concur::MapOptions{.chunksize = 2}))
      total += r;
    std::cout << "total: " << total << "\n";  // 50000000

    concur::Future<long> f = pool.submit(
        [](int n) -> long {
          if (n < 0) throw std::invalid_argument("negative");
          return n;
        },
        -1);
    try {
      f.result();
    } catch (const std::invalid_argument& e) {  // the worker rank's exception, as itself
      std::cout << "caught: " << e.what() << "\n";
    }
    return total == 50'000'000 ? 0 : 1;
  });
}
