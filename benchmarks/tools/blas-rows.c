// Does row r of an sgemm product C = A op(B) (row-major) have the same bits whatever the number
// of rows in the product, and wherever the row sits among them? If it did for every kernel, a
// step's forward products and input gradients could run over a thread's whole group of chunks at
// once and only the weight gradients per chunk (issue 20). For each layer shape of dptrain's
// usual models (forward A W, and the input gradient dZ W^T), prints the row counts m for which
// some block of m rows at some offset differs from the same rows of one 256-row product.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(int k, int n, int transposeB, int rows) {
    float *a = malloc(sizeof(float) * rows * k), *b = malloc(sizeof(float) * k * n);
    float *whole = malloc(sizeof(float) * rows * n), *part = malloc(sizeof(float) * rows * n);
    char *differs = calloc(rows + 1, 1);
    srand(k * n + transposeB);
    for (int i = 0; i < rows * k; i++) a[i] = (i % 7 == 0) ? 0 : rand() / (float)RAND_MAX - 0.5f;
    for (int i = 0; i < k * n; i++) b[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
    int ldb = transposeB ? k : n;
    CBLAS_TRANSPOSE op = transposeB ? CblasTrans : CblasNoTrans;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, op, rows, n, k, 1, a, k, b, ldb, 0, whole, n);
    int bad = 0;
    for (int m = 1; m <= rows; m++)
        for (int offset = 0; offset <= rows - m; offset += (m >= 64 ? 64 : 37)) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, op, m, n, k, 1, a + offset * k, k, b, ldb, 0, part, n);
            if (memcmp(part, whole + offset * n, sizeof(float) * m * n)) { differs[m] = 1; bad++; }
        }
    if (bad) {
        int shown = 0;
        printf("  %4d x %-4d %s: differs for m =", k, n, transposeB ? "(B transposed)" : "              ");
        for (int m = 1; m <= rows && shown < 12; m++) if (differs[m]) { printf(" %d", m); shown++; }
        int total = 0;
        for (int m = 1; m <= rows; m++) total += differs[m];
        printf("%s (%d of %d row counts)\n", total > shown ? " ..." : "", total, rows);
    }
    free(a); free(b); free(whole); free(part); free(differs);
    return bad;
}

int main(void) {
    openblas_set_num_threads(1);
    // 784-128-10, 784-800-10, 784-512-256-10: forward (k = fan-in, n = fan-out) and input gradient (k = fan-out, n = fan-in, B transposed).
    int shapes[][3] = {{784, 128, 0}, {128, 10, 0}, {10, 128, 1}, {784, 800, 0}, {800, 10, 0}, {10, 800, 1},
                       {784, 512, 0}, {512, 256, 0}, {256, 10, 0}, {10, 256, 1}, {256, 512, 1}};
    int bad = 0;
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) bad += check(shapes[i][0], shapes[i][1], shapes[i][2], 256);
    printf("%s: %s\n", openblas_get_corename(), bad ? "rows depend on the product's row count" : "every row the same bits at any row count");
    return 0;
}
