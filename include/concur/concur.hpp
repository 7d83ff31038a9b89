// concur/concur.hpp - the umbrella header: every public header of concur.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <concur/codec.hpp>
#include <concur/coroutine.hpp>
#include <concur/errors.hpp>
#include <concur/executor.hpp>
#include <concur/future.hpp>
#include <concur/progress.hpp>
#include <concur/thread_pool.hpp>
#include <concur/version.hpp>
#include <concur/wait.hpp>

#include <concur/detail/config.hpp>
#if CONCUR_HAS_POSIX
#include <concur/process_pool.hpp>
#endif
