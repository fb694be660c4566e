#ifndef DPTRAIN_CMATMUL_H
#define DPTRAIN_CMATMUL_H

#include <stddef.h>
#include <stdint.h>

// bfloat16 matrix products on oneDNN's matmul primitive: each product's shape, transposes and
// fused epilogue are fixed when it is made, once, and it then runs as often as asked without
// creating anything or allocating (its scratch memory is its own). Each runs on the calling
// thread alone: Debian's oneDNN is built on OpenMP, and every call first sets the caller's
// OpenMP thread count to one.

typedef struct dptrain_matmul dptrain_matmul;

enum dptrain_matmul_activation {
    DPTRAIN_MATMUL_IDENTITY = 0,
    DPTRAIN_MATMUL_RELU = 1,
    DPTRAIN_MATMUL_LOGISTIC = 2,
    DPTRAIN_MATMUL_TANH = 3,
};

/// Makes C (m, n) = activation(scale * op(A) (m, k) op(B) (k, n) + bias (n)): A and B bfloat16,
/// row-major as stored, op(A) = A^T when `transpose_a` (A stored (k, m)), op(B) = B^T when
/// `transpose_b` (B stored (n, k)); products accumulated in float32; C float32, or bfloat16 when
/// `bf16_output` (rounded once, at the end); the bias float32 when `has_bias`. NULL on failure,
/// with the reason in `error`.
dptrain_matmul *dptrain_matmul_create(long m, long k, long n, int transpose_a, int transpose_b, int bf16_output,
                                      float scale, int has_bias, int activation, char *error, size_t error_capacity);

/// Runs the product on these buffers. Returns 0, or oneDNN's nonzero status.
int dptrain_matmul_run(dptrain_matmul *matmul, const uint16_t *a, const uint16_t *b, const float *bias, void *c);

/// The kernel oneDNN chose, e.g. "brg:avx512_core_bf16" or "brg:avx512_core_amx".
const char *dptrain_matmul_kernel(const dptrain_matmul *matmul);

void dptrain_matmul_destroy(dptrain_matmul *matmul);

/// "oneDNN 2.6.3".
const char *dptrain_onednn_version(void);

/// The best instruction set oneDNN's CPU kernels use on this CPU, e.g. "AVX512-BF16" or "AMX".
const char *dptrain_onednn_isa(void);

#endif
