/*
 * smmap.h - fast random read access to many large files through memory maps,
 * under budgets.
 *
 * This header is the manual. Read it top to bottom once and you know the
 * library. It needs C99 or later, and also compiles as C++ (its
 * declarations are inside extern "C").
 *
 * WHAT IT DOES
 *
 * A manager maps *windows* (regions) of read-only files on demand and keeps
 * three scarce resources under budget:
 *
 *   - mapped bytes (address space; a 32-bit process cannot map a 6 GiB file),
 *   - live mappings (each counts against Linux's vm.max_map_count),
 *   - open file descriptors.
 *
 * Regions are shared by every cursor that needs bytes they cover. A region
 * that no cursor holds stays mapped as a cache; when a budget would be
 * exceeded, an unused region is unmapped, chosen as EVICTION below says (an
 * approximation of least recently used, O(1) amortized per eviction). When
 * the operating system itself refuses (mmap ENOMEM, open EMFILE or ENFILE),
 * the manager unmaps everything unused, closes idle descriptors and retries
 * once.
 *
 * Two modes, one manager type:
 *   - sliding (window_size > 0): windows of window_size bytes;
 *   - static (window_size == 0): every file is mapped whole; unused whole-file
 *     maps are still unloaded on demand.
 *
 * OBJECTS AND LIFETIMES
 *
 *   smmap_manager  owns every region and descriptor. Create with
 *                  smmap_manager_new(), destroy with smmap_manager_free().
 *                  Freeing a manager while files are still open only marks it;
 *                  the last smmap_file_close() completes the free, so a
 *                  garbage-collected language may finalize in any order.
 *   smmap_file     a handle on one version of a file, from smmap_file_open()
 *                  or smmap_file_open_fd(); close with smmap_file_close().
 *                  Opening the same version twice (same identity, see
 *                  VERSIONS OF A FILE; any spelling of its path) gives
 *                  handles that share one set of regions.
 *   smmap_cursor   caller-allocated (on the stack, in your struct). It holds
 *                  at most one region at a time; while it holds it, that
 *                  region is never unmapped. Release every cursor before
 *                  closing its file.
 *
 * ERRORS
 *
 * Functions return 0 (or a count) on success and a negative errno value on
 * failure; smmap_strerror() gives text. Nothing prints, nothing aborts on bad
 * input. The codes used:
 *
 *   -EINVAL  a NULL pointer, a cursor without a file, contradictory options,
 *            a file that is neither a regular file nor a directory
 *   -EISDIR  the path names a directory
 *   -ENOENT, -EACCES, -EBADF, ...  as the operating system reports them
 *   -ERANGE  an offset at or past the end of the file
 *   -ENOMEM  out of memory, or out of address space, or a hard max_mapped
 *            budget that pinned regions fill, or a region larger than the
 *            address space can hold (a whole 6 GiB file in a 32-bit process)
 *   -EMFILE  max_regions reached with every region held by a cursor
 *            (for both: a miss whose bytes another thread is mapping at
 *            that moment waits for that map and shares its region)
 *   -EBUSY   smmap_manager_release_path() while a cursor holds a region of
 *            a matching file
 *   -ESTALE  the file changed on disk since it was opened (replaced,
 *            removed, or truncated below the handle's size): no new window
 *            (see VERSIONS OF A FILE)
 *   -EIO     smmap_read hit a page that a truncation removed (SIGBUS), or
 *            asked for bytes past the end a truncation was seen to leave
 *
 * THREADS
 *
 * Managers and file handles may be shared between threads; all their
 * functions are thread-safe. A cursor is used by one thread at a time (it
 * may move between threads). No lock is held across mmap, munmap, open or
 * read, so one thread mapping a window never stalls another thread's hits.
 *
 * A switch of a cursor to a window that is already mapped, and the release
 * of a window, take no lock, and no locked instruction once the cursor has
 * switched once: from its first switch away from a window to its release,
 * a cursor owns a cache line of "hazard slots" (64 bytes, reused after the
 * release) and holds its region by storing its address there. Eviction
 * makes that safe with an asymmetric barrier (membarrier(2) on Linux,
 * FlushProcessWriteBuffers on Windows) before it checks the slots: a
 * system call in the evicting thread, paid only while some cursor owns
 * slots, which interrupts the other running threads of the process for a
 * moment (microseconds). When evictions are frequent against switches,
 * the manager measures that the barriers cost more than a fence per
 * switch would, and has the cursors fence instead (it measures again
 * every 64 evictions). Where the system has no such barrier (macOS, the
 * BSDs, a kernel older than 4.14, a sandbox that filters the call), the
 * cursors always fence. Before its first switch, a cursor
 * pins with one atomic compare-and-swap on the region. Cursors find
 * cached regions through a per-file table read without the lock, so
 * threads switching among the same cached windows share no lock, no
 * counter and no written cache line. The manager lock is taken to map,
 * to evict, by collect, release_path, stats, opens and closes, and by a
 * cursor whose move the read policy must hear of (the first cursor
 * leaving a window it mapped, a pressure window, a cursor holding a
 * descriptor for direct reads).
 *
 * A cursor is a plain struct: smmap_cursor_init a cursor before its first
 * use and smmap_cursor_release it when done (also before smmap_cursor_init
 * is called on it again): a cursor dropped while it holds a window keeps
 * that window mapped, and its slots, until the manager is freed.
 *
 * A switch writes the cursor itself (data, begin, size, ...). Cursors of
 * different threads that share a cache line (an array of cursors, 72 bytes
 * each on 64-bit; neighbours in one struct) slow each other down on every
 * switch: give each thread's cursor lines of its own (e.g. _Alignas(128)
 * on the struct that holds it). Measured on 16 cores: two threads
 * switching through cursors 120 bytes apart scaled 1.49x; on lines of
 * their own, 1.83-2.16x, as raw mmap did (BENCHMARKS.md).
 *
 * Statistics are exact whenever no call is in flight; while calls run in
 * other threads, a snapshot may count a reuse whose switch has not
 * returned yet, or a region whose map is in progress.
 *
 * EVICTION
 *
 * The unused region evicted first is chosen by CLOCK (second chance): each
 * hold marks its region referenced; eviction looks at the regions in the
 * order they were mapped or last passed over, gives a referenced one a
 * second chance (clears the mark, moves it last) and unmaps the first one
 * neither referenced nor held. A region held by a cursor is never unmapped,
 * and the budgets are never exceeded by more than the promises above allow
 * (a soft max_mapped with everything held). Exact LRU would take the lock
 * at every release; on a recorded trace of gitdb reading a pack and on the
 * benchmark's workload 6, CLOCK's hit rate is within 1 point of exact
 * LRU's (bench/eviction-quality.sh, BENCHMARKS.md). Region descriptors
 * (96 bytes each on 64-bit platforms) are reused, not freed, until the
 * manager is freed: a lock-free switch may still be looking at one.
 *
 * VERSIONS OF A FILE
 *
 * A handle sees one version of a file, fixed when it is opened. A version
 * is the file's identity: its device, its inode number and its generation,
 * which tells it from a later file that reuses the inode number (ext4 hands
 * a freed inode to the next file created beside it):
 *
 *   Linux          the birth time (statx) and the inode generation number
 *                  (FS_IOC_GETVERSION: ext4, XFS, btrfs); tmpfs gives only
 *                  the birth time, which is taken from a clock of a few
 *                  milliseconds, but it does not reuse inode numbers
 *   macOS, BSDs    the birth time (st_birthtime)
 *   Windows        none needed: the NTFS file index carries a sequence
 *                  number that changes when the index is reused (the
 *                  creation time is not used: NTFS gives a file created
 *                  under a name just deleted the old file's creation time)
 *
 * Where a file system gives none of these (some network file systems, old
 * kernels), the generation is 0, and a replacement that reuses the inode
 * number can be told only when it is smaller than the handle.
 *
 * The modification time is not part of the identity: git bumps a pack's
 * mtime to keep it ("freshening") without changing a byte, and a touch
 * changes nothing for anyone. SMMAP_CHECK_MTIME makes it part of it.
 *
 * What a handle accepts depends on its version and its own size only:
 *
 *   - A new window of a handle needs the file to be that version (checked
 *     on every reopen of the path, the descriptor being a cache) and at
 *     least as large as the handle (smmap_file_size). Otherwise -ESTALE;
 *     no read ever returns bytes of another file with a non-negative
 *     result. A path that names another file while the handle's descriptor
 *     is closed gives -ESTALE, and is tried again at the next miss.
 *   - A later open never changes what an earlier handle accepts: a file
 *     of another identity at the same path is another entry, and a later
 *     open of a grown file raises nothing an earlier handle needs.
 *   - A rewrite in place (same inode) is the same version: windows are
 *     shared memory, and the new bytes show through all of them at once,
 *     as they do for git.
 *   - Truncation. A mapped page past a new end raises SIGBUS (see
 *     CAVEATS), and the rest of the page that holds a new end that is not
 *     page-aligned reads as zeros through every mapping: until the library
 *     sees the truncation, smmap_read may return those zeros as file bytes
 *     with a positive count. While the truncation runs, a read racing it
 *     may also see zeros past a page-aligned end, up to the end of the
 *     large folio (at most 2 MiB) the kernel caches those bytes in: Linux
 *     zeroes a large folio's truncated tail in place before it drops it.
 *     The library sees the truncation by any check it makes: a fault in
 *     smmap_read, a pread that ends early, a new window, a reopen, or a
 *     refresh (an open that finds the file smaller than another handle
 *     proves nothing: that handle's size may be newer). From
 *     then on, for every handle of the version: smmap_read of any byte past
 *     the end seen gives -EIO (whatever a window still shows), a window
 *     asked for past it gives -ESTALE, and handles larger than it get no
 *     new windows (-ESTALE); bytes before it are still served. Later opens
 *     share that end while the file is no larger than it; one that finds
 *     the file written past it again is another entry. When the library
 *     cannot ask the file its size after a fault (its descriptor closed
 *     and its path naming another file), it takes 0: no read of that
 *     version is served any more.
 *   - Windows filled by pread (SMMAP_NO_MMAP, a file switched to the read
 *     backend, pressure windows) are copies taken when they were filled,
 *     not shared memory: a rewrite in place or a truncation after that
 *     does not show through them. Their old bytes are served, with a
 *     positive count and no SIGBUS, until the window is evicted or the
 *     library sees the truncation as above (new windows read the file
 *     anew, and a pread that ends early is such a check).
 *
 * CAVEATS (read these)
 *
 *   - Read-only. Mappings are PROT_READ; writing through a returned pointer
 *     crashes.
 *   - SIGBUS: if another process truncates a file while it is mapped,
 *     touching a mapped page past the new end raises SIGBUS. smmap_read
 *     guards its copy and returns -EIO instead (see smmap_read); pointers
 *     handed out (c->data, smmap_cursor_at) are raw memory and are NOT
 *     guarded: dereferencing them after a truncation kills the process like
 *     any mmap. Use smmap_read, or SMMAP_NO_MMAP, for files that others may
 *     truncate. (Windows refuses to truncate a file while it is mapped.)
 *     The guard is a SIGBUS/SIGSEGV handler that passes every fault that
 *     is not its own to the handler installed before it; a handler the
 *     application installs later is put behind it again at the next new
 *     window, or at once by smmap_guard_install().
 *   - Changes on disk: see VERSIONS OF A FILE. smmap_file_refresh() accepts
 *     a file that grew.
 *   - Pointer lifetime: c->data and the pointers smmap_cursor_at() returns
 *     are valid until the cursor moves (smmap_cursor_use, smmap_cursor_at
 *     outside the window, smmap_read) or is released. Keep a second cursor
 *     (smmap_cursor_copy) to hold a window while moving another.
 *   - Size: the size of a file is taken when it is opened and changes for
 *     that handle only through smmap_file_refresh().
 *   - 32-bit: address space, not the file, is the limit. Use sliding mode;
 *     static mode returns -ENOMEM for a file larger than the address space.
 *     File offsets are 64-bit everywhere.
 *   - fork(): a child may use the managers it inherits, even when other
 *     threads of the parent were inside them at the fork: every manager's
 *     lock is taken around fork() (pthread_atfork), so none is left held.
 *     What those threads held stays held in the child, where they do not
 *     run: their cursors' regions stay pinned, and a window they were
 *     mapping stays counted in the budgets. Descriptors and mappings are
 *     shared with the parent as fork shares them.
 *   - Descriptors: a path-opened file's descriptor may be closed to stay
 *     within max_open_files and reopened on demand; the reopened file must be
 *     the same version and at least as large as the handle, or windows give
 *     -ESTALE. A file opened with smmap_file_open_fd() keeps its duplicate
 *     descriptor open until closed. So a file deleted or replaced while its
 *     descriptor was closed can serve no new window: raise max_open_files
 *     (git's packs: one per pack) to keep such files readable.
 */
