#include "cbuildinfo.h"

#ifndef DPTRAIN_COMMIT
#define DPTRAIN_COMMIT "unknown"
#endif

const char *dptrain_build_commit(void) { return DPTRAIN_COMMIT; }
