#include "ckernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Samples are scattered over tens of megabytes: ask for the row two ahead while this one is copied.
static inline void prefetch_row_ahead(const uint8_t *pixels, size_t features, const int32_t *indices,
                                      size_t row, size_t count) {
    if (row + 2 >= count) return;
    const uint8_t *ahead = pixels + (size_t)indices[row + 2] * features;
    for (size_t offset = 0; offset < features; offset += 64) __builtin_prefetch(ahead + offset);
}

void dptrain_gather_rows(const uint8_t *restrict pixels, size_t features, const int32_t *restrict indices,
                         size_t count, float *restrict out, float scale) {
    for (size_t row = 0; row < count; row++) {
        prefetch_row_ahead(pixels, features, indices, row, count);
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

// The index of the first value among `count` of `width` bytes (2 or 4, little-endian, at any
// alignment) whose exponent bits are all set (NaN or infinity), or `count`. Called with
// constants, so each caller gets its own loop: the exponents ored together in blocks, which
// vectorises, and a closer look only at a bad block.
static inline __attribute__((always_inline)) size_t first_non_finite(const void *in, size_t count, int width, uint32_t exponent) {
    const uint8_t *bytes = in;
    for (size_t block = 0; block < count; block += 512) {
        size_t end = block + 512 < count ? block + 512 : count;
        uint32_t any = 0;
        for (size_t i = block; i < end; i++) {
            uint32_t word = 0;
            __builtin_memcpy(&word, bytes + width * i, width);
            any |= (uint32_t)((word & exponent) == exponent);
        }
        if (!any) continue;
        for (size_t i = block; i < end; i++) {
            uint32_t word = 0;
            __builtin_memcpy(&word, bytes + width * i, width);
            if ((word & exponent) == exponent) return i;
        }
    }
    return count;
}

size_t dptrain_bf16_first_non_finite(const void *in, size_t count) { return first_non_finite(in, count, 2, 0x7F80u); }

size_t dptrain_float_first_non_finite(const void *in, size_t count) { return first_non_finite(in, count, 4, 0x7F800000u); }

// Fixed point: see FixedPoint.swift. Loads and stores go through memcpy, so the sums may sit at any
// alignment (a received frame), and the adds are done as unsigned so that they wrap rather than
// being undefined; the callers bound every value, so nothing ever wraps.
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fixed-point sums travel little-endian and are added in place"
#endif

// The fixed-point loops run once per chunk (the accumulate) or per message over every
// parameter: compiled for each vector width x86 has, the widest the CPU runs chosen when the
// program loads. Every width gives the same integers and floats (each element's product by a
// power of two is exact, and each rounding is IEEE's), so which one runs cannot change a bit.
//
// Not under ThreadSanitizer: the loader calls each clone's resolver while it relocates the
// program, before the sanitizer's runtime is set up, and the instrumented resolver crashes
// (deploy/test-sanitizers.sh). Such a build runs the default width; its integers are the same.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DPTRAIN_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__linux__) && !defined(DPTRAIN_NO_CLONES)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES
int dptrain_fixed_accumulate(const float *restrict values, size_t count, double scale, double bound,
                             void *restrict sums, int replace, uint64_t *restrict signBits) {
    // x + 1.5 * 2^52 rounds x to an integer, half to even, in the low bits of the double, for
    // |x| < 2^51: integer adds and subtracts that vectorise, where llrint does not without AVX-512.
    const double magic = 6755399441055744.0;
    const int64_t magicBits = 0x4338000000000000LL;
    int outside = 0;
    uint64_t differing = 0;   // every bit of the new sums that differs from its sign, as in dptrain_fixed_width
    unsigned char *bytes = sums;
    for (size_t i = 0; i < count; i++) {
        double x = (double)values[i] * scale;
        outside |= !(__builtin_fabs(x) < bound);   // NaN too
        double shifted = x + magic;
        int64_t bits, sum;
        __builtin_memcpy(&bits, &shifted, 8);
        if (replace) sum = 0;   // a step's first chunk: the sums are written, not read
        else __builtin_memcpy(&sum, bytes + 8 * i, 8);
        uint64_t next = (uint64_t)sum + (uint64_t)(bits - magicBits);
        __builtin_memcpy(bytes + 8 * i, &next, 8);
        differing |= next ^ (uint64_t)((int64_t)next >> 63);
    }
    *signBits = differing;
    return outside;
}

VECTOR_CLONES
void dptrain_fixed_add(const void *restrict values, size_t count, void *restrict sums) {
    const unsigned char *from = values;
    unsigned char *to = sums;
    for (size_t i = 0; i < count; i++) {
        uint64_t a, b;
        __builtin_memcpy(&a, from + 8 * i, 8);
        __builtin_memcpy(&b, to + 8 * i, 8);
        b += a;
        __builtin_memcpy(to + 8 * i, &b, 8);
    }
}

VECTOR_CLONES
uint64_t dptrain_fixed_add_sums(int64_t *restrict sums, const int64_t *const *sources, size_t sourceCount, size_t begin, size_t end) {
    uint64_t differing = 0;
    for (size_t s = 0; s < sourceCount; s++) {
        const int64_t *restrict from = sources[s];
        int last = s + 1 == sourceCount;
        if (last) {
            for (size_t i = begin; i < end; i++) {
                uint64_t next = (uint64_t)sums[i] + (uint64_t)from[i];
                sums[i] = (int64_t)next;
                differing |= next ^ (uint64_t)((int64_t)next >> 63);
            }
        } else {
            for (size_t i = begin; i < end; i++) sums[i] = (int64_t)((uint64_t)sums[i] + (uint64_t)from[i]);
        }
    }
    if (sourceCount == 0) {
        for (size_t i = begin; i < end; i++) differing |= (uint64_t)sums[i] ^ (uint64_t)(sums[i] >> 63);
    }
    return differing;
}

VECTOR_CLONES
void dptrain_fixed_sources_to_float(const int64_t *const *sources, size_t sourceCount, size_t begin, size_t end,
                                    double inverseScale, float *restrict out) {
    for (size_t i = begin; i < end; i++) {
        uint64_t total = 0;
        for (size_t s = 0; s < sourceCount; s++) total += (uint64_t)sources[s][i];
        out[i] = (float)((double)(int64_t)total * inverseScale);
    }
}

VECTOR_CLONES
uint64_t dptrain_fixed_largest_magnitude(const void *values, size_t count) {
    const unsigned char *from = values;
    uint64_t largest = 0;
    for (size_t i = 0; i < count; i++) {
        int64_t v;
        __builtin_memcpy(&v, from + 8 * i, 8);
        // |INT64_MIN| does not fit an int64; as unsigned it is 2^63, beyond any bound.
        uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        largest = magnitude > largest ? magnitude : largest;
    }
    return largest;
}

int dptrain_fixed_width_of_bits(uint64_t signBits) {
    int width = 1;   // a width of w bytes holds values whose magnitude bits fit 8w - 1
    while (width < 8 && (signBits >> (8 * width - 1)) != 0) width++;
    return width;
}

VECTOR_CLONES
int dptrain_fixed_width(const void *values, size_t count) {
    uint64_t bits = 0;   // every bit that differs from the sign, over all values
    const unsigned char *from = values;
    for (size_t i = 0; i < count; i++) {
        int64_t v;
        __builtin_memcpy(&v, from + 8 * i, 8);
        bits |= (uint64_t)(v ^ (v >> 63));
    }
    return dptrain_fixed_width_of_bits(bits);
}

// One loop per width, so that each copies a constant number of bytes.
#define PACK_CASE(W) case W: for (size_t i = 0; i < count; i++) __builtin_memcpy(to + (W) * i, from + 8 * i, (W)); break;

static void pack_scalar(const unsigned char *restrict from, size_t count, int width, unsigned char *restrict to) {
    switch (width) {   // little-endian: an int64's low bytes come first
        PACK_CASE(1) PACK_CASE(2) PACK_CASE(3) PACK_CASE(4) PACK_CASE(5) PACK_CASE(6) PACK_CASE(7) PACK_CASE(8)
    }
}

#if defined(__x86_64__)
// Four values at a time: each 128-bit lane's two int64s shuffled down to their low bytes, side
// by side, and the lane stored whole at its pair's place. A store writes 16 - 2 * width bytes
// past its pair, which the next store writes over, so the vector loop stops where the last one
// would pass the end of `to`; the rest goes bytewise.
__attribute__((target("avx2")))
static void pack_avx2(const unsigned char *restrict from, size_t count, int width, unsigned char *restrict to) {
    unsigned char order[16];
    for (int byte = 0; byte < 16; byte++)
        order[byte] = byte < 2 * width ? (unsigned char)(8 * (byte / width) + byte % width) : 0x80;
    const __m256i shuffle = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)order));
    size_t bytes = count * (size_t)width, i = 0;
    for (; i + 4 <= count && (size_t)width * (i + 2) + 16 <= bytes; i += 4) {
        __m256i values = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(from + 8 * i)), shuffle);
        _mm_storeu_si128((__m128i *)(to + width * i), _mm256_castsi256_si128(values));
        _mm_storeu_si128((__m128i *)(to + width * (i + 2)), _mm256_extracti128_si256(values, 1));
    }
    pack_scalar(from + 8 * i, count - i, width, to + (size_t)width * i);
}
#endif

