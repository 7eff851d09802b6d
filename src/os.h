/*
 * os.h - the operating-system layer: the only interface through which the
 * library touches files, mappings, memory and locks.
 *
 * Every system call goes through the table smmap__os, so a test can replace
 * one entry (make mmap fail with ENOMEM at its Nth call, open with EMFILE)
 * and check that the library returns a clean error and leaks nothing. Each
 * entry returns 0 or a negative errno value; platform errors are translated
 * into the errno values the public header documents.
 *
 * os_posix.c and os_win32.c each provide smmap__os_default. Nothing above
 * this layer knows which platform it runs on.
 */
#ifndef SMMAP_OS_H
#define SMMAP_OS_H

#include <stddef.h>
#include <stdint.h>

/* A native descriptor: an int on POSIX, a HANDLE on Windows. */
typedef intptr_t smmap_os_fd;
#define SMMAP_OS_NO_FD ((smmap_os_fd)-1)

enum smmap_os_kind {
    SMMAP_OS_REGULAR = 0,
    SMMAP_OS_DIRECTORY = 1,
    SMMAP_OS_OTHER = 2
};

typedef struct smmap_os_stat {
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
    int64_t mtime_ns; /* 0 where the platform does not give it */
    /* The file's generation (identify only; fstat leaves it 0): what tells
     * a file from a later one that reuses its inode number. Birth time and
     * the inode generation on Linux, birth time on macOS and the BSDs,
     * 0 on Windows, whose file index changes on reuse; 0 where the file
     * system gives none. */
    uint64_t gen;
    int kind;         /* enum smmap_os_kind */
} smmap_os_stat;

typedef struct smmap_os {
    /* Open path read-only (close-on-exec; on Windows with full sharing). */
    int (*open_ro)(const char *path, smmap_os_fd *out);
    /* Duplicate a caller's descriptor (an int C runtime descriptor). */
    int (*dup_fd)(int fd, smmap_os_fd *out);
    int (*close)(smmap_os_fd fd);
    int (*fstat)(smmap_os_fd fd, smmap_os_stat *out);
    /* Map len bytes at offset (a multiple of granularity) read-only. */
    int (*map)(smmap_os_fd fd, uint64_t offset, size_t len, void **out);
    int (*unmap)(void *addr, size_t len);
    /* Read up to len bytes at offset; returns the count or a negative error. */
    int64_t (*pread)(smmap_os_fd fd, void *buf, size_t len, uint64_t offset);
    void *(*malloc)(size_t size);
    void (*free)(void *p);
    /* The mapping granularity: page size on POSIX (or the build's
     * SMMAP_GRANULARITY where larger), 64 KiB on Windows. */
    uint64_t (*granularity)(void);
    /* vm.max_map_count, or 0 where unknown. */
    uint64_t (*max_map_count)(void);
    /* The soft limit on open descriptors, or 0 where unknown. */
    uint64_t (*max_open_files)(void);
    /* Advice for a mapped range: an SMMAP_ADVICE_* value (unsupported
     * advice returns 0) or SMMAP_OS_POPULATE (-EOPNOTSUPP where the system
     * cannot populate a range in one call). */
    int (*advise)(void *addr, size_t len, int advice);
    /* memcpy from a mapping: len, or -EIO instead of dying when a page of
     * src is gone (SIGBUS after a truncation). Returning len spares the
     * caller keeping it across the call. The fault handler must be
     * installed (guard_install): the library does it when it maps a
     * window, so the copy itself is a plain call with no check. */
    int64_t (*guarded_copy)(void *dst, const void *src, size_t len);
    /* Install the process-wide fault handler, or put it back in front of
     * one installed after it; cheap when it is in front already. */
    void (*guard_install)(void);
    /* fstat, plus the generation (gen): for opens and reopens, where the
     * identity of the file is established or checked. */
    int (*identify)(smmap_os_fd fd, smmap_os_stat *out);
    /* The asymmetric barrier of the hazard slots (hazard.c): when barrier
     * returns 0, every thread of the process has run a full memory
     * barrier since the call began, so a store it made before that is
     * visible to the caller, and a load it makes after sees what the
     * caller stored before the call. Readers then need no fence of their
     * own. membarrier(2) (MEMBARRIER_CMD_PRIVATE_EXPEDITED) on Linux,
     * FlushProcessWriteBuffers on Windows. barrier_init registers the
     * process for it: 0, or a negative errno where there is none
     * (-ENOSYS elsewhere): readers then fence themselves. */
    int (*barrier_init)(void);
    int (*barrier)(void);
    /* A monotonic clock in nanoseconds (what a barrier costs is timed). */
    uint64_t (*clock_ns)(void);
    /* Give the processor to another thread (a miss waiting for another
     * thread's map of its window, region.c): sched_yield, SwitchToThread. */
    void (*yield)(void);
} smmap_os;

#define SMMAP_OS_POPULATE 16

extern const smmap_os smmap__os_default;

/* 1 where advise(SMMAP_OS_POPULATE) was built with a call that populates a
 * range (MADV_POPULATE_READ: Linux headers of 5.14 on, which a libc's own
 * headers may lack, as musl 1.2.3's do), though the running kernel may
 * still refuse it; 0 where it always gives -EOPNOTSUPP. For tests. */
extern const int smmap__os_populate_built;

/* The table in use. Tests may assign entries; the library only reads it. */
extern smmap_os smmap__os;

/* A mutex: pthread on POSIX, SRWLOCK on Windows. Never fails once made. */
#ifdef _WIN32
typedef struct smmap_mutex { void *srw; } smmap_mutex;
#define SMMAP_MUTEX_INITIALIZER {0}
#else
#include <pthread.h>
typedef struct smmap_mutex { pthread_mutex_t mu; } smmap_mutex;
#define SMMAP_MUTEX_INITIALIZER {PTHREAD_MUTEX_INITIALIZER}
#endif

int smmap__mutex_init(smmap_mutex *m);
void smmap__mutex_destroy(smmap_mutex *m);
void smmap__mutex_lock(smmap_mutex *m);
void smmap__mutex_unlock(smmap_mutex *m);

/* Have prepare called before fork() and parent/child after it, in the
 * process that forks and in the child (pthread_atfork); registered once,
 * whatever the number of calls. Nothing on Windows, which has no fork. */
void smmap__at_fork(void (*prepare)(void), void (*parent)(void),
                    void (*child)(void));

#endif /* SMMAP_OS_H */