#ifndef SMMAP_H
#define SMMAP_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(SMMAP_SHARED)
#  ifdef SMMAP_BUILDING
#    define SMMAP_API __declspec(dllexport)
#  else
#    define SMMAP_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && defined(SMMAP_BUILDING)
#  define SMMAP_API __attribute__((visibility("default")))
#else
#  define SMMAP_API
#endif

/* Not every C library defines every code the library returns. */
#ifndef ESTALE
#  define ESTALE 116
#endif

#define SMMAP_VERSION_MAJOR 0
#define SMMAP_VERSION_MINOR 1
#define SMMAP_VERSION_PATCH 0
#define SMMAP_VERSION_STRING "0.1.0"

typedef struct smmap_manager smmap_manager; /* opaque */
typedef struct smmap_file smmap_file;       /* opaque, one per open */
typedef struct smmap_region smmap_region;   /* opaque, internal */

/* max_mapped is hard: -ENOMEM instead of mapping over budget when every
 * region is held by a cursor. */
#define SMMAP_HARD_LIMITS 0x1u
/* Serve every window from a heap buffer filled by pread instead of mmap:
 * same API, budgets and semantics (max_mapped then bounds heap bytes),
 * except that a window is a copy: changes on disk made after it was filled
 * do not show through it (see VERSIONS OF A FILE). The
 * manager switches a file to this by itself when mmap fails with ENODEV,
 * EACCES or EINVAL (file systems that cannot map), and counts it in
 * smmap_stats.files_no_mmap. Windows of the read backend never raise
 * SIGBUS. */