void dptrain_fixed_pack(const void *restrict values, size_t count, int width, void *restrict out) {
#if defined(__x86_64__)
    if (width >= 1 && width < 8 && __builtin_cpu_supports("avx2")) { pack_avx2(values, count, width, out); return; }
#endif
    pack_scalar(values, count, width, out);
}

// The i-th packed value, sign-extended: its bytes at the top of an int64, shifted back down.
#define UNPACK(W, i) ({ uint64_t raw = 0; __builtin_memcpy((unsigned char *)&raw + 8 - (W), from + (W) * (i), (W)); \
                        (int64_t)raw >> (64 - 8 * (W)); })
#define ADD_CASE(W) case W: for (size_t i = 0; i < count; i++) { int64_t b = 0; if (!replace) __builtin_memcpy(&b, to + 8 * i, 8); \
                        b = (int64_t)((uint64_t)b + (uint64_t)UNPACK(W, i)); __builtin_memcpy(to + 8 * i, &b, 8); } break;
#define LARGEST_CASE(W) case W: for (size_t i = 0; i < count; i++) { int64_t v = UNPACK(W, i); \
                        uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; largest = m > largest ? m : largest; } break;

// replace: the values are written in place of the sums (a total's first source), not added.
static void add_packed_scalar(const unsigned char *restrict from, size_t count, int width, unsigned char *restrict to, int replace) {
    switch (width) {
        ADD_CASE(1) ADD_CASE(2) ADD_CASE(3) ADD_CASE(4) ADD_CASE(5) ADD_CASE(6) ADD_CASE(7) ADD_CASE(8)
    }
}

