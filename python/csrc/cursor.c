/*
 * cursor.c - WindowCursor: one smmap_cursor and smmap's view of it
 * (offset and size asked for), use_region's rule, buffer() and map().
 */
#include "csmmap.h"

static void cursor_link(WindowCursorObject *w)
{
    ManagerObject *m = w->file->mgr;
    w->prev = NULL;
    w->next = m->cursors;
    if (m->cursors != NULL)
        m->cursors->prev = w;
    m->cursors = w;
    w->file->users++;
}

static void cursor_unlink(WindowCursorObject *w)
{
    ManagerObject *m = w->file->mgr;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        m->cursors = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->file->users--;
}

/* Forget the exporters of the window the cursor is leaving; those with live
 * views keep their own pin. */
void csm_cursor_drop_exports(WindowCursorObject *w)
{
    Py_CLEAR(w->buf_exp);
    Py_CLEAR(w->map_exp);
}

void csm_cursor_release(WindowCursorObject *w)
{
    csm_cursor_drop_exports(w);
    smmap_cursor_release(&w->c);
}

/* Associate with file (NULL: none), dropping what the cursor held. The
 * references it drops are dropped last, once the cursor is in its new
 * state: a drop may run Python code (a path's __del__), which may use
 * this cursor again. */
static void cursor_set_file(WindowCursorObject *w, FileObject *file)
{
    FileObject *old = w->file;
    PyObject *buf_exp = (PyObject *)w->buf_exp, *map_exp = (PyObject *)w->map_exp;
    w->buf_exp = w->map_exp = NULL;
    smmap_cursor_release(&w->c);
    if (old != NULL)
        cursor_unlink(w);
    w->file = NULL;
    if (file != NULL) {
        Py_INCREF(file);
        w->file = file;
        cursor_link(w);
    }
    smmap_cursor_init(&w->c, file != NULL ? file->f : NULL);
    Py_XDECREF(buf_exp);
    Py_XDECREF(map_exp);
    Py_XDECREF(old);
}

/* The slow path of every move: may map or open, so runs without the GIL.
 * The cursor ends up on a region holding [off, off + need) contiguously; a
 * new one is placed for [off, off + want). refresh: put the guard back in
 * front first (use_region, not a buffer's own moves between windows). */
static int cursor_move(WindowCursorObject *w, uint64_t off, uint64_t need,
                       uint64_t want, int refresh)
{
    int err;
    if (csm_cursor_ensure_open(w) < 0)
        return -1;
    if (want > (uint64_t)SIZE_MAX)
        want = SIZE_MAX;
    if (need > want)
        need = want;
    csm_cursor_drop_exports(w);
    w->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    if (refresh)
        csm_guard_refresh();
#ifdef SMMAP_HAVE_CURSOR_USE_RANGE
    err = smmap_cursor_use_range(&w->c, off, (size_t)need, (size_t)want);
#else
    /* without it, a region is reused only if it holds the whole request */
    (void)need;
    err = smmap_cursor_use(&w->c, off, (size_t)want);
#endif
    Py_END_ALLOW_THREADS
    w->busy = 0;
    if (err != 0) {
        csm_file_error(w->file, w->manager, err);
        return -1;
    }
    return 0;
}

/* Open the cursor's file on first use. Opening runs without the GIL, so
 * the cursor is busy meanwhile: another thread must not initialize it again
 * while this one has moved on to using it. */
int csm_cursor_ensure_open(WindowCursorObject *w)
{
    int rc = 0;
    if (w->file == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "smmap: cursor is not associated with a file");
        return -1;
    }
    if (w->c.file != NULL)
        return 0;
    if (csm_check_idle(w) < 0)
        return -1;
    if (w->file->f == NULL) {
        w->busy = 1;
        rc = csm_file_open(w->file);
        w->busy = 0;
    }
    if (rc == 0 && w->c.file == NULL)
        smmap_cursor_init(&w->c, w->file->f);
    return rc;
}

