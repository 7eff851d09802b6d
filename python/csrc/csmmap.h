/*
 * csmmap.h - what the files of the extension smmap._csmmap share: its object
 * structs, its five types and the helpers one file gives another. The
 * extension is the C half of the drop-in `smmap` package: Python types over
 * libsmmap (include/smmap.h), doing the work on every hot path.
 *
 * Files (python/csrc/):
 *   module.c     the module: its functions and PyInit__csmmap
 *   errors.c     errors and argument conversion (OSError from the library's
 *                codes, ValueError naming a bad argument), the guard refresh
 *   manager.c    Manager and File: one smmap_manager and its files
 *   regionmap.c  RegionMap and the guarded copies out of a held window
 *   cursor.c     WindowCursor
 *   buffer.c     SlidingWindowMapBuffer
 * Names one file gives another start with csm_ (the library's own internal
 * names start with smmap__); the rest are static.
 *
 * Types:
 *   Manager    owns one smmap_manager and the list of live cursors (for
 *              smmap's client_count() and forced removal).
 *   File       a lazily opened smmap_file for one path or descriptor; the
 *              manager's `_fdict` values (smmap's MapRegionList role).
 *              A path-opened File that gives -ESTALE (its path names
 *              another file now) is marked stale and dropped from the
 *              manager's cache (file_error), so that the next make_cursor()
 *              of the path opens the file there now. Cursors, maps and
 *              buffers hold strong references to their File, so a dropped
 *              one lives (and its smmap_file stays open) until the last of
 *              them goes: nothing is closed under them.
 *   WindowCursor  smmap.mman.WindowCursor: one smmap_cursor plus smmap's
 *              view (offset and size the caller asked for).
 *   RegionMap  what map() and buffer() export: it holds its own pinned copy
 *              of a cursor, so a region with a live memoryview is never
 *              unmapped (no "BufferError: cannot close exported pointers
 *              exist", GitPython #2065). Indexing gives ints, slicing bytes,
 *              like the mmap object smmap returns. RegionMap() is a closed
 *              one of no file (a released MapRegion's).
 *   SlidingWindowMapBuffer  smmap.buf's type, indexing relative to its start.
 *
 * Indexes and slices of a RegionMap or a buffer are copies made by
 * smmap_read, guarded: a page that a truncation removed gives OSError(EIO).
 * The buffer protocol (buffer(), memoryview(map())) exports raw memory,
 * which nothing can guard: there a lost page is SIGBUS, as for an mmap.
 *
 * Python's GIL guards the Python-side state (lists, caches, counters); the
 * library's lock guards the rest. Only slow paths run without the GIL (a
 * cursor move, a file's first open, a whole-file map(), a read across
 * windows: they may mmap, open or copy much); the cursor is marked busy
 * meanwhile and any other use of it raises RuntimeError instead of reading
 * a window that is being replaced. Deallocators touch no module state, so objects
 * finalized at interpreter shutdown are safe.
 */
#ifndef SMMAP_CSMMAP_H
#define SMMAP_CSMMAP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "smmap.h"

#include <limits.h>
#include <string.h>

typedef struct WindowCursorObject WindowCursorObject;

typedef struct {
    PyObject_HEAD
    smmap_manager *m;
    uint64_t window;      /* smmap's window_size: clamps requests; 0 static */
    uint64_t max_mapped;  /* the budget, for map()'s whole-file decision */
    WindowCursorObject *cursors; /* live associated cursors, not owned */
} ManagerObject;

typedef struct {
    PyObject_HEAD
    ManagerObject *mgr;   /* strong */
    smmap_file *f;        /* NULL until first needed (smmap opens lazily) */
    PyObject *path_or_fd; /* as given, so path_or_fd() returns it (`is`) */
    PyObject *ident;      /* free slot for the Python side (fd identity) */
    uint64_t size;
    Py_ssize_t users;     /* cursors and exporters using this handle */
    int stale;            /* a path-opened handle gave -ESTALE: its path now
                           * names another file (or this one shrank); the
                           * manager's cache no longer hands it out */
} FileObject;

typedef struct {
    PyObject_HEAD
    FileObject *file;     /* strong: the handle must outlive the pin */
    smmap_cursor c;       /* a pinned copy; data == NULL once closed */
    size_t view_ofs, view_len; /* the bytes len/index/buffer see, in c.data */
    size_t next_ofs, next_len; /* one-shot sub-view for the next export */
    int has_next;
    int closed;
    Py_ssize_t exports;
} RegionMapObject;

