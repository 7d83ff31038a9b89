/* model/future.pml - a Promela model of a future's state machine and of the Parker it wakes.
 * Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
 *
 * Models include/concur/detail/future_state.hpp (StateBase) and include/concur/detail/parker.hpp
 * (Parker, block_until), as they are written, for one future and these threads:
 *   - Producer: the pool's worker (Task::start = set_running_or_notify_cancel, then
 *     set_value/set_exception = complete), or a Promise's owner (complete alone); it may try
 *     to complete a second time (the first outcome must stay);
 *   - Canceller: Future::cancel;
 *   - Adder: Future::add_done_callback (StateBase::add_callback), NCALLBACKS of them;
 *   - Waiter: Future::wait/wait_for (StateBase::wait_until -> add_waiter -> block_until ->
 *     Parker::park_until -> remove_waiter), NWAITERS of them, each without or with a deadline
 *     (chosen by the model), each with its own Parker, which may hold a stale token from an
 *     earlier wait of its thread (a Parker is thread_local and reused), and whose condition
 *     variable may wake once spuriously.
 *
 * Checked (tools/model.sh runs it; NWAITERS, NCALLBACKS and SPURIOUS, the spurious wake-ups
 * each condition variable may make, are -D flags; defaults 2, 1, 1):
 *   - assertions: the state is completed at most once (no double completion); a second
 *     completion attempt returns false; each callback runs exactly once, after the state is
 *     done; cancel() never succeeds once the state ran; a wait that returns true sees a done
 *     state; a wait without a deadline returns true; at the end no waiter is left registered;
 *   - invalid end states (pan's default in -DSAFETY): no thread is left blocked forever, in
 *     particular no waiter asleep on its condition variable once the state is done (a lost
 *     wake-up ends the run with that waiter blocked);
 *   - with -DNP (non-progress cycles, no progress labels), that the model has no cycle at all:
 *     every execution ends, so "no invalid end state" means every waiter returns.
 *
 * Abstractions (each is stated where it applies):
 *   - memory: Spin runs steps in one global order (sequential consistency). The code shares
 *     data under mutexes (the future's mutex_, the Parker's mutex_) and through read-modify-
 *     writes of one atomic (Parker::state_), whose modification order is total; the lock-free
 *     reads of StateBase::state_ (done()) are acquire loads of a value written with release
 *     under mutex_ and only read as "done yet?", which a stale read answers "no";
 *   - a mutex is one byte (0: free; else its holder's _pid + 1); a condition variable is the
 *     flag "its one waiter is in the wait set" (a Parker has one sleeper: its thread);
 *   - trampoline_drain() and the WorkHelper path of block_until (a pool worker that waits
 *     runs queued tasks) are not modelled: the model is a thread outside every pool;
 *   - spin_until() (the spin phase) only reads done(); it is modelled as one read (any number
 *     of reads of a monotone flag ends the same ways as one);
 *   - callbacks and the outcome (value_/error_) are ghost counters;
 *   - steps are grouped into atomic blocks by Lipton's reduction: taking a mutex moves right,
 *     releasing it moves left, and a step on data guarded by a mutex the thread holds commutes
 *     with every step of the others; so a block of the form "lock; guarded steps; at most one
 *     step the others can see (a store to StateBase::state_, an RMW of Parker::state_); guarded
 *     steps; unlock" (or a prefix or suffix of it) has the same behaviours as its steps one by
 *     one. Each block says what it holds. Two blocks also join a load and a store of
 *     Parker::state_ by its owner; each says why that is safe (all another thread can do in
 *     between is Parker::unpark's exchange, which then reads and writes `notified` either way).
 *
 * Mutants (-D flags; tools/model.sh --mutant expects spin to find an error in each):
 *   MUTANT_NO_RECHECK       the waiter does not look at the state after registering
 *                           (add_waiter pushes without "if (done()) return false", and
 *                           block_until parks before its first ready())
 *   MUTANT_NO_UNPARK        settle_locked does not notify the registered waiters
 *   MUTANT_UNLOCKED_NOTIFY  Parker::unpark calls cv_.notify_one() without taking mutex_
 *   MUTANT_BLIND_ASLEEP     Parker::park_until stores asleep instead of its
 *                           compare_exchange(empty -> asleep) (a token that came meanwhile is lost)
 *   MUTANT_CANCEL_RUNNING   cancel() omits "if (s != pending) return false"
 */