#define SMMAP_NO_MMAP 0x2u
/* Prefault new windows (MADV_POPULATE_READ or touching each page), so the
 * first access to each page does not fault. */
#define SMMAP_POPULATE 0x4u
/* Install no signal handler: smmap_read's guard then relies on the
 * application's own SIGBUS/SIGSEGV handler calling smmap_handle_fault(). */
#define SMMAP_NO_SIGNAL_HANDLER 0x8u
/* smmap_read always maps a window on a miss, never substituting a pread
 * (see smmap_read): for callers that want every read to go through windows
 * (tests that count windows, or workloads known to revisit them). */
#define SMMAP_ALWAYS_MAP 0x10u
/* A change of a file's modification time makes it another version (see
 * VERSIONS OF A FILE): windows not yet mapped of handles opened before the
 * change give -ESTALE, and later opens share nothing with them. Off by
 * default, because git bumps the mtime of a pack it keeps ("freshening")
 * without changing a byte. */
#define SMMAP_CHECK_MTIME 0x20u

/* Access advice for windows (madvise/posix_madvise); unsupported advice is
 * ignored, never an error. */
enum smmap_advice {
    SMMAP_ADVICE_NORMAL = 0,
    SMMAP_ADVICE_RANDOM = 1,
    SMMAP_ADVICE_SEQUENTIAL = 2,
    SMMAP_ADVICE_WILLNEED = 3
};

