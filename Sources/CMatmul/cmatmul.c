#include "cmatmul.h"
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// From libgomp, which Debian's oneDNN runs on; declared here so that no OpenMP header is needed.
extern void omp_set_num_threads(int count);

struct dptrain_matmul {
    dnnl_primitive_t primitive;
    dnnl_stream_t stream;
    dnnl_memory_t a, b, bias, c, scratchpad;
    void *scratch;
    int has_bias;
    char kernel[64];
};

static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void make_engine(void) { engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0); }

#define CHECK(call, what)                                                                    \
    do {                                                                                     \
        dnnl_status_t status_ = (call);                                                      \
        if (status_ != dnnl_success) {                                                       \
            snprintf(error, error_capacity, "oneDNN could not %s (status %d)", what, (int)status_); \
            goto fail;                                                                       \
        }                                                                                    \
    } while (0)

static dnnl_status_t matrix(dnnl_memory_desc_t *desc, long rows, long columns, dnnl_data_type_t type, int transposed) {
    // (rows, columns) as used; stored row-major, or as its transpose (columns, rows).
    dnnl_dims_t dims = {rows, columns};
    dnnl_dims_t strides = {columns, 1};
    if (transposed) { strides[0] = 1; strides[1] = rows; }
    return dnnl_memory_desc_init_by_strides(desc, 2, dims, type, strides);
}

dptrain_matmul *dptrain_matmul_create(long m, long k, long n, int transpose_a, int transpose_b, int bf16_output,
                                      float scale, int has_bias, int activation, char *error, size_t error_capacity) {
    omp_set_num_threads(1);
    pthread_once(&engine_once, make_engine);
    dptrain_matmul *matmul = calloc(1, sizeof *matmul);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t descriptor = NULL;
    if (!matmul) { snprintf(error, error_capacity, "out of memory"); return NULL; }
    CHECK(engine_status, "start its CPU engine");
    dnnl_memory_desc_t a, b, c, bias;
    CHECK(matrix(&a, m, k, dnnl_bf16, transpose_a), "describe A");
    CHECK(matrix(&b, k, n, dnnl_bf16, transpose_b), "describe B");
    CHECK(matrix(&c, m, n, bf16_output ? dnnl_bf16 : dnnl_f32, 0), "describe C");
    CHECK(matrix(&bias, 1, n, dnnl_f32, 0), "describe the bias");
    dnnl_matmul_desc_t operation;
    CHECK(dnnl_matmul_desc_init(&operation, &a, &b, NULL, &c), "describe the product");

    // Post-ops run after the output scale: scale * AB, then + bias, then the activation. (The
    // primitive's own bias would be added before the scale.)
    CHECK(dnnl_primitive_attr_create(&attr), "make attributes");
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "take its scratch memory from us");
    if (scale != 1) CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale), "set the scale");
    CHECK(dnnl_post_ops_create(&post_ops), "make post-ops");
    if (has_bias) CHECK(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &bias), "add the bias");
    static const dnnl_alg_kind_t algorithms[] = {dnnl_alg_kind_undef, dnnl_eltwise_relu, dnnl_eltwise_logistic, dnnl_eltwise_tanh};
    if (activation > 0 && activation <= 3)
        CHECK(dnnl_post_ops_append_eltwise(post_ops, 1, algorithms[activation], 0, 0), "fuse the activation");
    CHECK(dnnl_primitive_attr_set_post_ops(attr, post_ops), "set post-ops");

    CHECK(dnnl_primitive_desc_create(&descriptor, &operation, attr, engine, NULL), "find a bf16 matmul for this shape");
    const char *kernel = "unknown";
    dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &kernel);
    snprintf(matmul->kernel, sizeof matmul->kernel, "%s", kernel);
    CHECK(dnnl_primitive_create(&matmul->primitive, descriptor), "make the matmul");
    CHECK(dnnl_stream_create(&matmul->stream, engine, dnnl_stream_default_flags), "make a stream");

    const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0);
    size_t scratch_bytes = dnnl_memory_desc_get_size(scratch);
    matmul->scratch = aligned_alloc(64, (scratch_bytes + 64) / 64 * 64);
    if (!matmul->scratch) { snprintf(error, error_capacity, "out of memory"); goto fail; }
    CHECK(dnnl_memory_create(&matmul->scratchpad, scratch, engine, matmul->scratch), "hold its scratch memory");
    CHECK(dnnl_memory_create(&matmul->a, &a, engine, DNNL_MEMORY_NONE), "hold A");
    CHECK(dnnl_memory_create(&matmul->b, &b, engine, DNNL_MEMORY_NONE), "hold B");
    CHECK(dnnl_memory_create(&matmul->c, &c, engine, DNNL_MEMORY_NONE), "hold C");
    CHECK(dnnl_memory_create(&matmul->bias, &bias, engine, DNNL_MEMORY_NONE), "hold the bias");
    matmul->has_bias = has_bias;
    dnnl_primitive_desc_destroy(descriptor);
    dnnl_post_ops_destroy(post_ops);
    dnnl_primitive_attr_destroy(attr);
    return matmul;
