// concur/detail/remote.hpp - running a call in another process of the same program: the
// message a call becomes, the entry point that runs it there, and exceptions as bytes.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/codec.hpp>
#include <concur/errors.hpp>

#include <concur/detail/future_state.hpp>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace concur::detail {

// What a forked worker can run: code addresses mean the same in a fork of this program, so a
// function pointer travels as its value; a captureless lambda or an empty function object
// carries no state at all. Anything with state could point into the parent's memory.
template <class F>
concept forkable_callable = (std::is_pointer_v<F> &&
                             std::is_function_v<std::remove_pointer_t<F>>) ||
                            (std::is_class_v<F> && std::is_empty_v<F> &&
                             std::is_trivially_copyable_v<F>);

// A forkable callable as a value that crosses to a worker (map's chunks pass fn this way).
template <class F>
struct Shipped {
  F fn;
};

// How code addresses (entry points, function pointers) travel. In a fork they mean the same,
// so the process pool sends them as they are. Processes that run the same program but were
// not forked from each other (MPI ranks, see mpi.hpp) load it at different addresses: there a
// CodeAddressScope makes this thread send each address as its offset from the program's load
// address, and check that it lies in the program (a shared library's function would not mean
// the same in another process).
struct CodeAddressTranslation {
  std::uintptr_t base = 0;   // subtracted when written, added when read
  std::uintptr_t begin = 0;  // the program's code, [begin, end): 0, 0 means no check
  std::uintptr_t end = 0;
  const char* who = "concur";  // names the executor in errors
};

inline CodeAddressTranslation*& code_address_translation() noexcept {
  static thread_local CodeAddressTranslation* current = nullptr;
  return current;
}

// Sets this thread's translation for its lifetime.
class CodeAddressScope {
 public:
  explicit CodeAddressScope(CodeAddressTranslation& t) noexcept
      : previous_(std::exchange(code_address_translation(), &t)) {}
  CodeAddressScope(const CodeAddressScope&) = delete;
  CodeAddressScope& operator=(const CodeAddressScope&) = delete;
  ~CodeAddressScope() { code_address_translation() = previous_; }

 private:
  CodeAddressTranslation* previous_;
};

inline void write_code_address(Writer& w, std::uintptr_t address) {
  if (const CodeAddressTranslation* t = code_address_translation()) {
    if (t->end != 0 && (address < t->begin || address >= t->end)) {
      throw Error(std::string(t->who) +
                  ": the function is not in the program's own code (it is in a shared library?); "
                  "other processes of the program cannot find it there: call it from a function "
                  "or a captureless lambda of the program");
    }
    address -= t->base;
  }
  w.write_raw(address);
}

inline std::uintptr_t read_code_address(Reader& r) {
  std::uintptr_t address = r.read_raw<std::uintptr_t>();
  if (const CodeAddressTranslation* t = code_address_translation()) {
    address += t->base;
    if (t->end != 0 && (address < t->begin || address >= t->end)) {
      throw CodecError(std::string(t->who) + ": a code address outside the program's code");
    }
  }
  return address;
}

template <forkable_callable F>
void encode_callable(Writer& w, const F& fn) {
  if constexpr (std::is_pointer_v<F>) {
    write_code_address(w, reinterpret_cast<std::uintptr_t>(fn));
  } else {
    static_cast<void>(fn);  // empty: nothing to send
  }
}

template <forkable_callable F>
F decode_callable(Reader& r) {
  if constexpr (std::is_pointer_v<F>) {
    return reinterpret_cast<F>(read_code_address(r));
  } else {
    // An empty, trivially copyable object has no value to restore: its bytes are padding.
    struct alignas(F) Bytes {
      unsigned char b[sizeof(F)];
    };
    return std::bit_cast<F>(Bytes{});
  }
}

// A pointer travels as its value; an empty callable as no bytes at all (so decoding counts
// vectors of those against Reader::max_empty_elements, not against the bytes left).
template <class F>
struct MinSize<Shipped<F>> {
  static constexpr std::size_t value = std::is_pointer_v<F> ? sizeof(std::uintptr_t) : 0;
};

// ---- exceptions as bytes -------------------------------------------------------------------

