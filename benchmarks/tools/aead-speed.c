// libsodium's own speed on one weight-sized message (407,080 bytes, 784-128-10's
// parameters): XSalsa20-Poly1305 (crypto_box after the key exchange, what CURVE
// uses for every message) and, for comparison, AES-256-GCM and
// ChaCha20-Poly1305. The floor under what encryption can cost a step.
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

static void report(const char *name, double encrypt, double decrypt, size_t bytes) {
    printf("%-22s encrypt %.3f ms (%.2f GB/s), decrypt %.3f ms (%.2f GB/s)\n", name, encrypt * 1e3,
           bytes / encrypt / 1e9, decrypt * 1e3, bytes / decrypt / 1e9);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const size_t bytes = 407080;
    const int repeats = 400;
    unsigned char *plain = malloc(bytes + 64), *sealed = malloc(bytes + 64);
    unsigned char public_key[32], secret_key[32], shared[32], nonce[24] = {0};
    unsigned long long length;
    randombytes_buf(plain, bytes);
    crypto_box_keypair(public_key, secret_key);
    if (crypto_box_beforenm(shared, public_key, secret_key) != 0) return 1;

    double start = seconds();
    for (int i = 0; i < repeats; i++) crypto_box_easy_afternm(sealed, plain, bytes, nonce, shared);
    double encrypt = (seconds() - start) / repeats;
    start = seconds();
    for (int i = 0; i < repeats; i++)
        if (crypto_box_open_easy_afternm(plain, sealed, bytes + crypto_box_MACBYTES, nonce, shared) != 0) return 2;
    report("xsalsa20-poly1305", encrypt, (seconds() - start) / repeats, bytes);

    if (crypto_aead_aes256gcm_is_available()) {
        start = seconds();
        for (int i = 0; i < repeats; i++) crypto_aead_aes256gcm_encrypt(sealed, &length, plain, bytes, NULL, 0, NULL, nonce, shared);
        encrypt = (seconds() - start) / repeats;
        start = seconds();
        for (int i = 0; i < repeats; i++)
            if (crypto_aead_aes256gcm_decrypt(plain, &length, NULL, sealed, bytes + 16, NULL, 0, nonce, shared) != 0) return 2;
        report("aes256-gcm", encrypt, (seconds() - start) / repeats, bytes);
    }
    start = seconds();
    for (int i = 0; i < repeats; i++) crypto_aead_chacha20poly1305_ietf_encrypt(sealed, &length, plain, bytes, NULL, 0, NULL, nonce, shared);
    encrypt = (seconds() - start) / repeats;
    start = seconds();
    for (int i = 0; i < repeats; i++)
        if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &length, NULL, sealed, bytes + 16, NULL, 0, nonce, shared) != 0) return 2;
    report("chacha20-poly1305", encrypt, (seconds() - start) / repeats, bytes);
    free(plain);
    free(sealed);
    return 0;
}
