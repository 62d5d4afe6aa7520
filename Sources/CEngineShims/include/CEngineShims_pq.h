// libpq: its API is plain C functions Swift can call directly; this header only makes it
// visible through the umbrella module and adds the few helpers that need C.
#ifndef CENGINESHIMS_PQ_H
#define CENGINESHIMS_PQ_H

#include <postgresql/libpq-fe.h>

#endif