#ifndef NWAITERS
#define NWAITERS 2
#endif
#ifndef SPURIOUS
#define SPURIOUS 1
#endif
#ifndef NCALLBACKS
#define NCALLBACKS 1
#endif

/* FutureState (future_state.hpp: "enum class FutureState { pending, running, cancelled, finished }") */
#define PENDING   0
#define RUNNING   1
#define CANCELLED 2
#define FINISHED  3

/* Parker::state_ values (parker.hpp: "empty = 0", "notified = 1", "asleep = 2") */
#define EMPTY    0
#define NOTIFIED 1
#define ASLEEP   2

/* StateBase::done(): "s == FutureState::cancelled || s == FutureState::finished" (one load) */
#define DONE (fstate == CANCELLED || fstate == FINISHED)

#define ME (_pid + 1)

/* StateBase */
byte fstate = PENDING;            /* StateBase::state_ */
byte fmutex = 0;                  /* StateBase::mutex_ */
bool registered[NWAITERS];        /* StateBase::waiters_ (each waiter's own Parker) */
bool cb_pending[NCALLBACKS];      /* StateBase::callbacks_ */

/* Parker, one per waiter */
byte pstate[NWAITERS];            /* Parker::state_ */
byte pmutex[NWAITERS];            /* Parker::mutex_ */
bool in_cv[NWAITERS];             /* Parker::cv_: its thread is in the wait set */
byte spurious[NWAITERS];          /* spurious wake-ups cv_ may still make */

/* ghosts */
byte completions = 0;             /* settle_locked calls */
bool ran = false;                 /* the state went running */
byte cb_runs[NCALLBACKS];
byte finished_waits = 0;

/* A callback runs: once, on a done state. future_state.hpp: invoke_callback, "fn(self)" */
inline invoke_callback(c) {
  assert(DONE);
  cb_runs[c]++;
  assert(cb_runs[c] == 1)
}

/* Parker::unpark() of waiter w's Parker; the caller holds the future's mutex_. */
inline unpark(w) {
  /* parker.hpp: Parker::unpark, "if (state_.exchange(notified, std::memory_order_acq_rel) == asleep)" */
  atomic { old = pstate[w]; pstate[w] = NOTIFIED };
  if
  :: old == ASLEEP ->
#ifndef MUTANT_UNLOCKED_NOTIFY
     /* holds nothing of the Parker; then holds its mutex_ for one visible step */
     atomic {
       /* parker.hpp: Parker::unpark, "std::lock_guard<std::mutex> lock(mutex_)" */
       pmutex[w] == 0 -> pmutex[w] = ME;
       /* parker.hpp: Parker::unpark, "cv_.notify_one()" (wakes the one sleeper, if in the wait set) */
       in_cv[w] = false;
       /* parker.hpp: Parker::unpark, end of the lock_guard's scope */
       pmutex[w] = 0;
       old = 0
     }
#else
     /* the mutant: "cv_.notify_one()" without the lock */
     atomic { in_cv[w] = false; old = 0 }
#endif
  :: else -> old = 0
  fi
}

/* StateBase::settle_locked(final_state): the first half, then the unparks. The caller holds
   the future's mutex_ and has just stored the final state (in the same atomic block). */
inline notify_waiters() {
#ifndef MUTANT_NO_UNPARK
  /* future_state.hpp: settle_locked, "waiters_.for_each([this](Waiter* w) { w->notify(*this); })"
     (Parker::notify: "unpark()"); waiters_ is guarded by the mutex_ held */
  i = 0;
  do
  :: i < NWAITERS ->
     if
     :: registered[i] -> unpark(i)
     :: else -> skip
     fi;
     i++
  :: else -> i = 0; break
  od
#else
  skip
#endif
}

/* StateBase::settle_locked, the rest, and the unlock of the caller's lock_guard; then
   run_callbacks. Holds the future's mutex_ until "fmutex = 0". */