#if defined(__x86_64__)
// Four values at a time: each pair's bytes loaded as 16, shuffled to the top of their 64-bit
// lanes, shifted down and sign-extended ((x ^ m) - m: AVX2 has no 64-bit arithmetic shift).
// The second load reads up to 16 - 2 * width bytes past the four values, so the vector loop
// stops where that would pass the end of the source; the rest goes bytewise.
__attribute__((target("avx2")))
static void add_packed_avx2(const unsigned char *restrict from, size_t count, int width, unsigned char *restrict to, int replace) {
    unsigned char order[16];
    for (int lane = 0; lane < 2; lane++)
        for (int byte = 0; byte < 8; byte++)
            order[8 * lane + byte] = byte >= 8 - width ? (unsigned char)(width * lane + byte - (8 - width)) : 0x80;
    const __m256i shuffle = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)order));
    const __m256i sign = _mm256_set1_epi64x((long long)(1ULL << (8 * width - 1)));
    const __m128i shift = _mm_cvtsi32_si128(64 - 8 * width);
    size_t bytes = count * (size_t)width, i = 0;
    for (; i + 4 <= count && (size_t)width * (i + 2) + 16 <= bytes; i += 4) {
        __m128i first = _mm_loadu_si128((const __m128i *)(from + width * i));
        __m128i second = _mm_loadu_si128((const __m128i *)(from + width * (i + 2)));
        __m256i values = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(first), second, 1), shuffle);
        values = _mm256_srl_epi64(values, shift);
        values = _mm256_sub_epi64(_mm256_xor_si256(values, sign), sign);
        __m256i sums = replace ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)(to + 8 * i));
        _mm256_storeu_si256((__m256i *)(to + 8 * i), _mm256_add_epi64(sums, values));
    }
    add_packed_scalar(from + (size_t)width * i, count - i, width, to + 8 * i, replace);
}
#endif

static void add_packed(const void *restrict packed, size_t count, int width, void *restrict sums, int replace) {
#if defined(__x86_64__)
    if (width >= 1 && width < 8 && __builtin_cpu_supports("avx2")) { add_packed_avx2(packed, count, width, sums, replace); return; }
#endif
    add_packed_scalar(packed, count, width, sums, replace);
}

