// concur/mpi.hpp - MPIPoolExecutor: an Executor whose workers are the other ranks of an MPI job.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// An MPIPoolExecutor runs calls on the ranks of an MPI job, on one machine or many, with the
// Executor interface of the other pools: submit, map (chunksize, buffersize), shutdown, and
// Futures that work with wait, as_completed, callbacks and continuations. Python:
// mpi4py.futures.MPIPoolExecutor. Optional: only this header needs MPI (its <mpi.h> and
// library, e.g. Debian's libopenmpi-dev); no other concur header includes it.
//
// Every rank runs the same program (SPMD: `mpirun -n 4 ./app`). Rank 0 is the client: it owns
// the pool and submits. The other ranks are its workers: they run calls, one at a time each,
// until the pool shuts down. concur::mpi_main() lets one main() serve both roles:
//
//   long count(int n) { ... }                      // a plain function of the program
//   int main(int argc, char** argv) {
//     return concur::mpi_main(argc, argv, [](concur::MPIPoolExecutor& pool) {
//       for (long r : pool.map(count, std::vector{1, 2, 3})) std::cout << r << "\n";
//       return 0;
//     });  // rank 0 runs the lambda; every other rank serves until it returns
//   }
//
// What crosses between ranks: as in the process pool, a call is a function pointer, a
// captureless lambda or an empty function object (checked at compile time), and its arguments
// and result cross as bytes through Codec<T>; exceptions come back as themselves (standard and
// concur types) or as RemoteError. Code addresses are never sent as they are: ranks load the
// program at different addresses (and on different hosts), so a function travels as its offset
// in the program's code, which every rank runs: the pool checks at start that each rank's code
// is byte for byte the client's (a rank running another build is an error), and a function
// outside the program's code (a shared library's) is an error at submit.
//
// Open MPI 4.1 has no fault tolerance: a rank that dies (a signal, exit() in a call) makes
// mpirun end every rank of the job, the client too. No rank waits forever for one that is gone.
// Calls taking a std::stop_token run, but a stop request does not reach another rank.
//
// Waiting never spins a core: a blocking MPI receive busy-polls in Open MPI, so both the
// client's manager thread and the workers test for messages, then sleep a little longer each
// time (up to 1 ms) while nothing arrives; a submit wakes the manager at once.
//
// MPI calls: the client's manager thread makes all of the client's MPI calls after the pool
// is built, so MPI must be initialised with at least MPI_THREAD_SERIALIZED (mpi_main does).

#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1  // the C API only: no need for Open MPI's C++ bindings library
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <concur/codec.hpp>
#include <concur/errors.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>

#include <concur/detail/remote.hpp>
#include <concur/detail/remote_executor.hpp>
#include <concur/detail/task.hpp>

#include <link.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur {

namespace detail::mpi {

// The program's code as this process loaded it: where it starts (addresses travel relative to
// this), the range of its executable segments, and a fingerprint of their bytes (equal in
// every process of the same build of the program).
struct ProgramCode {
  std::uintptr_t base = 0;
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  std::uint64_t fingerprint = 0;
};

inline ProgramCode read_program_code() {
  ProgramCode code;
  // The first object dl_iterate_phdr reports is the program itself.
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t /*size*/, void* data) -> int {
        auto& out = *static_cast<ProgramCode*>(data);
        out.base = static_cast<std::uintptr_t>(info->dlpi_addr);
        std::uintptr_t begin = std::numeric_limits<std::uintptr_t>::max();
        std::uintptr_t end = 0;
        std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a, eight bytes at a time
        const auto mix = [&hash](std::uint64_t word) {
          hash ^= word;
          hash *= 1099511628211ULL;
        };
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& segment = info->dlpi_phdr[i];
          if (segment.p_type != PT_LOAD || (segment.p_flags & PF_X) == 0) continue;
          const std::uintptr_t start = out.base + static_cast<std::uintptr_t>(segment.p_vaddr);
          begin = std::min(begin, start);
          end = std::max(end, start + static_cast<std::uintptr_t>(segment.p_memsz));
          mix(static_cast<std::uint64_t>(segment.p_vaddr));
          mix(static_cast<std::uint64_t>(segment.p_filesz));
          const auto* bytes = reinterpret_cast<const unsigned char*>(start);
          const std::size_t n = static_cast<std::size_t>(segment.p_filesz);
          std::size_t k = 0;
          for (; k + 8 <= n; k += 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, bytes + k, 8);
            mix(word);
          }
          for (; k < n; ++k) mix(bytes[k]);
        }
        if (end != 0) {
          out.begin = begin;
          out.end = end;
        }
        out.fingerprint = hash;
        return 1;  // the program only
      },
      &code);
  return code;
}