/*
 * Options of a manager. Fill with smmap_options_init(), then change fields.
 *
 * window_size:    bytes per window, rounded up to the allocation granularity
 *                 (the page size on POSIX, or the power of two a build set
 *                 with CMake's SMMAP_GRANULARITY where larger; 64 KiB on
 *                 Windows); 0 selects the static mode, where each file is
 *                 mapped whole. A window the system refuses to map
 *                 (ENOMEM even after unused ones are unmapped: a
 *                 window_size beyond the address space) is mapped again
 *                 as the smallest window that holds the bytes asked for.
 * max_mapped:     budget of mapped bytes. Soft by default: when every region
 *                 is held by a cursor the manager maps anyway (as Python's
 *                 smmap does); with SMMAP_HARD_LIMITS it returns -ENOMEM.
 * max_regions:    budget of live mappings; always hard (-EMFILE).
 * max_open_files: budget of descriptors the manager keeps open. Descriptors
 *                 are a cache: the least recently used idle one is closed,
 *                 and reopened when a window of its file is needed. A
 *                 cursor reading with pread (under pressure, see
 *                 read_windows and direct_reads) keeps its file's
 *                 descriptor between reads only while the budget allows;
 *                 the budget is exceeded only by descriptors in use by a
 *                 system call at that moment (one per thread at most) and
 *                 by those of files opened with smmap_file_open_fd().
 * flags:          SMMAP_* flags, 0 for defaults.
 * advice:         SMMAP_ADVICE_* given for every new window (per file:
 *                 smmap_file_advise).
 *
 * Defaults:
 *
 *   option          64-bit    32-bit
 *   window_size     1 GiB     64 MiB
 *   max_mapped      8 GiB     1 GiB
 *   max_regions     a quarter of vm.max_map_count where readable, else 16384
 *   max_open_files  a quarter of the RLIMIT_NOFILE soft limit, at least 8
 *
 * smmap_manager_new() returns -EINVAL for: a zero max_mapped, max_regions or
 * max_open_files; max_mapped < window_size (once rounded up to the
 * granularity: window_size 1 with max_mapped 1 is refused) in sliding mode;
 * unknown flags or
 * advice; a window_size above half the address space less the granularity
 * (2^63 - 4096 on 64-bit Linux, 2^31 - 4096 on 32-bit).
 */