uint64_t dptrain_fixed_largest_magnitude_packed(const void *packed, size_t count, int width) {
    const unsigned char *from = packed;
    uint64_t largest = 0;
    switch (width) {
        LARGEST_CASE(1) LARGEST_CASE(2) LARGEST_CASE(3) LARGEST_CASE(4) LARGEST_CASE(5) LARGEST_CASE(6) LARGEST_CASE(7) LARGEST_CASE(8)
    }
    return largest;
}

VECTOR_CLONES
void dptrain_fixed_to_float(const void *restrict sums, size_t count, double inverseScale, float *restrict out) {
    const unsigned char *from = sums;
    for (size_t i = 0; i < count; i++) {
        int64_t v;
        __builtin_memcpy(&v, from + 8 * i, 8);
        out[i] = (float)((double)v * inverseScale);
    }
}

// One received sum into the int64 sums, added or (`replace`) written in their place.
static void fold(const unsigned char *restrict from, size_t count, int width, unsigned char *restrict to, int replace) {
    if (width == 8 && replace) __builtin_memcpy(to, from, 8 * count);
    else if (width == 8) dptrain_fixed_add(from, count, to);
    else add_packed(from, count, width, to, replace);
}

void dptrain_fixed_fold(const void *restrict source, size_t count, int width, void *restrict sums, int replace) {
    fold(source, count, width, sums, replace);
}

void dptrain_fixed_total(const void *const *sources, const int *widths, size_t sourceCount, size_t folded,
                         size_t begin, size_t end, void *sums, double inverseScale, float *out) {
    size_t count = end - begin;
    unsigned char *to = (unsigned char *)sums + 8 * begin;
    if (sourceCount == 0) __builtin_memset(to, 0, 8 * count);
    // The first source is written, not added to zeros: no pass to clear the total first.
    for (size_t s = folded; s < sourceCount; s++)
        fold((const unsigned char *)sources[s] + (size_t)widths[s] * begin, count, widths[s], to, s == 0);
    dptrain_fixed_to_float(to, count, inverseScale, out + begin);
}

// bfloat16 compute.

VECTOR_CLONES void dptrain_gather_rows_bf16(const uint8_t *restrict pixels, size_t features, const int32_t *restrict indices,
                              size_t count, uint16_t *restrict out) {
    // A pixel p as a float has its 8 significant bits in the top half: its bfloat16 is exact.
    uint16_t table[256];
    for (int p = 0; p < 256; p++) {
        float value = (float)p;
        uint32_t bits;
        __builtin_memcpy(&bits, &value, 4);
        table[p] = (uint16_t)(bits >> 16);
    }
    for (size_t row = 0; row < count; row++) {
        prefetch_row_ahead(pixels, features, indices, row, count);
        const uint8_t *from = pixels + (size_t)indices[row] * features;
        uint16_t *to = out + row * features;
        for (size_t f = 0; f < features; f++) to[f] = table[from[f]];
    }
}

static inline float bf16_widen(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float result;
    __builtin_memcpy(&result, &bits, 4);
    return result;
}

// One row of dZ = dA * act'(A), `then` done with each value: a loop per activation, so that each vectorises.
#define BACKWARD_ROW(derivative, then)                                            \
    for (size_t c = 0; c < columns; c++) {                                        \
        float y = bf16_widen(out[c]), gc = g[c];                                  \
        float d = (derivative);                                                   \
        uint32_t bits;                                                            \
        __builtin_memcpy(&bits, &d, 4);                                           \
        to[c] = bf16_round(bits);                                                 \
        then;                                                                     \
    }
#define BACKWARD_ROWS(then)                                                       \
    for (size_t r = 0; r < rows; r++) {                                           \
        const float *restrict g = da + r * columns;                               \
        const uint16_t *restrict out = a + r * columns;                           \
        uint16_t *restrict to = dz + r * columns;                                 \
        switch (activation) {                                                     \
        case 1: BACKWARD_ROW(y > 0 ? gc : 0, then) break;                       \
        case 2: BACKWARD_ROW(gc * (y * (1 - y)), then) break;                   \
        default: BACKWARD_ROW(gc * (1 - y * y), then) break;                    \
        }                                                                         \
    }

VECTOR_CLONES void dptrain_bf16_activation_backward(int activation, const float *restrict da, const uint16_t *restrict a,
                                      size_t rows, size_t columns, uint16_t *restrict dz, float *restrict column_sums) {
    if (column_sums) {
        for (size_t c = 0; c < columns; c++) column_sums[c] = 0;
        BACKWARD_ROWS(column_sums[c] += d)
    } else {
        BACKWARD_ROWS((void)0)
    }
}