inline finish_settle() {
  atomic {
    /* future_state.hpp: settle_locked, "waiters_.clear()" */
    i = 0;
    do
    :: i < NWAITERS -> registered[i] = false; i++
    :: else -> break
    od;
    /* future_state.hpp: settle_locked, "return std::move(callbacks_)" */
    i = 0;
    do
    :: i < NCALLBACKS -> mine[i] = cb_pending[i]; cb_pending[i] = false; i++
    :: else -> i = 0; break
    od;
    /* the caller's lock_guard ends */
    assert(fmutex == ME);
    fmutex = 0
  };
  /* future_state.hpp: run_callbacks, "callbacks.for_each(... invoke_callback(self, fn))", after
     unlocking. One step: a callback only bumps its own ghost counter. */
  atomic {
    do
    :: i < NCALLBACKS ->
       if
       :: mine[i] -> mine[i] = false; invoke_callback(i)
       :: else -> skip
       fi;
       i++
    :: else -> i = 0; break
    od
  }
}

/* StateBase::complete(self, store), as set_value and set_exception call it. Sets `ok`. */
inline complete() {
  atomic {
    /* future_state.hpp: complete, "std::lock_guard<std::mutex> lock(mutex_)" */
    fmutex == 0 -> fmutex = ME;
    if
    :: DONE ->
       /* future_state.hpp: complete, "if (done()) return false" (the lock_guard ends) */
       fmutex = 0;
       ok = false
    :: else ->
       /* future_state.hpp: complete, "store()" (the outcome: a ghost here), then
          "callbacks = settle_locked(FutureState::finished)": settle_locked,
          "state_.store(final_state, std::memory_order_release)" */
       completions++;
       assert(completions == 1);
       fstate = FINISHED;
       ok = true
    fi
  };
  if
  :: ok ->
     notify_waiters();
     /* future_state.hpp: complete, end of the lock_guard, "run_callbacks(self, callbacks)" */
     finish_settle()
  :: else -> skip
  fi
}

proctype Producer() {
  byte i; byte old; bool mine[NCALLBACKS]; bool ok; bool started;
  if
  :: /* an executor's call: task.hpp Task::start, "state_->set_running_or_notify_cancel(...)" */
     atomic {
       /* future_state.hpp: set_running_or_notify_cancel, "std::lock_guard<std::mutex> lock(mutex_)" */
       fmutex == 0 -> fmutex = ME;
       if
       :: fstate == PENDING ->
          /* future_state.hpp: set_running_or_notify_cancel, "state_.store(FutureState::running, release); return true" */
          fstate = RUNNING;
          ran = true;
          started = true
       :: fstate == CANCELLED ->
          /* future_state.hpp: set_running_or_notify_cancel, "if (s == FutureState::cancelled) return false" */
          started = false
       :: else ->
          /* future_state.hpp: set_running_or_notify_cancel, "throw InvalidStateError(...)": only
             a second completer could get here, and there is one */
          assert(false)
       fi;
       fmutex = 0
     }
  :: /* a Promise: set_value / set_exception without set_running_or_notify_cancel */
     started = true
  fi;
  if
  :: started ->
     /* future_state.hpp: State<T>::set_value / StateBase::set_exception, "return complete(self, ...)" */
     complete();
     /* only a cancel can come first, and only when the state never ran */
     assert(ok || (fstate == CANCELLED && !ran));
     if
     :: /* a second attempt (set_exception after set_value): the first outcome stays */
        complete();
        assert(!ok)
     :: skip
     fi
  :: else -> skip  /* task.hpp: a cancelled call is not run */
  fi
}

proctype Canceller() {
  byte i; byte old; bool mine[NCALLBACKS]; bool ok; bool settling;
  atomic {
    /* future_state.hpp: cancel, "std::lock_guard<std::mutex> lock(mutex_)", then
       "const FutureState s = state_.load(std::memory_order_relaxed)" */
    fmutex == 0 -> fmutex = ME;
    if
    :: fstate == CANCELLED ->
       /* future_state.hpp: cancel, "if (s == FutureState::cancelled) return true" */
       fmutex = 0;
       ok = true
#ifndef MUTANT_CANCEL_RUNNING
    :: fstate == RUNNING || fstate == FINISHED ->
       /* future_state.hpp: cancel, "if (s != FutureState::pending) return false" */
       fmutex = 0;
       ok = false
    :: fstate == PENDING ->
#else
    :: else ->
#endif
       /* future_state.hpp: cancel, "callbacks = settle_locked(FutureState::cancelled)":
          settle_locked, "state_.store(final_state, std::memory_order_release)" */
       completions++;
       assert(completions == 1);
       fstate = CANCELLED;
       ok = true;
       settling = true
    fi
  };
  if
  :: settling ->
     notify_waiters();
     /* future_state.hpp: cancel, end of the lock_guard; "on_cancelled()" (releases the call:
        nothing to model); "run_callbacks(self, callbacks)"; "return true" */
     finish_settle()
  :: else -> skip
  fi;
  /* cancel never succeeds after running */
  assert(!ok || !ran)
}