typedef struct smmap_options {
    uint64_t window_size;
    uint64_t max_mapped;
    uint32_t max_regions;
    uint32_t max_open_files;
    uint32_t flags;
    uint32_t advice;
} smmap_options;

/*
 * Statistics of a manager, taken under its lock: exact whenever no call is
 * in flight (see THREADS).
 *
 * mapped_bytes:      sum of the sizes of live regions
 * peak_mapped_bytes: the largest mapped_bytes seen
 * regions:           live mappings; peak_regions the largest count seen
 * files:             distinct files open (the same file opened twice counts
 *                    once)
 * files_mapped:      files with at least one region (smmap's num_open_files)
 * open_fds:          descriptors the manager holds
 * maps, unmaps:      mmap and munmap calls that succeeded
 * evictions:         regions unmapped to stay within a budget
 * reuses:            smmap_cursor_use() calls served by a region that was
 *                    already mapped (including the cursor's own)
 * retries:           operating-system refusals (ENOMEM, EMFILE, ENFILE)
 *                    recovered by collecting unused resources and retrying
 * fd_closes:         descriptors closed to stay within max_open_files
 * fd_reopens:        descriptors reopened on demand
 * files_no_mmap:     files served by the read backend (SMMAP_NO_MMAP, or
 *                    switched to it because mmap was refused)
 * read_windows:      windows filled by pread instead of mapped: those of
 *                    the read backend (SMMAP_NO_MMAP, files_no_mmap) and
 *                    the pressure windows of cursors (see
 *                    smmap_cursor_use)
 * faults:            SIGBUS faults inside smmap_read turned into -EIO
 * direct_reads:      smmap_read misses served by one pread instead of a new
 *                    window, because windows evicted under pressure had
 *                    served too few reads to pay for their mapping (see
 *                    smmap_read)
 */
typedef struct smmap_stats {
    uint64_t mapped_bytes, peak_mapped_bytes;
    uint32_t regions, peak_regions;
    uint32_t files, files_mapped, open_fds;
    uint64_t maps, unmaps, evictions, reuses, retries;
    uint64_t fd_closes, fd_reopens;
    uint32_t files_no_mmap;
    uint64_t read_windows, faults;
    uint64_t direct_reads;
} smmap_stats;

/*
 * A cursor: a caller-allocated view of one window of one file.
 *
 * When valid (data != NULL), data[0 .. size) are the file's bytes
 * [begin, begin + size). Read the public fields; do not write them. The
 * private fields belong to the library.
 */
typedef struct smmap_cursor {
    const unsigned char *data; /* the held window; NULL when not valid */
    uint64_t begin;            /* file offset of data[0] */
    size_t size;               /* length of the window */
    int error;                 /* set by the last call that moved the cursor:
                                  0 or its error; the inline hit path of
                                  smmap_cursor_at leaves it as it is */
    /* private: */
    smmap_file *file;
    smmap_region *region;
    uint64_t served; /* smmap_read copies from this window, not yet counted */
    uint32_t holds_fd; /* holds its file's descriptor for direct reads and
                          pressure windows (1), or for one pread (2) */
    uint32_t by_hazard; /* region is held by hazard, not by a pin count */
    struct smmap_hazard *hazard; /* its hazard slots, from its first switch
                                    to its release */
} smmap_cursor;

