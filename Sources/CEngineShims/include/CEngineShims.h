// CEngineShims: the only door from Swift to the engine's C libraries.
//
// Swift cannot call C macros (libev's ev_*_init / ev_*_set / ev_is_active) or variadic
// functions (curl_easy_setopt, curl_multi_setopt, curl_easy_getinfo). Each sub-header turns
// them into small typed `static inline` functions named CEngineShims_<lib>_<name>.
// Functions that need headers Swift must not see (OpenSSL) live in shim.c.
#ifndef CENGINESHIMS_H
#define CENGINESHIMS_H

#include "CEngineShims_ev.h"
#include "CEngineShims_curl.h"
#include "CEngineShims_ares.h"
#include "CEngineShims_posix.h"
#include "CEngineShims_tls.h"
#include "CEngineShims_pq.h"
#include "CEngineShims_redis.h"

#endif
