// concur/version.hpp - CONCUR_VERSION_MAJOR / MINOR / PATCH.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#define CONCUR_VERSION_MAJOR 0
#define CONCUR_VERSION_MINOR 1
#define CONCUR_VERSION_PATCH 0
/// major * 10000 + minor * 100 + patch, as FMT_VERSION.
#define CONCUR_VERSION \
  (CONCUR_VERSION_MAJOR * 10000 + CONCUR_VERSION_MINOR * 100 + CONCUR_VERSION_PATCH)