enum class ErrorKind : std::uint8_t {
  remote,  // anything else: RemoteError(type name, what)
  exception,
  worker_crashed,
  logic_error,
  invalid_argument,
  domain_error,
  length_error,
  out_of_range,
  runtime_error,
  range_error,
  overflow_error,
  underflow_error,
  bad_alloc,
  error,
  cancelled_error,
  timeout_error,
  invalid_state_error,
  broken_promise,
  shutdown_error,
  broken_executor,
  broken_thread_pool,
  broken_process_pool,
  codec_error,
};

// The exception types that are rebuilt from their what() on the other side, with their kind.
#define CONCUR_DETAIL_WHAT_ERRORS(X)         \
  X(std::logic_error, logic_error)           \
  X(std::invalid_argument, invalid_argument) \
  X(std::domain_error, domain_error)         \
  X(std::length_error, length_error)         \
  X(std::out_of_range, out_of_range)         \
  X(std::runtime_error, runtime_error)       \
  X(std::range_error, range_error)           \
  X(std::overflow_error, overflow_error)     \
  X(std::underflow_error, underflow_error)   \
  X(Error, error)                            \
  X(CancelledError, cancelled_error)         \
  X(TimeoutError, timeout_error)             \
  X(InvalidStateError, invalid_state_error)  \
  X(BrokenPromise, broken_promise)           \
  X(ShutdownError, shutdown_error)           \
  X(BrokenExecutor, broken_executor)         \
  X(BrokenThreadPool, broken_thread_pool)    \
  X(BrokenProcessPool, broken_process_pool)  \
  X(CodecError, codec_error)

// Writes kind, type name and what() of the exception being handled. REQUIRES: inside a catch.
inline void encode_current_exception(Writer& w) {
  ErrorKind kind = ErrorKind::remote;
  std::string type;
  std::string what;
  try {
    throw;
  } catch (const std::exception& e) {
    type = demangle(typeid(e).name());
    what = e.what();
    const std::type_info& t = typeid(e);
    if (t == typeid(RemoteError)) {
      type = static_cast<const RemoteError&>(e).type_name();
    }
    if (t == typeid(std::exception)) {
      kind = ErrorKind::exception;
    } else if (t == typeid(WorkerCrashedError)) {
      kind = ErrorKind::worker_crashed;
    } else if (t == typeid(std::bad_alloc)) {
      kind = ErrorKind::bad_alloc;
    }
#define CONCUR_KIND(T, K) else if (t == typeid(T)) kind = ErrorKind::K;
    CONCUR_DETAIL_WHAT_ERRORS(CONCUR_KIND)
#undef CONCUR_KIND
  } catch (...) {
#if CONCUR_HAS_CXXABI
    if (const std::type_info* t = abi::__cxa_current_exception_type()) type = demangle(t->name());
#endif
    if (type.empty()) type = "unknown exception";
    what = "an exception of type " + type + " (not derived from std::exception)";
  }
  w.write_raw(static_cast<std::uint8_t>(kind));
  w.write(type);
  w.write(what);
  if (kind == ErrorKind::worker_crashed) {
    try {
      throw;
    } catch (const WorkerCrashedError& e) {
      w.write(e.pid());
      w.write(e.exit_status());
      w.write(e.signal());
    }
  }
}

// Rebuilds an exception written by encode_current_exception.
inline std::exception_ptr decode_exception(Reader& r) {
  const auto kind = static_cast<ErrorKind>(r.read_raw<std::uint8_t>());
  std::string type = r.read<std::string>();
  std::string what = r.read<std::string>();
  switch (kind) {
#define CONCUR_REBUILD(T, K) \
  case ErrorKind::K:         \
    return std::make_exception_ptr(T(what));
    CONCUR_DETAIL_WHAT_ERRORS(CONCUR_REBUILD)
#undef CONCUR_REBUILD
    case ErrorKind::bad_alloc:
      return std::make_exception_ptr(std::bad_alloc());
    case ErrorKind::exception:
      return std::make_exception_ptr(std::exception());  // its what() is fixed anyway
    case ErrorKind::worker_crashed: {
      const int pid = r.read<int>();
      const int exit_status = r.read<int>();
      const int sig = r.read<int>();
      return std::make_exception_ptr(WorkerCrashedError(pid, exit_status, sig, what));
    }
    case ErrorKind::remote:
      return std::make_exception_ptr(RemoteError(std::move(type), what));
  }
  throw CodecError("concur: a worker's exception message is corrupt (unknown kind)");
}