fail:
    if (descriptor) dnnl_primitive_desc_destroy(descriptor);
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    dptrain_matmul_destroy(matmul);
    return NULL;
}

int dptrain_matmul_run(dptrain_matmul *matmul, const uint16_t *a, const uint16_t *b, const float *bias, void *c) {
    omp_set_num_threads(1);
    dnnl_memory_set_data_handle(matmul->a, (void *)a);
    dnnl_memory_set_data_handle(matmul->b, (void *)b);
    dnnl_memory_set_data_handle(matmul->c, c);
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, matmul->a}, {DNNL_ARG_WEIGHTS, matmul->b}, {DNNL_ARG_DST, matmul->c},
        {DNNL_ARG_SCRATCHPAD, matmul->scratchpad}, {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, matmul->bias},
    };
    int count = 4;
    if (matmul->has_bias) {
        dnnl_memory_set_data_handle(matmul->bias, (void *)bias);
        count = 5;
    }
    dnnl_status_t status = dnnl_primitive_execute(matmul->primitive, matmul->stream, count, args);
    return status == dnnl_success ? 0 : (int)status;
}

const char *dptrain_matmul_kernel(const dptrain_matmul *matmul) { return matmul->kernel; }

void dptrain_matmul_destroy(dptrain_matmul *matmul) {
    if (!matmul) return;
    if (matmul->primitive) dnnl_primitive_destroy(matmul->primitive);
    if (matmul->stream) dnnl_stream_destroy(matmul->stream);
    if (matmul->a) dnnl_memory_destroy(matmul->a);
    if (matmul->b) dnnl_memory_destroy(matmul->b);
    if (matmul->c) dnnl_memory_destroy(matmul->c);
    if (matmul->bias) dnnl_memory_destroy(matmul->bias);
    if (matmul->scratchpad) dnnl_memory_destroy(matmul->scratchpad);
    free(matmul->scratch);
    free(matmul);
}

const char *dptrain_onednn_version(void) {
    static char text[32];
    const dnnl_version_t *version = dnnl_version();
    snprintf(text, sizeof text, "oneDNN %d.%d.%d", version->major, version->minor, version->patch);
    return text;
}

const char *dptrain_onednn_isa(void) {
    // The values are bit sets, each a superset of the ones it builds on (not ordered numerically).
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
#define HAS(name) ((isa & (unsigned)dnnl_cpu_isa_##name) == (unsigned)dnnl_cpu_isa_##name)
    if (HAS(avx512_core_amx)) return "AMX";
    if (HAS(avx512_core_bf16)) return "AVX512-BF16";
    if (HAS(avx512_core)) return "AVX-512 without bf16";
    if (HAS(avx2)) return "AVX2 without bf16";
    return "no AVX2";
#undef HAS
}