inline const ProgramCode& program_code() {
  static const ProgramCode code = read_program_code();
  return code;
}

// The translation for messages between ranks: offsets from the program's base, checked
// against its code.
inline CodeAddressTranslation rank_translation(const char* who) {
  const ProgramCode& code = program_code();
  return CodeAddressTranslation{code.base, code.begin, code.end, who};
}

enum Tag : int {
  tag_hello = 7301,  // client -> worker: the client's fingerprint; the reply: the worker's
  tag_call = 7302,   // client -> worker: call id, then the call; the reply (tag_reply): call id,
  tag_reply = 7303,  //   then its outcome
  tag_stop = 7304,   // client -> worker: leave the serve loop
};

inline void check(int status, const char* what) {
  if (status != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    MPI_Error_string(status, text, &length);
    throw Error(std::string("concur: ") + what +
                " failed: " + std::string(text, length > 0 ? static_cast<std::size_t>(length) : 0));
  }
}

// Waiting without spinning a core: a few tests in a row, then sleeps that double from 20 us
// to 1 ms while nothing happens. reset() after something did.
class Backoff {
 public:
  void reset() noexcept { idle_rounds_ = 0; }
  std::chrono::microseconds next() noexcept {
    if (idle_rounds_ < spin_rounds) {
      ++idle_rounds_;
      return std::chrono::microseconds(0);
    }
    const int doublings = std::min(idle_rounds_++ - spin_rounds, max_doublings);
    return std::min(std::chrono::microseconds(20 << doublings), max_sleep);
  }
  void pause() {
    const auto wait = next();
    if (wait.count() == 0) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(wait);
    }
  }

 private:
  static constexpr int spin_rounds = 64;
  static constexpr int max_doublings = 6;
  static constexpr std::chrono::microseconds max_sleep{1000};
  int idle_rounds_ = 0;
};

// Receives the message `status` announced (from MPI_Iprobe).
inline std::vector<std::byte> receive(MPI_Comm comm, const MPI_Status& status) {
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  std::vector<std::byte> bytes(static_cast<std::size_t>(count));
  check(MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, comm,
                 MPI_STATUS_IGNORE),
        "MPI_Recv");
  return bytes;
}

// Waits (see Backoff) for a message from `source` with `tag` (MPI_ANY_TAG: any).
inline MPI_Status wait_for_message(MPI_Comm comm, int source, int tag) {
  Backoff backoff;
  for (;;) {
    int flag = 0;
    MPI_Status status{};
    check(MPI_Iprobe(source, tag, comm, &flag, &status), "MPI_Iprobe");
    if (flag != 0) return status;
    backoff.pause();
  }
}

// Sends bytes and waits (see Backoff) until the buffer may go.
inline void send(MPI_Comm comm, int dest, int tag, const std::vector<std::byte>& bytes) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error("concur: a message for MPI is larger than 2 GiB");
  }
  MPI_Request request = MPI_REQUEST_NULL;
  check(
      MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, comm, &request),
      "MPI_Isend");
  Backoff backoff;
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done != 0) return;
    backoff.pause();
  }
}

template <class T>
std::vector<std::byte> message_of(const T& value) {
  Writer w;
  w.write_raw(value);
  return w.release();
}

}  // namespace detail::mpi