/* Fill *o with the platform defaults above. */
SMMAP_API void smmap_options_init(smmap_options *o);

/*
 * Create a manager.
 *
 * @param out  receives the manager
 * @param o    options, or NULL for the defaults
 * @return 0, -EINVAL (NULL out, invalid options) or -ENOMEM
 */
SMMAP_API int smmap_manager_new(smmap_manager **out, const smmap_options *o);

/*
 * Free a manager. NULL is ignored. With files still open, the manager is only
 * marked, and the last smmap_file_close() frees it; the handles stay usable
 * until then, but no new one is given: smmap_file_open and
 * smmap_file_open_fd on a marked manager return -EINVAL. Once the manager
 * is freed, passing it to any function is undefined.
 */
SMMAP_API void smmap_manager_free(smmap_manager *m);

/*
 * Unmap every region that no cursor holds.
 *
 * @return the number of regions unmapped (0 for NULL)
 */
SMMAP_API size_t smmap_manager_collect(smmap_manager *m);

/*
 * Unmap every region and close the descriptor of each file whose path starts
 * with prefix, so that the files can be deleted or renamed (Windows) and
 * their disk space returns. The handles stay valid; their windows are
 * remapped (and descriptors reopened) on demand. Files opened from a
 * descriptor have no path and never match.
 *
 * @return 0; -EINVAL for NULL; -EBUSY, touching nothing, while a cursor holds
 *         a region of a matching file
 */
SMMAP_API int smmap_manager_release_path(smmap_manager *m, const char *prefix);

/* Copy the manager's statistics into *out (zeroed for a NULL manager). */
SMMAP_API void smmap_manager_stats(smmap_manager *m, smmap_stats *out);

/*
 * Open a file for reading through the manager. The size is taken now and
 * changes for this handle only through smmap_file_refresh(); the version
 * (see VERSIONS OF A FILE) is fixed now.
 *
 * @return 0; -EINVAL (NULL argument, not a regular file, a manager marked
 *         by smmap_manager_free), -EISDIR, or the error of open/fstat
 *         (-ENOENT, -EACCES, -EMFILE, ...)
 */
SMMAP_API int smmap_file_open(smmap_manager *m, const char *path,
                              smmap_file **out);

/*
 * Open a file from a descriptor. The descriptor is duplicated: the caller
 * keeps (and may close) its own. On Windows, fd is a C runtime descriptor
 * (from _open or _fileno); the handle behind it is duplicated.
 *
 * @return 0; -EINVAL (as smmap_file_open), -EBADF, or the error of
 *         dup/fstat
 */
SMMAP_API int smmap_file_open_fd(smmap_manager *m, int fd, smmap_file **out);

/*
 * Close a handle. NULL is ignored. Release its cursors first. The last handle
 * of a file unmaps its regions and closes its descriptor.
 */
SMMAP_API void smmap_file_close(smmap_file *f);

/* The size of the file when this handle was opened or last refreshed (0 for
 * NULL). */
SMMAP_API uint64_t smmap_file_size(const smmap_file *f);

/*
 * Take the size of a file that grew (a log, a pack being appended) without
 * disturbing live cursors: the handle's size becomes the file's size now,
 * if that is larger (sizes never shrink). The file is looked up by its path
 * when the handle has one, else through its descriptor. Safe from several
 * threads at once: a refresh that stats the file before another thread's
 * refresh stores a larger size is no truncation.
 *
 * @return 0; -EINVAL for NULL; -ESTALE when the file is smaller than the
 *         handle was when the call began (the truncation is then seen, see
 *         VERSIONS OF A FILE), when the path names another version or none,
 *         or when the file was seen truncated and then grew back (written
 *         again); or the error of open/fstat
 */
SMMAP_API int smmap_file_refresh(smmap_file *f);

/*
 * Give access advice (SMMAP_ADVICE_*) for the windows of a file: its current
 * ones and those mapped later. Shared by every handle of the file.
 *
 * @return 0; -EINVAL for NULL or unknown advice
 */
