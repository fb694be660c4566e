#ifndef DPTRAIN_CSHAREDMEMORY_H
#define DPTRAIN_CSHAREDMEMORY_H

#include <stddef.h>
#include <stdint.h>

// Same-host bulk transport: anonymous memory files and the two words that say what a
// segment holds. A segment has no name in any file system: it lives while a process
// holds it open or mapped, so no exit (SIGKILL included) leaves anything behind.

/// A new memory file of `bytes` bytes, close-on-exec, sealed at that size (no process can shrink
/// it under another's mapping, which would fault on its next access); -1 with errno on failure.
int dptrain_memfd_create(size_t bytes);

/// Seals a memory file against every writer to come (F_SEAL_FUTURE_WRITE, Linux 5.1): no
/// write(2), no new shared writable mapping, from any process; the writable mappings made
/// before (the creator's, a member's slot) go on writing. -1 with errno (EINVAL: an older kernel).
int dptrain_memfd_seal_writers(int fd);

/// Opens another process's memory file through /proc/PID/fd/FD, read-only or for `writing`; -1
/// with errno on failure (another user's process, another pid namespace, a closed descriptor).
int dptrain_memfd_open(int32_t pid, int32_t fd, int writing);

/// A pipe, both ends non-blocking and close-on-exec: fds[0] reads, fds[1] writes; -1 with errno.
int dptrain_pipe(int32_t fds[2]);

/// Opens another process's pipe end through /proc/PID/fd/FD, non-blocking, for reading or
/// `writing`; -1 with errno on failure (EINVAL: the descriptor is not a pipe).
int dptrain_pipe_open(int32_t pid, int32_t fd, int writing);

/// Says what the segment holds: `length` bytes for `sequence`. The length is stored before
/// the sequence, and both after the data, with release ordering: a reader that sees the
/// sequence sees the data and length that came with it.
void dptrain_publish(uint64_t *words, uint64_t sequence, uint64_t length);

/// Marks the segment as holding no step, before its data is rewritten: a reader that checks
/// the sequence before and after reading never takes half-rewritten data for a step (a seqlock).
void dptrain_invalidate(uint64_t *words);

/// Reads what `dptrain_publish` stored, with acquire ordering.
void dptrain_published(const uint64_t *words, uint64_t *sequence, uint64_t *length);

#endif