/// Runs on a worker rank (not rank 0 of comm): serves the client's MPIPoolExecutor, one call at
/// a time, until the pool shuts down; returns 0. Every rank but 0 must call it (mpi_main does).
inline int mpi_serve(MPI_Comm comm = MPI_COMM_WORLD) {
  namespace m = detail::mpi;
  detail::CodeAddressTranslation translation =
      m::rank_translation("concur::MPIPoolExecutor (worker rank)");
  const detail::CodeAddressScope scope(translation);
  for (;;) {
    const MPI_Status status = m::wait_for_message(comm, 0, MPI_ANY_TAG);
    std::vector<std::byte> bytes = m::receive(comm, status);
    if (status.MPI_TAG == m::tag_stop) return 0;
    Reader in(bytes);
    if (status.MPI_TAG == m::tag_hello) {
      const auto client = in.read_raw<std::uint64_t>();
      Writer out;
      out.write_raw(static_cast<std::uint8_t>(client == m::program_code().fingerprint ? 1 : 0));
      out.write_raw(m::program_code().fingerprint);
      m::send(comm, 0, m::tag_hello, out.bytes());
      continue;
    }
    if (status.MPI_TAG != m::tag_call) continue;  // nothing else is sent to a worker
    Writer out;
    const auto id = in.read_raw<std::uint64_t>();
    out.write_raw(id);
    const std::size_t start = out.bytes().size();
    detail::remote_stop.call_id = static_cast<std::uintptr_t>(id);
    try {
      detail::run_remote_call(in, out);
    } catch (...) {  // a message this rank could not even start (encode_outcome took the rest)
      out.bytes().resize(start);
      out.write_raw(std::uint8_t{1});
      detail::encode_current_exception(out);
    }
    bytes.clear();
    bytes.shrink_to_fit();
    m::send(comm, 0, m::tag_reply, out.bytes());
  }
}

/// An Executor whose workers are the ranks 1..N-1 of an MPI communicator; built on rank 0.
/// Python: mpi4py.futures.MPIPoolExecutor.
class MPIPoolExecutor final : public detail::RemoteExecutor {
 public:
  /// On rank 0 of comm (MPI_COMM_WORLD by default), while every other rank runs mpi_serve():
  /// checks that MPI is initialised with MPI_THREAD_SERIALIZED or more, that there is at least
  /// one worker rank and that every worker runs the client's very code, then starts the
  /// manager thread. Throws Error otherwise (the workers are told to stop first).
  explicit MPIPoolExecutor(MPI_Comm comm = MPI_COMM_WORLD)
      : comm_(comm), translation_(detail::mpi::rank_translation("concur::MPIPoolExecutor")) {
    namespace m = detail::mpi;
    int initialised = 0;
    m::check(MPI_Initialized(&initialised), "MPI_Initialized");
    if (initialised == 0) {
      throw Error(
          "concur::MPIPoolExecutor: MPI is not initialised: use concur::mpi_main, or call "
          "MPI_Init_thread with MPI_THREAD_SERIALIZED first");
    }
    int level = 0;
    m::check(MPI_Query_thread(&level), "MPI_Query_thread");
    if (level < MPI_THREAD_SERIALIZED) {
      throw Error(
          "concur::MPIPoolExecutor: MPI was initialised below MPI_THREAD_SERIALIZED; the pool's "
          "manager thread makes MPI calls: initialise with MPI_Init_thread(..., "
          "MPI_THREAD_SERIALIZED, ...) or use concur::mpi_main");
    }
    int rank = 0;
    int size = 0;
    m::check(MPI_Comm_rank(comm_, &rank), "MPI_Comm_rank");
    m::check(MPI_Comm_size(comm_, &size), "MPI_Comm_size");
    if (rank != 0) {
      throw Error("concur::MPIPoolExecutor: built on rank " + std::to_string(rank) +
                  "; the pool lives on rank 0, and every other rank calls concur::mpi_serve() "
                  "(concur::mpi_main does both)");
    }
    if (size < 2) {
      throw Error(
          "concur::MPIPoolExecutor: the job has one rank, so no worker: launch it with "
          "mpirun -n 3 (rank 0 submits, the others run the calls)");
    }
    workers_ = static_cast<std::size_t>(size - 1);
    handshake();
    load_.assign(workers_, 0);
    manager_ = std::thread([this] { manage(); });
  }

  MPIPoolExecutor(const MPIPoolExecutor&) = delete;
  MPIPoolExecutor& operator=(const MPIPoolExecutor&) = delete;

  /// shutdown(true): every submitted call ends, then every worker rank leaves mpi_serve().
  ~MPIPoolExecutor() override { shutdown(true); }

  // submit() and map() (checked at compile time): see detail::RemoteExecutor.

