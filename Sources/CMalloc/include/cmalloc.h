#ifndef DPTRAIN_CMALLOC_H
#define DPTRAIN_CMALLOC_H

// glibc's mallopt, which Swift's Glibc module does not bring in (malloc.h is not part of it).

/// Serves allocations of up to `bytes` from the heap rather than from a fresh mmap each, and
/// keeps up to `trim_bytes` of freed heap top before returning it to the kernel. Returns 1 when
/// glibc took both settings.
int dptrain_keep_allocations_in_heap(int bytes, int trim_bytes);

#endif