/*
 * smmap's use_region: clamp the request to the window, release and stay
 * invalid for an offset at or past EOF. The held window is kept when it
 * contains offset and at least `need` bytes from it (smmap kept it whenever
 * it contained offset, so a caller could get a few bytes where it asked for
 * a window: gitdb then decompressed a truncated stream). A new window always
 * holds the whole clamped request contiguously.
 * Returns 1 valid, 0 invalid (EOF), -1 error.
 */
int csm_cursor_use_need(WindowCursorObject *w, uint64_t offset,
                        uint64_t size, uint64_t need, int refresh)
{
    uint64_t fsize, win, n, rel;
    if (csm_check_idle(w) < 0 || csm_cursor_ensure_open(w) < 0)
        return -1;
    fsize = w->file->size;
    win = w->file->mgr->window;
    if (size == 0 || size > fsize)
        size = fsize;
    if (win != 0 && size > win)
        size = win;
    if (offset >= fsize) {
        csm_cursor_release(w);
        return 0;
    }
    n = fsize - offset;
    if (size < n)
        n = size;
    if (need > n)
        need = n;
    if (need == 0)
        need = 1;
    rel = offset - w->c.begin;
    if (!(w->c.data != NULL && rel < w->c.size && need <= w->c.size - rel)) {
        if (cursor_move(w, offset, need, n, refresh) < 0)
            return -1;
        rel = offset - w->c.begin;
    }
    w->ofs = offset;
    w->size = w->c.size - rel;
    if (size < w->size)
        w->size = size;
    return 1;
}

/* use_region's rule: keep the held window if it has half a window (or the
 * whole request) from offset, so that sequential reads move the window only
 * every half window, yet a request up to half a window is never cut short. */
int csm_cursor_use(WindowCursorObject *w, uint64_t offset, uint64_t size,
                   int refresh)
{
    uint64_t win = w->file != NULL ? w->file->mgr->window : 0;
    return csm_cursor_use_need(w, offset, size, win != 0 ? win / 2 : UINT64_MAX,
                               refresh);
}

static int cursor_init(WindowCursorObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"manager", "regions", NULL};
    PyObject *manager = Py_None, *regions = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO", names, &manager, &regions))
        return -1;
    if (regions != Py_None && !PyObject_TypeCheck(regions, &csm_FileType)) {
        PyErr_SetString(PyExc_TypeError,
                        "regions must be a File from the manager's make_cursor()");
        return -1;
    }
    if (regions != Py_None && ((FileObject *)regions)->mgr == NULL) {
        PyErr_SetString(PyExc_ValueError, "File not initialized");
        return -1;
    }
    if (csm_check_idle(self) < 0)
        return -1;
    cursor_set_file(self, regions == Py_None ? NULL : (FileObject *)regions);
    Py_INCREF(manager);
    Py_XSETREF(self->manager, manager);
    self->ofs = self->size = 0;
    if (regions != Py_None)
        csm_guard_refresh();
    return 0;
}

static int cursor_traverse(WindowCursorObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->manager);
    return 0;
}

static int cursor_clear(WindowCursorObject *self)
{
    if (self->busy)
        return 0;
    cursor_set_file(self, NULL);
    Py_CLEAR(self->manager);
    return 0;
}