  /// Stops accepting calls; see Executor::shutdown. With cancel_futures, the calls not yet sent
  /// to a rank are cancelled. With wait, returns once every call has ended and every worker
  /// rank has been told to leave mpi_serve().
  void shutdown(bool wait = true, bool cancel_futures = false) override {
    std::deque<Queued> cancelled;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
      woken_ = true;
      if (cancel_futures) cancelled.swap(queue_);
    }
    for (Queued& q : cancelled) q.task.cancel();
    wake_.notify_all();
    if (wait) {
      std::lock_guard<std::mutex> join_lock(join_mutex_);
      if (manager_.joinable() && manager_.get_id() != std::this_thread::get_id()) manager_.join();
    }
  }

  /// How many worker ranks serve the pool (the communicator's size minus one).
  std::size_t max_workers() const noexcept { return workers_; }

 protected:
  void submit_task(detail::Task task) override {
    require_remote_capable(task, "concur::MPIPoolExecutor");
    Queued queued{std::move(task), {}, 0};
    {
      const detail::CodeAddressScope scope(translation_);
      Writer w;
      w.write_raw(std::uint64_t{0});  // the id, filled in below
      queued.task.encode(w);          // throws for a function outside the program's code
      queued.message = w.release();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (shutdown_) {
        throw ShutdownError(
            "concur::MPIPoolExecutor::submit: cannot schedule new tasks after shutdown(); "
            "submit before shutting down, or use a new executor");
      }
      queued.id = ++last_id_;
      std::memcpy(queued.message.data(), &queued.id, sizeof queued.id);
      queue_.push_back(std::move(queued));
      woken_ = true;
    }
    wake_.notify_one();
  }

 private:
  struct Queued {
    detail::Task task;
    std::vector<std::byte> message;  // the call id, then the call
    std::uint64_t id = 0;
  };
  struct Sent {
    detail::Task task;
    std::size_t worker;
  };
  struct Sending {
    MPI_Request request;
    std::vector<std::byte> message;
  };

  // Every worker reports its code's fingerprint; one that differs from ours ends the pool
  // before it starts (all workers are told to stop).
  void handshake() {
    namespace m = detail::mpi;
    const std::uint64_t mine = m::program_code().fingerprint;
    for (std::size_t w = 1; w <= workers_; ++w) {
      m::send(comm_, static_cast<int>(w), m::tag_hello, m::message_of(mine));
    }
    std::string mismatched;
    for (std::size_t n = 0; n < workers_; ++n) {
      const MPI_Status status = m::wait_for_message(comm_, MPI_ANY_SOURCE, m::tag_hello);
      const std::vector<std::byte> bytes = m::receive(comm_, status);
      Reader in(bytes);
      const auto same = in.read_raw<std::uint8_t>();
      if (same == 0) {
        mismatched += (mismatched.empty() ? "" : ", ") + std::to_string(status.MPI_SOURCE);
      }
    }
    if (!mismatched.empty()) {
      stop_workers();
      throw Error("concur::MPIPoolExecutor: rank(s) " + mismatched +
                  " run another build of the program (their code differs from rank 0's): "
                  "every rank must run the same executable");
    }
  }

  void stop_workers() {
    namespace m = detail::mpi;
    for (std::size_t w = 1; w <= workers_; ++w) {
      m::send(comm_, static_cast<int>(w), m::tag_stop, {});
    }
  }

  // The manager thread: sends calls to the least loaded worker ranks (at most two each: one
  // running, one waiting there), receives replies, and sleeps in between (see Backoff) or until
  // a submit or shutdown wakes it. Ends once shut down with nothing queued or out.
  void manage() {
    namespace m = detail::mpi;
    m::Backoff backoff;
    for (;;) {
      bool progress = false;
      try {
        const bool sent = dispatch();
        const bool received = receive_replies();
        const bool completed = complete_sends();
        progress = sent || received || completed;
      } catch (...) {
        fail_everything(std::current_exception());
        return;
      }
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (shutdown_ && queue_.empty() && sent_.empty() && sending_.empty()) break;
        if (progress) {
          backoff.reset();
          continue;
        }
        if (sent_.empty() && sending_.empty()) {
          wake_.wait(lock, [this] { return woken_; });  // nothing out: only we can make work
          backoff.reset();
        } else if (const auto wait = backoff.next(); wait.count() != 0) {
          wake_.wait_for(lock, wait, [this] { return woken_; });
        }
        woken_ = false;
      }
    }
    try {
      stop_workers();
    } catch (...) {  // MPI itself failed: Open MPI ends the job anyway
    }
  }

  bool dispatch() {
    bool progress = false;
    for (;;) {
      const auto least = std::min_element(load_.begin(), load_.end());
      if (*least >= calls_per_worker) return progress;
      Queued next;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.empty()) return progress;
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      progress = true;
      if (!next.task.start()) continue;  // cancelled while queued
      const auto worker = static_cast<std::size_t>(least - load_.begin());
      Sending sending{MPI_REQUEST_NULL, std::move(next.message)};
      sending_.push_back(std::move(sending));
      Sending& s = sending_.back();
      detail::mpi::check(
          MPI_Isend(s.message.data(), static_cast<int>(s.message.size()), MPI_BYTE,
                    static_cast<int>(worker + 1), detail::mpi::tag_call, comm_, &s.request),
          "MPI_Isend");
      ++*least;
      sent_.emplace(next.id, Sent{std::move(next.task), worker});
    }
  }

  bool receive_replies() {
    namespace m = detail::mpi;
    bool progress = false;
    for (;;) {
      int flag = 0;
      MPI_Status status{};
      m::check(MPI_Iprobe(MPI_ANY_SOURCE, m::tag_reply, comm_, &flag, &status), "MPI_Iprobe");
      if (flag == 0) return progress;
      progress = true;
      const std::vector<std::byte> bytes = m::receive(comm_, status);
      Reader in(bytes);
      const auto id = in.read_raw<std::uint64_t>();
      const auto found = sent_.find(id);
      if (found == sent_.end()) continue;  // never happens: each call is sent once
      Sent sent = std::move(found->second);
      sent_.erase(found);
      --load_[sent.worker];
      sent.task.finish_from(in);  // runs the future's callbacks here
    }
  }

  bool complete_sends() {
    bool progress = false;
    for (auto it = sending_.begin(); it != sending_.end();) {
      int done = 0;
      detail::mpi::check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done != 0) {
        it = sending_.erase(it);
        progress = true;
      } else {
        ++it;
      }
    }
    return progress;
  }

  // MPI failed under the manager (with Open MPI's default error handler it never returns an
  // error; another may): every call ends with the error, later submits throw.
  void fail_everything(const std::exception_ptr& error) noexcept {
    std::deque<Queued> queued;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
      queued.swap(queue_);
    }
    for (Queued& q : queued) q.task.fail(error);
    for (auto& [id, sent] : sent_) sent.task.fail(error);
    sent_.clear();
  }

  static constexpr std::size_t calls_per_worker = 2;

  MPI_Comm comm_;
  detail::CodeAddressTranslation translation_;
  std::size_t workers_ = 0;
  std::mutex mutex_;  // guards queue_, shutdown_, woken_ (work for the manager), last_id_
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  bool shutdown_ = false;
  bool woken_ = false;
  std::uint64_t last_id_ = 0;
  // The manager thread's own:
  std::vector<std::size_t> load_;  // calls sent to each worker and not answered
  std::map<std::uint64_t, Sent> sent_;
  std::deque<Sending> sending_;  // sends in progress (their buffers must live until done)
  std::mutex join_mutex_;
  std::thread manager_;
};

