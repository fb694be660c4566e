#ifndef DPTRAIN_CKERNELS_H
#define DPTRAIN_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

// Elementwise loops that Swift's optimiser leaves scalar; clang vectorises them.

/// Rows `indices[0..<count]` of `pixels` (samples, features) as floats times `scale`
/// into `out` (count, features). Indices must be in range: the caller checks them.
void dptrain_gather_rows(const uint8_t *pixels, size_t features, const int32_t *indices, size_t count,
                         float *out, float scale);

// bfloat16 on the wire: the top 16 bits of a float32, rounded to nearest, ties to even.

/// `count` floats as bfloat16 bits into `out`. Inputs must be finite or NaN (NaN stays NaN).
void dptrain_float_to_bf16(const float *in, size_t count, uint16_t *out);

/// `count` bfloat16 values (at any alignment) as floats into `out`.
void dptrain_bf16_to_float(const void *in, size_t count, float *out);

/// The index of the first bfloat16 NaN or infinity among `count` (at any alignment), or `count` if none.
size_t dptrain_bf16_first_non_finite(const void *in, size_t count);

/// The index of the first float32 NaN or infinity among `count` little-endian floats (at any
/// alignment), or `count` if none.
size_t dptrain_float_first_non_finite(const void *in, size_t count);
/// Adds each of `values[0..<count]` times `scale`, rounded half to even, to the int64 `sums`
/// (little-endian, any alignment), or, `replace` nonzero, writes them there in place of what
/// was there. Returns nonzero when some |value * scale| is not below `bound`
/// (or is NaN); `bound` must be at most 2^51 for the rounding to be exact. `signBits` gets every
/// bit of the resulting sums that differs from its value's sign, for dptrain_fixed_width_of_bits.
int dptrain_fixed_accumulate(const float *values, size_t count, double scale, double bound, void *sums, int replace,
                             uint64_t *signBits);

/// sums[i] += values[i], both `count` int64s at any alignment.
void dptrain_fixed_add(const void *values, size_t count, void *sums);

/// Over the values begin..<end only: sums[i] += sources[s][i] for each of `sourceCount` int64
/// sums (aligned). Returns every bit of the resulting sums in the range that differs from its
/// value's sign, as dptrain_fixed_accumulate reports them. Threads may share `sums`, each its
/// own range: a process's threads' chunk sums added into one.
uint64_t dptrain_fixed_add_sums(int64_t *sums, const int64_t *const *sources, size_t sourceCount, size_t begin, size_t end);

/// Over the values begin..<end only: the total of `sourceCount` int64 sums (aligned), times
/// `inverseScale` as floats into `out`, as dptrain_fixed_to_float converts one: the threads' sums
/// of a step added as they are read, for a process that needs the floats alone.
void dptrain_fixed_sources_to_float(const int64_t *const *sources, size_t sourceCount, size_t begin, size_t end,
                                    double inverseScale, float *out);

/// The largest |values[i]| of `count` int64s at any alignment.
uint64_t dptrain_fixed_largest_magnitude(const void *values, size_t count);

/// The width dptrain_fixed_width gives for values whose bits that differ from their signs,
/// ored together, are `signBits` (as dptrain_fixed_accumulate reports them).
int dptrain_fixed_width_of_bits(uint64_t signBits);

/// The fewest bytes, 1 to 8, that hold every one of `count` int64s (at any alignment) as a
/// little-endian two's complement integer.
int dptrain_fixed_width(const void *values, size_t count);

/// Each of `count` int64s (at any alignment) as its low `width` bytes (1 to 8), little-endian,
/// into `out` (count * width bytes); the caller chose a `width` that holds every value.
void dptrain_fixed_pack(const void *values, size_t count, int width, void *out);


/// The largest |value| of `count` packed `width`-byte integers (1 to 8, sign-extended).
uint64_t dptrain_fixed_largest_magnitude_packed(const void *packed, size_t count, int width);

/// out[i] = sums[i] * inverseScale as floats (through double).
void dptrain_fixed_to_float(const void *sums, size_t count, double inverseScale, float *out);

/// One received sum (`count` little-endian integers of `width` bytes, 1 to 8, at any alignment)
/// added into the int64 `sums`, or, `replace` nonzero, written there in their place.
void dptrain_fixed_fold(const void *source, size_t count, int width, void *sums, int replace);

/// Over the values begin..<end only: the total of `sourceCount` received sums (source s:
/// little-endian integers of widths[s] bytes, 1 to 8, at any alignment, indexed from its
/// start) into the int64 `sums`, then times `inverseScale` as floats into `out`. The first
/// `folded` sources are already in `sums` (added as they arrived); 0: `sums` holds nothing yet.
/// Threads may share `sums` and `out`, each its own range.
void dptrain_fixed_total(const void *const *sources, const int *widths, size_t sourceCount, size_t folded,
                         size_t begin, size_t end, void *sums, double inverseScale, float *out);

// bfloat16 compute (--compute bf16).

/// Rows `indices[0..<count]` of `pixels` (samples, features) as bfloat16 pixel values, 0 to 255
/// (exact: bfloat16 holds every integer to 256), into `out` (count, features).
void dptrain_gather_rows_bf16(const uint8_t *pixels, size_t features, const int32_t *indices, size_t count,
                              uint16_t *out);

/// dZ = dA * act'(A) over (rows, columns), from the float32 dA and the bfloat16 forward output A
/// (`activation`: 1 relu, 2 sigmoid, 3 tanh): written as bfloat16 into `dz`, and the column sums
/// of the float32 dZ into `column_sums` (the bias gradient; NULL for none).
void dptrain_bf16_activation_backward(int activation, const float *da, const uint16_t *a, size_t rows, size_t columns,
                                      uint16_t *dz, float *column_sums);

#endif
