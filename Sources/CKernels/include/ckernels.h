#ifndef DPTRAIN_CKERNELS_H
#define DPTRAIN_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

// Elementwise loops that Swift's optimiser leaves scalar; clang vectorises them.

/// Rows `indices[0..<count]` of `pixels` (samples, features) as floats times `scale`
/// into `out` (count, features). Indices must be in range: the caller checks them.
void dptrain_gather_rows(const uint8_t *pixels, size_t features, const int32_t *indices, size_t count,
                         float *out, float scale);

#endif