static void cursor_dealloc(WindowCursorObject *self)
{
    PyObject_GC_UnTrack(self);
    cursor_set_file(self, NULL);
    Py_CLEAR(self->manager);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *cursor_use_region(WindowCursorObject *self,
                                   PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = {"offset", "size", "flags"};
    unsigned long long v[3] = {0, 0, 0};
    int fast = kwnames == NULL && nargs <= 2;
    if (fast) {
        /* the hot path: use_region(ofs) or use_region(ofs, size) */
        if (nargs >= 1) {
            v[0] = PyLong_AsUnsignedLongLong(args[0]);
            if (v[0] == (unsigned long long)-1 && PyErr_Occurred())
                fast = 0;
        }
        if (fast && nargs == 2) {
            v[1] = PyLong_AsUnsignedLongLong(args[1]);
            if (v[1] == (unsigned long long)-1 && PyErr_Occurred())
                fast = 0;
        }
        if (!fast) {
            /* not an int in [0, 2**64): parse again, through __index__,
             * for the value or the error naming the argument (a negative
             * or huge int is a ValueError, a float a TypeError) */
            PyErr_Clear();
        }
    }
    if (!fast && csm_parse_u64_args(args, nargs, kwnames, names, 3, v) < 0)
        return NULL;
    /* flags were os.open flags in smmap; the library opens O_RDONLY|O_CLOEXEC */
    if (csm_cursor_use(self, v[0], v[1], 1) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *cursor_unuse_region(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (csm_check_idle(self) < 0)
        return NULL;
    csm_cursor_release(self);
    Py_RETURN_NONE;
}

static int cursor_check_valid(WindowCursorObject *self)
{
    if (csm_check_idle(self) < 0)
        return -1;
    if (self->c.data == NULL) {
        PyErr_SetString(PyExc_ValueError, "smmap: cursor is not valid (no region in use)");
        return -1;
    }
    return 0;
}

/* A RegionMap pinning the cursor's region (a copy of the cursor). */
static RegionMapObject *cursor_pin_copy(WindowCursorObject *self)
{
    RegionMapObject *r = csm_regionmap_alloc(self->file);
    if (r == NULL)
        return NULL;
    smmap_cursor_copy(&r->c, &self->c);
    r->view_ofs = 0;
    r->view_len = r->c.size;
    return r;
}

/* A memoryview of the cursor's bytes. The exporter pins the region; its
 * one-shot sub-view makes the view start at the cursor's offset without a
 * second view object. */
static PyObject *cursor_buffer(WindowCursorObject *self, PyObject *unused)
{
    RegionMapObject *r;
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    r = self->buf_exp;
    if (r == NULL) {
        r = cursor_pin_copy(self);
        if (r == NULL)
            return NULL;
        self->buf_exp = r;
    }
    r->next_ofs = (size_t)(self->ofs - self->c.begin);
    r->next_len = (size_t)self->size;
    r->has_next = 1;
    return PyMemoryView_FromObject((PyObject *)r);
}

/*
 * smmap's map(): the bytes from the region's first byte. When the rest of
 * the file fits in half the memory budget it is mapped as one region to the
 * end of the file, so an index larger than the window is mapped whole
 * (gitdb #6) and windows still fit beside it; otherwise (or if that mapping
 * fails) it is the cursor's region.
 */
static PyObject *cursor_map(WindowCursorObject *self, PyObject *unused)
{
    RegionMapObject *r;
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    r = self->map_exp;
    if (r == NULL) {
        uint64_t rest = self->file->size - self->c.begin;
        r = NULL;
        if (rest > self->c.size && rest <= self->file->mgr->max_mapped / 2 &&
            rest <= (uint64_t)PY_SSIZE_T_MAX) {
            /* maps without the GIL: keep other threads off this cursor */
            self->busy = 1;
            r = (RegionMapObject *)csm_regionmap_from_range(
                self->file, self->manager, self->c.begin, rest);
            self->busy = 0;
            if (r == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_MemoryError) &&
                    !PyErr_ExceptionMatches(PyExc_OSError))
                    return NULL;
                PyErr_Clear();
            }
        }
        if (r == NULL) {
            r = cursor_pin_copy(self);
            if (r == NULL)
                return NULL;
        }
        self->map_exp = r;
    }
    Py_INCREF(r);
    return (PyObject *)r;
}

static PyObject *cursor_is_valid(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(self->c.data != NULL);
}

static PyObject *cursor_is_associated(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(self->file != NULL);
}

static PyObject *cursor_ofs_begin(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->ofs);
}

static PyObject *cursor_ofs_end(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->ofs + self->size);
}

static PyObject *cursor_size(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(self->size);
}