proctype Adder(byte c) {
  atomic {
    /* future_state.hpp: add_callback, "std::lock_guard<std::mutex> lock(mutex_)" */
    fmutex == 0 -> fmutex = ME;
    if
    :: !DONE ->
       /* future_state.hpp: add_callback, "if (!done()) { callbacks_.push_back(std::move(fn)); return; }" */
       cb_pending[c] = true;
       fmutex = 0
    :: else ->
       fmutex = 0;
       /* future_state.hpp: add_callback, "invoke_callback(self, fn)" (done already: now, here) */
       invoke_callback(c)
    fi
  }
}

/* Parker::park_until(deadline), by waiter w; `timed`: a deadline is set. Sets `woke`. */
inline park_until(w) {
  /* parker.hpp: park_until, "int expected = notified; if (state_.compare_exchange_strong(expected, empty, acquire)) return true" */
  atomic {
    if
    :: pstate[w] == NOTIFIED -> pstate[w] = EMPTY; woke = true
    :: else -> woke = false
    fi
  };
  if
  :: woke -> goto parked
  :: else -> skip
  fi;
#ifndef MUTANT_BLIND_ASLEEP
  atomic {
    /* parker.hpp: park_until, "std::unique_lock<std::mutex> lock(mutex_)" */
    pmutex[w] == 0 -> pmutex[w] = ME;
    /* parker.hpp: park_until, "expected = empty; if (!state_.compare_exchange_strong(expected, asleep, acq_rel))" */
    if
    :: pstate[w] == EMPTY -> pstate[w] = ASLEEP; cas = true
    :: else -> cas = false
    fi
  };
  if
  :: !cas ->
     atomic {
       /* parker.hpp: park_until, "state_.store(empty, std::memory_order_relaxed); // a token came meanwhile: take it"; "return true" (unlocks) */
       pstate[w] = EMPTY;
       pmutex[w] = 0;
       woke = true
     };
     goto parked
  :: else -> skip
  fi;
#else
  atomic {
    pmutex[w] == 0 -> pmutex[w] = ME;
    /* the mutant: "state_.store(asleep)" in place of the compare_exchange */
    pstate[w] = ASLEEP
  };
#endif
  /* parker.hpp: park_until, "while (true) {" */
  do
  :: true ->
     /* parker.hpp: park_until, "cv_.wait(lock)" / "cv_.wait_until(lock, *deadline)": releases
        mutex_ and enters the wait set, as one step */
     atomic { in_cv[w] = true; pmutex[w] = 0 };
     /* ... until notify_one, the deadline (when set) or a spurious wake-up */
     if
     :: atomic {
          !in_cv[w] ->
          /* notified: wait_until may still say timeout if the deadline passed meanwhile */
          if
          :: timed -> timed_out = true
          :: true -> timed_out = false
          fi
        }
     :: atomic { timed && in_cv[w] -> in_cv[w] = false; timed_out = true }
     :: atomic { spurious[w] > 0 && in_cv[w] -> spurious[w]--; in_cv[w] = false; timed_out = false }
     fi;
     atomic {
       /* ... and re-acquires mutex_ before returning */
       pmutex[w] == 0 -> pmutex[w] = ME;
       /* parker.hpp: park_until, "if (state_.load(std::memory_order_acquire) == notified)" and
          "state_.store(empty, std::memory_order_relaxed); return true;": one step, since all
          another thread can do meanwhile is store notified again (Parker::unpark's exchange) */
       if
       :: pstate[w] == NOTIFIED -> pstate[w] = EMPTY; pmutex[w] = 0; woke = true; cas = true
       :: else -> cas = false
       fi
     };
     if
     :: cas -> cas = false; timed_out = false; break
     :: else -> skip
     fi;
     if
     :: timed_out ->
        atomic {
          /* parker.hpp: park_until, "expected = asleep; if (state_.compare_exchange_strong(expected, empty, acq_rel)) return false;" */
          if
          :: pstate[w] == ASLEEP -> pstate[w] = EMPTY; woke = false
          :: else ->
             /* parker.hpp: park_until, "state_.store(empty, std::memory_order_relaxed); // woken just as time ran out"; "return true" */
             pstate[w] = EMPTY;
             woke = true
          fi;
          /* the unique_lock ends */
          pmutex[w] = 0;
          timed_out = false
        };
        break
     :: else -> skip  /* parker.hpp: park_until, back to the top of "while (true)" */
     fi
  od;
parked:
  cas = false;
  assert(!in_cv[w])
}

