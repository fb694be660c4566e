// One core's GFLOP/s of oneDNN's bf16 matmul (float32 accumulation) against OpenBLAS's sgemm at
// dptrain's shapes (chunk rows x 784 x hidden, forward, and the weight gradient with A
// transposed), in the thread's CPU time, so that other work on a shared machine does not count;
// prints the kernel oneDNN chose for each.
//   cc -O2 benchmarks/tools/matmul-ceilings.c -o /tmp/matmul-ceilings -ldnnl -lopenblas -lgomp
//   OPENBLAS_CORETYPE=SkylakeX taskset -c 0 /tmp/matmul-ceilings
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern void omp_set_num_threads(int count);

#define CHECK(call) do { if ((call) != dnnl_success) { fprintf(stderr, "failed: %s\n", #call); exit(1); } } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// C (m, n) = A (m, k) B (k, n), A stored (k, m) when transposed.
static void measure(dnnl_engine_t engine, dnnl_stream_t stream, long m, long k, long n, int transpose_a) {
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t a_dims = {m, k}, b_dims = {k, n}, c_dims = {m, n};
    dnnl_dims_t a_strides = {k, 1}, b_strides = {n, 1}, c_strides = {n, 1};
    if (transpose_a) { a_strides[0] = 1; a_strides[1] = m; }
    CHECK(dnnl_memory_desc_init_by_strides(&a, 2, a_dims, dnnl_bf16, a_strides));
    CHECK(dnnl_memory_desc_init_by_strides(&b, 2, b_dims, dnnl_bf16, b_strides));
    CHECK(dnnl_memory_desc_init_by_strides(&c, 2, c_dims, dnnl_f32, c_strides));
    dnnl_matmul_desc_t operation;
    CHECK(dnnl_matmul_desc_init(&operation, &a, &b, NULL, &c));
    dnnl_primitive_desc_t descriptor;
    CHECK(dnnl_primitive_desc_create(&descriptor, &operation, NULL, engine, NULL));
    const char *kernel = "unknown";
    dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &kernel);
    dnnl_primitive_t matmul;
    CHECK(dnnl_primitive_create(&matmul, descriptor));

    uint16_t *a16 = calloc(m * k, 2), *b16 = calloc(k * n, 2);
    float *a32 = calloc(m * k, 4), *b32 = calloc(k * n, 4), *c32 = calloc(m * n, 4);
    for (long i = 0; i < m * k; i++) { a16[i] = 0x3F00 + i % 64; a32[i] = 0.5f + (i % 64) / 256.0f; }
    for (long i = 0; i < k * n; i++) { b16[i] = 0x3C00 + i % 32; b32[i] = 0.01f * (i % 32); }
    dnnl_memory_t ma, mb, mc;
    CHECK(dnnl_memory_create(&ma, &a, engine, a16));
    CHECK(dnnl_memory_create(&mb, &b, engine, b16));
    CHECK(dnnl_memory_create(&mc, &c, engine, c32));
    dnnl_exec_arg_t arguments[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};

    long calls = 0;
    double start = now(), end;
    do { CHECK(dnnl_primitive_execute(matmul, stream, 3, arguments)); calls++; end = now(); } while (end - start < 0.5);
    double bf16 = 2.0 * m * k * n * calls / (end - start) / 1e9;
    calls = 0;
    start = now();
    do {
        cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1, a32,
                    transpose_a ? m : k, b32, n, 0, c32, n);
        calls++;
        end = now();
    } while (end - start < 0.5);
    double float32 = 2.0 * m * k * n * calls / (end - start) / 1e9;
    printf("%4ldx%4ldx%4ld%s  bf16 %5.1f GFLOP/s  float32 %5.1f GFLOP/s  %.2fx  (%s, OpenBLAS %s)\n", m, k, n,
           transpose_a ? " A^T" : "    ", bf16, float32, bf16 / float32, kernel, openblas_get_corename());
    dnnl_primitive_destroy(matmul);
    dnnl_primitive_desc_destroy(descriptor);
    dnnl_memory_destroy(ma); dnnl_memory_destroy(mb); dnnl_memory_destroy(mc);
    free(a16); free(b16); free(a32); free(b32); free(c32);
}

int main(void) {
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    // 784-128-10 at --batch 128 (2 chunks of 64), 784-800-10 at --batch 512 (4 chunks of 128).
    measure(engine, stream, 64, 784, 128, 0);
    measure(engine, stream, 784, 64, 128, 1);
    measure(engine, stream, 128, 784, 800, 0);
    measure(engine, stream, 784, 128, 800, 1);
    return 0;
}