SMMAP_API int smmap_file_advise(smmap_file *f, int advice);

/* Make *c an empty cursor over f (f may be NULL: every use gives -EINVAL). */
SMMAP_API void smmap_cursor_init(smmap_cursor *c, smmap_file *f);

/*
 * Point the cursor at a window containing the file bytes [offset, offset + n)
 * contiguously, n = min(size, file size - offset); size == 0 asks for what
 * one window gives from offset (at least one byte). A request larger than
 * window_size is served by one oversized region. The byte at offset is
 * c->data[offset - c->begin]. The window previously held is released.
 *
 * Under pressure (the read policy of smmap_read: recent new windows served
 * too few reads to pay for their mapping, and a new one would evict), a
 * miss that asks for at most half a window (and 64 KiB) gets a pressure
 * window instead of a mapping: the requested bytes rounded out to 64-byte
 * boundaries, in a heap buffer filled by one pread (counted in
 * read_windows, and in mapped_bytes and regions while held). It belongs to
 * this cursor (a copy shares it), is given up when the cursor leaves it
 * rather than cached, and, like a direct read of smmap_read, keeps the
 * file's descriptor open while held. A cursor moving on to bytes touching
 * its window counts as a scan, which brings mapped windows back. Managers
 * with SMMAP_ALWAYS_MAP, or in static mode, always map.
 *
 * @return 0; -ERANGE (offset >= file size: the cursor is left not valid),
 *         -EINVAL (NULL cursor, no file), -ENOMEM, -EMFILE, -ESTALE, or an
 *         error of the operating system. The code is also stored in c->error.
 */
SMMAP_API int smmap_cursor_use(smmap_cursor *c, uint64_t offset, size_t size);

/*
 * Like smmap_cursor_use, but any region already mapped that contains
 * [offset, offset + need) is reused (as Python's smmap reuses any region
 * containing the offset); only when none does is a new window placed for
 * [offset, offset + want) and mapped, holding those bytes contiguously. Both
 * lengths are clamped to the end of the file; need == 0 means 1, and a want
 * smaller than need is taken as need (the needed bytes are always held
 * contiguously).
 *
 * @return as smmap_cursor_use
 */
SMMAP_API int smmap_cursor_use_range(smmap_cursor *c, uint64_t offset,
                                     size_t need, size_t want);
#define SMMAP_HAVE_CURSOR_USE_RANGE 1

/*
 * As smmap_cursor_use(c, offset, len), for exactly len bytes (len == 0
 * means 1): when the file ends before offset + len (or offset is at or
 * past its end) it returns -ERANGE and the cursor keeps the window it
 * held; nothing is mapped. smmap_cursor_at moves the cursor with it.
 *
 * @return as smmap_cursor_use
 */
SMMAP_API int smmap_cursor_use_exact(smmap_cursor *c, uint64_t offset,
                                     size_t len);
#define SMMAP_HAVE_CURSOR_USE_EXACT 1

/* Release the window the cursor holds, and the hazard slots it owns (see
 * THREADS); idempotent. NULL is ignored. */
SMMAP_API void smmap_cursor_release(smmap_cursor *c);

/*
 * Make dst hold the same window as src (sharing the region). dst must have
 * been initialized; the window it held is released first.
 */
SMMAP_API void smmap_cursor_copy(smmap_cursor *dst, const smmap_cursor *src);

/* Whether the cursor's window contains the byte at offset. */
static inline int smmap_cursor_includes(const smmap_cursor *c, uint64_t offset)
{
    return offset - c->begin < (uint64_t)c->size;
}

/*
 * A pointer to len contiguous bytes at file offset offset, or NULL with
 * c->error set (-ERANGE when offset + len exceeds the file size: then the
 * cursor keeps the window it held, and nothing is mapped).
 *
 * When [offset, offset + len) lies in the cursor's window this is two
 * comparisons and an add, with no call, lock or atomic; otherwise it moves
 * the cursor with smmap_cursor_use_exact(). The pointer lives as long as
 * the window (see CAVEATS).
 */