proctype Waiter(byte w) {
  bool timed; bool timed_out; bool woke; bool cas; bool result; bool ready;
  /* Future::wait() (no deadline) or wait_for/wait_until (a deadline that may pass any time) */
  if
  :: timed = false
  :: timed = true
  fi;
  /* future_state.hpp: wait_until, "if (done()) return true"; then "trampoline_drain()" (not
     modelled) and "if (done()) return true" again; then "spin_until([this] { return done(); },
     deadline)", true as soon as done(). Reads of a flag that only goes false -> true, with
     nothing of this thread in between: one read ends the same ways as several. */
  if
  :: DONE -> result = true; goto returned
  :: else -> skip
  fi;
  /* future_state.hpp: wait_until, "if (!add_waiter(&parker)) return true" */
  atomic {
    /* future_state.hpp: add_waiter, "std::lock_guard<std::mutex> lock(mutex_)" */
    fmutex == 0 -> fmutex = ME;
#ifndef MUTANT_NO_RECHECK
    /* future_state.hpp: add_waiter, "if (done()) return false" */
    if
    :: DONE -> result = true
    :: else -> skip
    fi;
#endif
    /* future_state.hpp: add_waiter, "waiters_.push_back(w)" */
    registered[w] = !result;
    fmutex = 0
  };
  if
  :: result -> goto returned
  :: else -> skip
  fi;
  /* future_state.hpp: wait_until, "return block_until([this] { return done(); }, deadline)" */
  /* parker.hpp: block_until, "while (!ready()) { if (!parker.park_until(deadline)) return ready(); }" */
  do
  :: true ->
#ifndef MUTANT_NO_RECHECK
     ready = DONE;
#else
     ready = false;  /* the mutant parks before it looks */
#endif
     if
     :: ready -> ready = false; result = true; break
     :: else -> skip
     fi;
     park_until(w);
     if
     :: !woke ->
        /* parker.hpp: block_until, "return ready()" after a timeout */
        result = DONE;
        break
     :: else -> woke = false
#ifdef MUTANT_NO_RECHECK
        ; if
          :: DONE -> result = true; break
          :: else -> skip
          fi
#endif
     fi
  od;
  /* future_state.hpp: wait_until, "~Unregister() { state->remove_waiter(parker); }" */
  atomic {
    /* future_state.hpp: remove_waiter, "std::lock_guard<std::mutex> lock(mutex_); waiters_.remove(w)" */
    fmutex == 0 -> fmutex = ME;
    registered[w] = false;
    fmutex = 0
  };
returned:
  /* true means done; a wait without a deadline returns true */
  assert(!result || DONE);
  assert(timed || result);
  finished_waits++
}

init {
  byte w; byte c;
  atomic {
    w = 0;
    do
    :: w < NWAITERS ->
       /* a Parker is thread_local and reused: an earlier wait may have left a token */
       if
       :: pstate[w] = EMPTY
       :: pstate[w] = NOTIFIED
       fi;
       spurious[w] = SPURIOUS;
       w++
    :: else -> break
    od;
    run Producer();
    run Canceller();
    c = 0;
    do
    :: c < NCALLBACKS -> run Adder(c); c++
    :: else -> break
    od;
    w = 0;
    do
    :: w < NWAITERS -> run Waiter(w); w++
    :: else -> break
    od
  };
  /* every other process has ended */
  _nr_pr == 1;
  assert(completions == 1);
  assert(DONE);
  c = 0;
  do
  :: c < NCALLBACKS -> assert(cb_runs[c] == 1); assert(!cb_pending[c]); c++
  :: else -> break
  od;
  w = 0;
  do
  :: w < NWAITERS -> assert(!registered[w]); assert(!in_cv[w]); assert(pmutex[w] == 0); w++
  :: else -> break
  od;
  assert(fmutex == 0);
  assert(finished_waits == NWAITERS)
}
