#define _GNU_SOURCE
#include "csharedmemory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

int dptrain_memfd_create(size_t bytes) {
    int fd = memfd_create("dptrain-bulk", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)bytes) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int dptrain_memfd_seal_writers(int fd) {
    return fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
}

int dptrain_memfd_open(int32_t pid, int32_t fd, int writing) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, (int)fd);
    return open(path, (writing ? O_RDWR : O_RDONLY) | O_CLOEXEC);
}

int dptrain_pipe(int32_t fds[2]) {
    int pair[2];
    if (pipe2(pair, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
    fds[0] = pair[0];
    fds[1] = pair[1];
    return 0;
}

int dptrain_pipe_open(int32_t pid, int32_t fd, int writing) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, (int)fd);
    int opened = open(path, (writing ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
    if (opened < 0) return -1;
    struct stat status;
    if (fstat(opened, &status) != 0 || !S_ISFIFO(status.st_mode)) {
        close(opened);
        errno = EINVAL;
        return -1;
    }
    return opened;
}

void dptrain_publish(uint64_t *words, uint64_t sequence, uint64_t length) {
    __atomic_store_n(&words[1], length, __ATOMIC_RELEASE);
    __atomic_store_n(&words[0], sequence, __ATOMIC_RELEASE);
}

void dptrain_invalidate(uint64_t *words) {
    __atomic_store_n(&words[0], 0, __ATOMIC_RELAXED);
    // The data written after this call may not become visible before the cleared sequence.
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void dptrain_published(const uint64_t *words, uint64_t *sequence, uint64_t *length) {
    // A reader checks again after reading the data: its reads may not move past this check.
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    *sequence = __atomic_load_n(&words[0], __ATOMIC_ACQUIRE);
    *length = __atomic_load_n(&words[1], __ATOMIC_ACQUIRE);
}
