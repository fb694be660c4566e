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

// bfloat16 kernels. Inputs from the network may sit at any address: they are read with
// memcpy, which clang turns into plain (unaligned) vector loads.

static inline uint16_t bf16_round(uint32_t bits) {
    // Round to nearest, ties to even: add 0x7FFF plus the lowest kept bit, then truncate.
    // A NaN is kept a NaN by setting a mantissa bit its rounding might have cleared.
    uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    uint32_t is_nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
    return (uint16_t)(is_nan ? ((bits >> 16) | 0x40u) : rounded);
}

void dptrain_float_to_bf16(const float *restrict in, size_t count, uint16_t *restrict out) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        __builtin_memcpy(&bits, in + i, 4);
        out[i] = bf16_round(bits);
    }
}

/// The `index`th bfloat16 of `bytes` (at any alignment), widened to a float exactly.
static inline float bf16_load(const uint8_t *bytes, size_t index) {
    uint16_t half;
    __builtin_memcpy(&half, bytes + 2 * index, 2);
    uint32_t bits = (uint32_t)half << 16;
    float value;
    __builtin_memcpy(&value, &bits, 4);
    return value;
}

void dptrain_bf16_to_float(const void *restrict in, size_t count, float *restrict out) {
    for (size_t i = 0; i < count; i++) out[i] = bf16_load(in, i);
}

void dptrain_bf16_add_into(const void *restrict in, size_t count, float *restrict sum) {
    for (size_t i = 0; i < count; i++) sum[i] += bf16_load(in, i);
}

size_t dptrain_bf16_first_non_finite(const void *in, size_t count) {
    const uint8_t *bytes = in;
    // Or the exponents together in blocks, which vectorises, and look closer only at a bad block.
    for (size_t block = 0; block < count; block += 512) {
        size_t end = block + 512 < count ? block + 512 : count;
        uint16_t any = 0;
        for (size_t i = block; i < end; i++) {
            uint16_t half;
            __builtin_memcpy(&half, bytes + 2 * i, 2);
            any |= (uint16_t)((half & 0x7F80u) == 0x7F80u);
        }
        if (!any) continue;
        for (size_t i = block; i < end; i++) {
            uint16_t half;
            __builtin_memcpy(&half, bytes + 2 * i, 2);
            if ((half & 0x7F80u) == 0x7F80u) return i;
        }
    }
    return count;
}
