#include "cmalloc.h"

#ifdef __GLIBC__
#include <malloc.h>

int dptrain_keep_allocations_in_heap(int bytes, int trim_bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes) == 1 && mallopt(M_TRIM_THRESHOLD, trim_bytes) == 1;
}
#else
int dptrain_keep_allocations_in_heap(int bytes, int trim_bytes) {
    (void)bytes;
    (void)trim_bytes;
    return 0;   // other C libraries have their own allocators, and no mallopt
}
#endif
