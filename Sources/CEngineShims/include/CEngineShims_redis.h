// hiredis 0.14: the async API with the libev adapter. Commands go through
// redisAsyncCommandArgv (never the variadic redisAsyncCommand). adapters/libev.h is made of
// static functions, so it is included only from shim.c, which exports the attach function.
#ifndef CENGINESHIMS_REDIS_H
#define CENGINESHIMS_REDIS_H

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

struct ev_loop;

/// Attaches an async context to a libev loop (hiredis' adapters/libev.h). Returns REDIS_OK or REDIS_ERR.
int CEngineShims_redis_libev_attach(struct ev_loop *loop, redisAsyncContext *context);

#endif
