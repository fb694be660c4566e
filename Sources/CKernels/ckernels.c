#include "ckernels.h"

void dptrain_gather_rows(const uint8_t *restrict pixels, size_t features, const int32_t *restrict indices,
                         size_t count, float *restrict out, float scale) {
    for (size_t row = 0; row < count; row++) {
        // Samples are scattered over tens of megabytes: ask for the next rows early.
        if (row + 2 < count) {
            const uint8_t *ahead = pixels + (size_t)indices[row + 2] * features;
            for (size_t offset = 0; offset < features; offset += 64) __builtin_prefetch(ahead + offset);
        }
        const uint8_t *from = pixels + (size_t)indices[row] * features;
        float *to = out + row * features;
        for (size_t f = 0; f < features; f++) to[f] = (float)from[f] * scale;
    }
}