/// The entry point of an SPMD program: every rank calls it with main's arguments. Initialises
/// MPI (MPI_THREAD_SERIALIZED); rank 0 builds an MPIPoolExecutor over the other ranks and
/// calls client(pool), while every other rank serves it (mpi_serve); the pool is shut down
/// when client returns, then MPI is finalised. Returns client's result (0 if it returns
/// nothing) on rank 0, 0 on the others; 1 if MPI or the pool could not start, or if client
/// threw (its what() is printed on stderr; the workers are still stopped cleanly).
template <class Client>
int mpi_main(int& argc, char**& argv, Client&& client) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
    std::cerr << "concur::mpi_main: MPI_Init_thread failed" << std::endl;
    return 1;
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int status = 0;
  if (provided < MPI_THREAD_SERIALIZED) {
    if (rank == 0) {
      std::cerr << "concur::mpi_main: this MPI library does not provide MPI_THREAD_SERIALIZED"
                << std::endl;
    }
    status = 1;
  } else if (rank == 0) {
    try {
      MPIPoolExecutor pool;
      if constexpr (std::is_void_v<std::invoke_result_t<Client&, MPIPoolExecutor&>>) {
        std::invoke(client, pool);
      } else {
        status = static_cast<int>(std::invoke(client, pool));
      }
    } catch (const std::exception& e) {
      std::cerr << "concur::mpi_main: " << e.what() << std::endl;
      status = 1;
    }
  } else {
    try {
      status = mpi_serve();
    } catch (const std::exception& e) {
      std::cerr << "concur::mpi_main (rank " << rank << "): " << e.what() << std::endl;
      MPI_Abort(MPI_COMM_WORLD, 1);  // this rank cannot serve: end the job, never hang it
    }
  }
  MPI_Finalize();
  return status;
}

}  // namespace concur