#undef CONCUR_DETAIL_WHAT_ERRORS

// ---- the outcome of one call ---------------------------------------------------------------

// What the calls of one chunk produced (see map_range.hpp): one value slot per call, and the
// calls that threw, by position. Four bytes per int, where a value-or-exception per call took
// sixteen: less memory to fill, fault in and free on the way from the worker to the reader.
template <class Value>
struct ChunkResult {
  // The value itself where a placeholder can stand in for a call that threw; else optional.
  // (std::vector<bool> hands out no bool&: bool takes the optional too).
  using Slot =
      std::conditional_t<std::is_default_constructible_v<Value> &&
                             std::is_move_assignable_v<Value> && !std::is_same_v<Value, bool>,
                         Value, std::optional<Value>>;
  static Value& get(Slot& slot) {
    if constexpr (std::is_same_v<Slot, Value>) {
      return slot;
    } else {
      return *slot;
    }
  }

  std::vector<Slot> values;
  std::vector<std::uint64_t> error_at;     // ascending positions of the calls that threw
  std::vector<std::exception_ptr> errors;  // their exceptions, in the same order
};

// A value or an exception, on the wire: a status byte, then the value or the exception.
template <class R, class Call>
void encode_outcome(Writer& w, Call&& call) {
  const std::size_t start = w.bytes().size();
  try {
    if constexpr (std::is_void_v<R>) {
      call();
      w.write_raw(std::uint8_t{0});
    } else {
      R value = call();
      w.write_raw(std::uint8_t{0});
      w.write(value);
    }
  } catch (...) {
    w.bytes().resize(start);  // drop a half-written value
    w.write_raw(std::uint8_t{1});
    encode_current_exception(w);
  }
}

}  // namespace concur::detail

namespace concur {

template <class F>
requires detail::forkable_callable<F>
struct Codec<detail::Shipped<F>> {
  static void encode(Writer& w, const detail::Shipped<F>& s) { detail::encode_callable(w, s.fn); }
  static detail::Shipped<F> decode(Reader& r) {
    return detail::Shipped<F>{detail::decode_callable<F>(r)};
  }
};

template <class V>
requires detail::has_codec<typename detail::ChunkResult<V>::Slot>
struct Codec<detail::ChunkResult<V>> {
  static void encode(Writer& w, const detail::ChunkResult<V>& c) {
    w.write(c.values);
    w.write(c.error_at);
    for (const std::exception_ptr& e : c.errors) {
      try {
        std::rethrow_exception(e);
      } catch (...) {
        detail::encode_current_exception(w);
      }
    }
  }
  static detail::ChunkResult<V> decode(Reader& r) {
    detail::ChunkResult<V> c;
    c.values = r.read<std::vector<typename detail::ChunkResult<V>::Slot>>();
    c.error_at = r.read<std::vector<std::uint64_t>>();
    for (std::size_t i = 0; i < c.error_at.size(); ++i) {
      if (c.error_at[i] >= c.values.size() || (i > 0 && c.error_at[i] <= c.error_at[i - 1])) {
        throw CodecError("concur::Codec<ChunkResult>::decode: bad error position");
      }
    }
    c.errors.reserve(c.error_at.size());
    for (std::size_t i = 0; i < c.error_at.size(); ++i)
      c.errors.push_back(detail::decode_exception(r));
    return c;
  }
};

}  // namespace concur