static PyObject *cursor_includes_ofs(WindowCursorObject *self, PyObject *arg)
{
    PyObject *num = csm_arg_index(arg, "ofs");
    long long ofs;
    if (num == NULL)
        return NULL;
    ofs = PyLong_AsLongLong(num);
    Py_DECREF(num);
    if (ofs == -1 && PyErr_Occurred()) {
        /* an offset beyond any file's: not included */
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    if (cursor_check_valid(self) < 0)
        return NULL;
    return PyBool_FromLong(ofs >= 0 && (uint64_t)ofs - self->ofs < self->size);
}

static PyObject *cursor_file_size(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (csm_cursor_ensure_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->file->size);
}

static PyObject *cursor_path_or_fd(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (self->file == NULL) {
        PyErr_SetString(PyExc_ValueError, "smmap: cursor is not associated with a file");
        return NULL;
    }
    Py_INCREF(self->file->path_or_fd);
    return self->file->path_or_fd;
}

static PyObject *cursor_path(WindowCursorObject *self, PyObject *unused)
{
    PyObject *p = cursor_path_or_fd(self, unused);
    if (p != NULL && PyLong_Check(p)) {
        Py_DECREF(p);
        PyErr_SetString(PyExc_ValueError,
                        "Path queried although mapping was applied to a file descriptor");
        return NULL;
    }
    return p;
}

static PyObject *cursor_fd(WindowCursorObject *self, PyObject *unused)
{
    PyObject *p = cursor_path_or_fd(self, unused);
    if (p != NULL && PyUnicode_Check(p)) {
        Py_DECREF(p);
        PyErr_SetString(PyExc_ValueError,
                        "File descriptor queried although mapping was generated from path");
        return NULL;
    }
    return p;
}

static PyObject *cursor_destroy(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (csm_check_idle(self) < 0)
        return NULL;
    csm_cursor_release(self);
    Py_RETURN_NONE;
}

static PyObject *cursor_copy_from(WindowCursorObject *self, PyObject *rhs)
{
    WindowCursorObject *r;
    PyObject *manager;
    if (!PyObject_TypeCheck(rhs, &csm_WindowCursorType)) {
        PyErr_SetString(PyExc_TypeError, "can only copy from a WindowCursor");
        return NULL;
    }
    r = (WindowCursorObject *)rhs;
    if (r == self)
        Py_RETURN_NONE;
    if (csm_check_idle(self) < 0 || csm_check_idle(r) < 0)
        return NULL;
    /* Share the file handle (smmap built a new MapRegionList from the old
     * one, whose path_or_fd was then the list: copies could not map). */
    if (self->file != r->file)
        cursor_set_file(self, r->file);
    else
        csm_cursor_release(self);
    if (r->c.file != NULL) {
        if (self->c.file == NULL)
            smmap_cursor_init(&self->c, r->c.file);
        smmap_cursor_copy(&self->c, &r->c);
    }
    /* NULL: a cursor whose __init__ never ran, or one the garbage
     * collector cleared; it has no manager, as WindowCursor(None). */
    manager = r->manager != NULL ? r->manager : Py_None;
    Py_INCREF(manager);
    Py_XSETREF(self->manager, manager);
    self->ofs = r->ofs;
    self->size = r->size;
    if (self->file != NULL)
        csm_guard_refresh();
    Py_RETURN_NONE;
}

static PyObject *cursor_copy(WindowCursorObject *self, PyObject *unused)
{
    PyObject *cpy, *res;
    (void)unused;
    cpy = PyObject_CallNoArgs((PyObject *)Py_TYPE(self));
    if (cpy == NULL)
        return NULL;
    res = cursor_copy_from((WindowCursorObject *)cpy, (PyObject *)self);
    if (res == NULL) {
        Py_DECREF(cpy);
        return NULL;
    }
    Py_DECREF(res);
    return cpy;
}

static PyObject *cursor_assign(WindowCursorObject *self, PyObject *rhs)
{
    return cursor_copy_from(self, rhs);
}

static PyObject *cursor_enter(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *cursor_exit(WindowCursorObject *self, PyObject *args)
{
    (void)args;
    return cursor_destroy(self, NULL);
}

/* (address, begin, size) of the held region, or None: a region's identity
 * for MapRegion objects (a pinned mapping's address is unique). */
static PyObject *cursor_region_key(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (cursor_check_valid(self) < 0) {
        if (self->busy)
            return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(KKn)", (unsigned long long)(uintptr_t)self->c.data,
                         (unsigned long long)self->c.begin, (Py_ssize_t)self->c.size);
}

static PyMethodDef cursor_methods[] = {
    {"use_region", (PyCFunction)(void (*)(void))cursor_use_region,
     METH_FASTCALL | METH_KEYWORDS,
     "use_region(offset=0, size=0, flags=0) -> self; invalid past EOF"},
    {"unuse_region", (PyCFunction)cursor_unuse_region, METH_NOARGS, NULL},
    {"buffer", (PyCFunction)cursor_buffer, METH_NOARGS,
     "memoryview of the cursor's bytes; pins the region while alive"},
    {"map", (PyCFunction)cursor_map, METH_NOARGS,
     "the region's bytes from its first byte (to EOF when it fits the budget)"},
    {"is_valid", (PyCFunction)cursor_is_valid, METH_NOARGS, NULL},
    {"is_associated", (PyCFunction)cursor_is_associated, METH_NOARGS, NULL},
    {"ofs_begin", (PyCFunction)cursor_ofs_begin, METH_NOARGS, NULL},
    {"ofs_end", (PyCFunction)cursor_ofs_end, METH_NOARGS, NULL},
    {"size", (PyCFunction)cursor_size, METH_NOARGS, NULL},
    {"includes_ofs", (PyCFunction)cursor_includes_ofs, METH_O, NULL},
    {"file_size", (PyCFunction)cursor_file_size, METH_NOARGS, NULL},
    {"path_or_fd", (PyCFunction)cursor_path_or_fd, METH_NOARGS, NULL},
    {"path", (PyCFunction)cursor_path, METH_NOARGS, NULL},
    {"fd", (PyCFunction)cursor_fd, METH_NOARGS, NULL},
    {"_destroy", (PyCFunction)cursor_destroy, METH_NOARGS, NULL},
    {"_copy_from", (PyCFunction)cursor_copy_from, METH_O, NULL},
    {"__copy__", (PyCFunction)cursor_copy, METH_NOARGS, NULL},
    {"assign", (PyCFunction)cursor_assign, METH_O, NULL},
    {"__enter__", (PyCFunction)cursor_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)cursor_exit, METH_VARARGS, NULL},
    {"_region_key", (PyCFunction)cursor_region_key, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

/* smmap's private _ofs: the cursor's offset from its region's first byte
 * (ofs_begin() == region().ofs_begin() + _ofs); 0 while not valid. */
static PyObject *cursor_get_ofs(WindowCursorObject *self, void *unused)
{
    (void)unused;
    if (csm_check_idle(self) < 0)
        return NULL;
    if (self->c.data == NULL)
        return PyLong_FromLong(0);
    return PyLong_FromUnsignedLongLong(self->ofs - self->c.begin);
}

static PyMemberDef cursor_members[] = {
    {"_manager", T_OBJECT, offsetof(WindowCursorObject, manager), READONLY, NULL},
    {"_rlist", T_OBJECT, offsetof(WindowCursorObject, file), READONLY, NULL},
    {"_size", T_ULONGLONG, offsetof(WindowCursorObject, size), READONLY,
     "smmap's private _size: size()"},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef cursor_getset[] = {
    {"_ofs", (getter)cursor_get_ofs, NULL,
     "smmap's private _ofs: offset of ofs_begin() in the region", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject csm_WindowCursorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "smmap._csmmap.WindowCursor",
    .tp_basicsize = sizeof(WindowCursorObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A cursor into one file of a manager (smmap's WindowCursor)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)cursor_init,
    .tp_dealloc = (destructor)cursor_dealloc,
    .tp_traverse = (traverseproc)cursor_traverse,
    .tp_clear = (inquiry)cursor_clear,
    .tp_methods = cursor_methods,
    .tp_members = cursor_members,
    .tp_getset = cursor_getset,
};