static inline const unsigned char *smmap_cursor_at(smmap_cursor *c,
                                                   uint64_t offset, size_t len)
{
    uint64_t rel = offset - c->begin;
    if (rel < (uint64_t)c->size && (uint64_t)len <= (uint64_t)c->size - rel)
        return c->data + (size_t)rel;
    if (smmap_cursor_use_exact(c, offset, len) != 0)
        return NULL;
    /* The same test as the hit's (use_exact makes it true): compilers
     * then share it, and the hit path stays as short as it can be. */
    rel = offset - c->begin;
    if ((uint64_t)len > (uint64_t)c->size - rel) {
        c->error = -ERANGE;
        return NULL;
    }
    return c->data + (size_t)rel;
}

/*
 * Copy min(len, file size - offset) bytes at offset into dst, across as many
 * windows as needed, moving the cursor.
 *
 * The copy is guarded: if another process truncated the file and a page of
 * the window is gone, the SIGBUS it raises is caught (only when it hits this
 * copy; every other SIGBUS or SIGSEGV goes to the handler installed before),
 * smmap_read returns -EIO, and the truncation is seen (see VERSIONS OF A
 * FILE): the file's size is asked, and bytes past it are refused. The
 * handler is installed with the first window, and put back in front of
 * handlers installed after it with each new window (smmap_guard_install),
 * unless the manager has SMMAP_NO_SIGNAL_HANDLER. Pointers from c->data
 * and smmap_cursor_at are not guarded.
 *
 * Under pressure, mapping a window that is evicted before it serves more
 * than a few reads costs far more than a pread. The manager keeps a moving
 * average of the reads each evicted window served; while it is below 8, a
 * miss of smmap_read (no mapped window holds the offset) is served by one
 * pread into dst instead (counted in direct_reads), except now and then
 * (every 32 misses, doubling up to every 1024 while those explorations do
 * not pay, jittered), when a miss maps a window so that the average can
 * recover when the access pattern does. Windows already mapped keep serving
 * hits either way. Managers with SMMAP_ALWAYS_MAP always map. A cursor that
 * served a read by pread keeps its file's descriptor open (as it would keep
 * a window) until it moves to a window or is released, while max_open_files
 * allows; otherwise it gives it back after the pread.
 *
 * @return the number of bytes copied (0 at or past the end of the file), or a
 *         negative error (-EINVAL for a NULL cursor or NULL dst with len > 0,
 *         -EIO for a fault, or any error of smmap_cursor_use); dst may then
 *         hold part of the bytes
 */
SMMAP_API int64_t smmap_read(smmap_cursor *c, uint64_t offset, void *dst,
                             size_t len);

/*
 * For applications that handle SIGBUS/SIGSEGV themselves (and create their
 * managers with SMMAP_NO_SIGNAL_HANDLER): call this first from the handler
 * (installed with SA_SIGINFO) with the handler's three arguments. If the
 * fault hit the copy of a smmap_read, it either does not return or returns
 * nonzero: then return from the handler at once, and smmap_read returns
 * -EIO. Otherwise it returns 0 and the handler goes on as it would.
 * Async-signal-safe. On Windows pass (0, ExceptionRecord, ContextRecord)
 * from a vectored exception handler and return
 * EXCEPTION_CONTINUE_EXECUTION when it returns nonzero: Windows refuses to
 * truncate a mapped file, but in-page errors (a network share gone, a
 * failing disk) are guarded the same way.
 */
SMMAP_API int smmap_handle_fault(int sig, void *siginfo, void *ucontext);

/*
 * Put smmap's SIGBUS/SIGSEGV handler (the guard of smmap_read) in front of
 * the process's handlers again. The library does this itself whenever it
 * maps a window; call it after installing a fault handler of your own
 * (Python's faulthandler.enable(), a test runner's) when reads of windows
 * mapped before must stay guarded at once: a handler in front of ours that
 * re-raises a fault (most do) loses where it happened, and the process
 * dies where smmap_read would have returned -EIO. Faults that are not
 * smmap's are passed to the handler found, as before. If that handler
 * passes a fault back to ours (another library that puts itself in front
 * the same way), the cycle is cut: the default action is restored and the
 * process dies of the fault, as without either library. Do not call it
 * if you handle faults yourself (SMMAP_NO_SIGNAL_HANDLER). Windows: the
 * vectored handler is always asked first; this does nothing.
 *
 * @return 0
 */
SMMAP_API int smmap_guard_install(void);

/* Text for an error code (negative or positive errno); never NULL. */
SMMAP_API const char *smmap_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* SMMAP_H */