namespace concur::detail {

// ---- stop requests in a worker process ----------------------------------------------------
//
// A call that takes a std::stop_token gets, in the worker, a token of a std::stop_source made
// for that call. The pool's stop signal (see posix/worker.hpp) names a call id; its handler
// records it and, when that call runs now, calls request_stop() on the published source. The
// handler may interrupt any instruction of the worker's one thread, so everything it reads is
// a lock-free atomic, published in an order that keeps each of its steps valid: the source
// before `running`, and withdrawn after it.
struct RemoteStop {
  std::atomic<std::uintptr_t> requested{0};  // the highest call id a stop request named
  std::atomic<std::uintptr_t> running{0};    // the call whose source is published, or 0
  std::atomic<std::stop_source*> source{nullptr};
  std::uintptr_t call_id = 0;  // the call the worker runs now (main line only)
};
static_assert(std::atomic<std::uintptr_t>::is_always_lock_free &&
                  std::atomic<std::stop_source*>::is_always_lock_free,
              "concur: stop requests in worker processes need lock-free atomics");

inline constinit RemoteStop remote_stop{};

// Called in a worker (normally from its stop signal handler): a stop request for call `id`.
inline void remote_stop_request(std::uintptr_t id) noexcept {
  std::uintptr_t seen = remote_stop.requested.load();
  while (seen < id && !remote_stop.requested.compare_exchange_weak(seen, id)) {
  }
  if (remote_stop.running.load() == id) {
    if (std::stop_source* source = remote_stop.source.load()) source->request_stop();
  }
}

// The stop state of the call the worker runs, published for remote_stop_request while it runs.
class RemoteStopScope {
 public:
  RemoteStopScope() {
    const std::uintptr_t id = remote_stop.call_id;
    remote_stop.source.store(&source_);
    remote_stop.running.store(id);
    if (remote_stop.requested.load() == id) source_.request_stop();  // requested before it ran
  }
  ~RemoteStopScope() {
    remote_stop.running.store(0);
    remote_stop.source.store(nullptr);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // withdrawn before source_ goes
  }
  RemoteStopScope(const RemoteStopScope&) = delete;
  RemoteStopScope& operator=(const RemoteStopScope&) = delete;

  std::stop_token token() const noexcept { return source_.get_token(); }

 private:
  std::stop_source source_;
};

// Runs in the worker: rebuilds fn and the arguments, calls fn(args...) (fn(token, args...) when
// Stoppable, with a token that the pool's stop signal reaches), writes the outcome.
template <class R, bool Stoppable, class F, class... Args>
void remote_entry(Reader& in, Writer& out) {
  encode_outcome<R>(out, [&]() -> R {
    F fn = decode_callable<F>(in);
    std::tuple<Args...> args{in.read<Args>()...};  // braces: read left to right
    if constexpr (Stoppable) {
      const RemoteStopScope scope;
      return std::apply(
          [&](Args&... xs) -> R {
            return std::invoke(std::move(fn), scope.token(), std::move(xs)...);
          },
          args);
    } else {
      return std::apply(std::move(fn), std::move(args));
    }
  });
}

using RemoteEntry = void (*)(Reader&, Writer&);

// Runs in the worker on a whole call message.
inline void run_remote_call(Reader& in, Writer& out) {
  const auto entry = reinterpret_cast<RemoteEntry>(read_code_address(in));
  entry(in, out);
}

// Sets a future from the outcome bytes a worker sent back.
template <class R>
void decode_outcome_into(Reader& in, const std::shared_ptr<StateBase>& state) {
  auto& typed = static_cast<State<R>&>(*state);
  try {
    const auto status = in.read_raw<std::uint8_t>();
    if (status == 0) {
      if constexpr (std::is_void_v<R>) {
        typed.set_value(state);
      } else {
        typed.set_value(state, in.read<R>());
      }
    } else if (status == 1) {
      typed.set_exception(state, decode_exception(in));
    } else {
      throw CodecError("concur::ProcessPoolExecutor: a worker's reply is corrupt (bad status)");
    }
  } catch (...) {
    typed.set_exception(state, std::current_exception());
  }
}

// Whether the process pool can run fn(args...) with result R.
template <class R, class F, class... Args>
constexpr bool remote_capable = forkable_callable<F> && (has_codec<Args> && ...) &&
                                (std::is_void_v<R> || has_codec<R>);

// How a packaged call becomes a message, and its reply a result. One per call type.
struct RemoteOps {
  void (*encode)(void* call, Writer& w);  // call: the Task body's callable
  void (*decode)(Reader& in, const std::shared_ptr<StateBase>& state);
};

}  // namespace concur::detail
