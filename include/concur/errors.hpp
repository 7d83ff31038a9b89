// concur/errors.hpp - concur::Error and its subclasses.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

// Every error concur throws derives from concur::Error (itself a std::runtime_error), so one
// catch clause handles them all. The names are Python's: concurrent.futures.CancelledError is
// concur::CancelledError, BrokenThreadPool is concur::BrokenThreadPool, and so on. Messages name
// the call, say what happened and what to do.
//
// Bad arguments (a chunksize of 0, say) throw std::invalid_argument, as Python raises
// ValueError; failures of the operating system throw std::system_error.

#include <stdexcept>
#include <string>
#include <utility>

namespace concur {

/// Base of every concur error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The future was cancelled before its call started. Python: CancelledError.
class CancelledError : public Error {
 public:
  using Error::Error;
};

/// A timed wait expired first. Python: TimeoutError.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

/// The operation does not fit the future's state (resolving twice, take() twice, an empty
/// handle). Python: InvalidStateError.
class InvalidStateError : public Error {
 public:
  using Error::Error;
};

/// The Promise was destroyed without a result: the call will never finish.
class BrokenPromise : public Error {
 public:
  using Error::Error;
};

/// submit() or map() after shutdown().
class ShutdownError : public Error {
 public:
  using Error::Error;
};

/// The executor cannot run calls any more. Python: BrokenExecutor.
class BrokenExecutor : public Error {
 public:
  using Error::Error;
};

/// A thread initializer failed. Python: BrokenThreadPool.
class BrokenThreadPool : public BrokenExecutor {
 public:
  using BrokenExecutor::BrokenExecutor;
};

/// A worker process died and the pool's policy is to break. Python: BrokenProcessPool.
class BrokenProcessPool : public BrokenExecutor {
 public:
  using BrokenExecutor::BrokenExecutor;
};

/// A worker process died while running this call.
class WorkerCrashedError : public Error {
 public:
  WorkerCrashedError(int pid, int exit_status, int signal, const std::string& what)
      : Error(what), pid_(pid), exit_status_(exit_status), signal_(signal) {}
  /// The pid of the worker that died.
  int pid() const noexcept { return pid_; }
  /// Its exit status, or -1 when it was killed by a signal.
  int exit_status() const noexcept { return exit_status_; }
  /// The signal that killed it, or 0 when it exited.
  int signal() const noexcept { return signal_; }

 private:
  int pid_;
  int exit_status_;
  int signal_;
};

/// An exception thrown in a worker process whose type cannot be rebuilt in this one.
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, const std::string& what)
      : Error(what), type_name_(std::move(type_name)) {}
  /// The demangled name of the exception's type in the worker.
  const std::string& type_name() const noexcept { return type_name_; }

 private:
  std::string type_name_;
};

/// Bytes that do not decode as the type asked for (truncated or corrupt).
class CodecError : public Error {
 public:
  using Error::Error;
};

}  // namespace concur
