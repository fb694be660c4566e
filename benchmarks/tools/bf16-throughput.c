// How many AVX-512 float32 FMAs (vfmadd231ps) and bf16 dot products (vdpbf16ps) one core
// retires a second, each over 24 independent accumulators (no latency bound), measured in the
// thread's CPU time: the bf16 and float32 ceilings of matrix products on this CPU. A vdpbf16ps
// on 512 bits does 32 multiply-adds of bf16 pairs (64 flops), a vfmadd231ps 16 (32 flops).
//   cc -O2 -mavx512f -mavx512bf16 benchmarks/tools/bf16-throughput.c -o /tmp/bf16-throughput
//   taskset -c 0 /tmp/bf16-throughput
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define R24(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) \
                op(12) op(13) op(14) op(15) op(16) op(17) op(18) op(19) op(20) op(21) op(22) op(23)
#define FMA(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define DOT(i) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
                 "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23"

int main(void) {
    const long loops = 20000000;
    __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31" ::: "xmm30", "xmm31");
    double start = now();
    for (long i = 0; i < loops; i++) __asm__ volatile(R24(FMA) ::: CLOBBERS);
    double middle = now();
    for (long i = 0; i < loops; i++) __asm__ volatile(R24(DOT) ::: CLOBBERS);
    double end = now();
    double fma = loops * 24.0 / (middle - start), dot = loops * 24.0 / (end - middle);
    printf("vfmadd231ps zmm: %.2f G/s, %.0f GFLOP/s float32\n", fma / 1e9, fma * 32 / 1e9);
    printf("vdpbf16ps zmm:   %.2f G/s, %.0f GFLOP/s bf16 (%.2fx float32's)\n", dot / 1e9, dot * 64 / 1e9, dot * 64 / (fma * 32));
    return 0;
}