struct WindowCursorObject {
    PyObject_HEAD
    PyObject *manager;    /* the Python manager (smmap's _manager) */
    FileObject *file;     /* NULL when not associated */
    smmap_cursor c;
    uint64_t ofs, size;   /* smmap's view: first byte and length */
    RegionMapObject *buf_exp; /* exporter for buffer(), pins c's region */
    RegionMapObject *map_exp; /* cached map() */
    int busy;
    WindowCursorObject *prev, *next; /* in file->mgr->cursors */
};

typedef struct {
    PyObject_HEAD
    WindowCursorObject *cur; /* NULL for None */
    uint64_t start;
    Py_ssize_t size;
} BufferObject;

extern PyTypeObject csm_ManagerType, csm_FileType, csm_RegionMapType,
    csm_WindowCursorType, csm_BufferType;

/* errors.c */

/* Raise OSError(errno, text[, filename]) for a library error code (ENOMEM
 * without a filename is MemoryError); returns NULL. */
PyObject *csm_set_error(int err, PyObject *filename);
/* csm_set_error for an error on file's behalf; -ESTALE of a path-opened
 * file also marks it stale and has manager (may be NULL or None) forget
 * it. Returns NULL. */
PyObject *csm_file_error(FileObject *file, PyObject *manager, int err);
/* -1 with RuntimeError while another thread moves the cursor, else 0. */
int csm_check_idle(WindowCursorObject *w);
/* Put the library's SIGBUS/SIGSEGV handler back in front. */
void csm_guard_refresh(void);
/* v as a Python int, or NULL with a TypeError naming the argument. */
PyObject *csm_arg_index(PyObject *v, const char *name);
/* *out = v as an int in [0, max]; v NULL leaves *out. -1 with ValueError
 * naming the argument (negative, too large) or TypeError (not an int). */
int csm_arg_u64(PyObject *v, const char *name, unsigned long long max,
                unsigned long long *out);
/* Up to three csm_arg_u64 arguments of a vectorcall, by position or name. */
int csm_parse_u64_args(PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames, const char *const *names, int count,
                       unsigned long long *out);

/* regionmap.c */

/* Whether the cursor's window holds the file bytes [off, off + len). */
int csm_held_has(const smmap_cursor *c, uint64_t off, uint64_t len);
/* Guarded copy of [off, off + len) out of the held window (OSError(EIO)
 * for a page a truncation removed); 0 or -1 with an exception. */
int csm_held_read(smmap_cursor *c, uint64_t off, void *dst, size_t len);
/* bytes of every step-th of n bytes from off, all in the held window. */
PyObject *csm_held_gather(smmap_cursor *c, uint64_t off, Py_ssize_t n,
                          Py_ssize_t step);
/* A new RegionMap of file (opened), holding nothing yet. */
RegionMapObject *csm_regionmap_alloc(FileObject *file);
/* A RegionMap pinning [ofs, ofs + size) of file, clipped to its end. */
PyObject *csm_regionmap_from_range(FileObject *file, PyObject *manager,
                                   uint64_t ofs, uint64_t size);

/* manager.c */

/* Open file's smmap_file on first need; 0 or -1 with an exception. */
int csm_file_open(FileObject *self);

/* cursor.c */

/* Forget the cursor's exporters (those with live views keep their pin). */
void csm_cursor_drop_exports(WindowCursorObject *w);
/* Release the cursor's window and exporters. */
void csm_cursor_release(WindowCursorObject *w);
/* Open the cursor's file on first use; 0 or -1 with an exception. */
int csm_cursor_ensure_open(WindowCursorObject *w);
/* smmap's use_region keeping the held window when it has need bytes from
 * offset; 1 valid, 0 at or past the end, -1 error. */
int csm_cursor_use_need(WindowCursorObject *w, uint64_t offset,
                        uint64_t size, uint64_t need, int refresh);
/* csm_cursor_use_need with use_region's need (half a window). */
int csm_cursor_use(WindowCursorObject *w, uint64_t offset, uint64_t size,
                   int refresh);

#endif /* SMMAP_CSMMAP_H */
