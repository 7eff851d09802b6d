/*
 * regionmap.c - RegionMap, what map() and buffer() export: a pinned
 * copy of a cursor, so a region with a live memoryview is never unmapped;
 * and the guarded copies out of a held window (csm_held_*), which its
 * indexes and slices and the buffer's use.
 */
#include "csmmap.h"

/*
 * The bytes [off, off + len) of the window a cursor holds, copied with
 * smmap_read's hit path: a guarded copy that never moves the cursor. A page
 * that a truncation removed under the map gives OSError(EIO) instead of
 * SIGBUS (issue 12, case 8). The caller checks that the range lies in the
 * window (csm_held_has); the GIL stays held, as for the raw copies it replaces,
 * so no other thread can release the cursor meanwhile.
 */
int csm_held_has(const smmap_cursor *c, uint64_t off, uint64_t len)
{
    uint64_t rel = off - c->begin;
    return c->data != NULL && rel < (uint64_t)c->size &&
           len <= (uint64_t)c->size - rel;
}

int csm_held_read(smmap_cursor *c, uint64_t off, void *dst, size_t len)
{
    int64_t got;
    if (len == 0)
        return 0;
    if (!csm_held_has(c, off, len)) {
        /* smmap_read would move the cursor: never for a pinned one */
        PyErr_SetString(PyExc_SystemError, "smmap: read outside the held window");
        return -1;
    }
    got = smmap_read(c, off, dst, len);
    if (got < 0) {
        csm_set_error((int)got, NULL);
        return -1;
    }
    if ((uint64_t)got != (uint64_t)len) {
        PyErr_Format(PyExc_SystemError,
                     "smmap: short read inside a held window (%lld of %zu bytes)",
                     (long long)got, len);
        return -1;
    }
    return 0;
}

RegionMapObject *csm_regionmap_alloc(FileObject *file)
{
    RegionMapObject *r = PyObject_New(RegionMapObject, &csm_RegionMapType);
    if (r == NULL)
        return NULL;
    Py_INCREF(file);
    r->file = file;
    file->users++;
    smmap_cursor_init(&r->c, file->f);
    r->view_ofs = r->view_len = 0;
    r->next_ofs = r->next_len = 0;
    r->has_next = 0;
    r->closed = 0;
    r->exports = 0;
    return r;
}

PyObject *csm_regionmap_from_range(FileObject *file, PyObject *manager,
                                   uint64_t ofs, uint64_t size)
{
    RegionMapObject *r;
    uint64_t n;
    int err;
    if (ofs >= file->size)
        return PyErr_Format(PyExc_ValueError,
                            "offset %llu is at or past the end of the file (%llu)",
                            (unsigned long long)ofs,
                            (unsigned long long)file->size);
    n = file->size - ofs;
    if (size < n)
        n = size;
    if (n > (uint64_t)PY_SSIZE_T_MAX)
        return PyErr_NoMemory();
    r = csm_regionmap_alloc(file);
    if (r == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    csm_guard_refresh();
    err = smmap_cursor_use(&r->c, ofs, (size_t)n);
    Py_END_ALLOW_THREADS
    if (err != 0) {
        /* r holds a reference to file: drop it only after csm_file_error */
        csm_file_error(file, manager, err);
        Py_DECREF(r);
        return NULL;
    }
    r->view_ofs = (size_t)(ofs - r->c.begin);
    r->view_len = (size_t)n;
    return (PyObject *)r;
}

/* RegionMap(): a closed map of no file, which MapRegion.release() keeps for
 * a region it never mapped, so that map() and buffer() afterwards give a
 * closed map, as smmap's released region gave its closed mmap. */
static PyObject *regionmap_new(PyTypeObject *type, PyObject *args,
                               PyObject *kw)
{
    static char *names[] = {NULL};
    RegionMapObject *r;
    if (!PyArg_ParseTupleAndKeywords(args, kw, ":RegionMap", names))
        return NULL;
    r = (RegionMapObject *)type->tp_alloc(type, 0);
    if (r == NULL)
        return NULL;
    smmap_cursor_init(&r->c, NULL);
    r->closed = 1;
    return (PyObject *)r;
}

static void regionmap_dealloc(RegionMapObject *self)
{
    smmap_cursor_release(&self->c);
    if (self->file != NULL) {
        self->file->users--;
        Py_DECREF(self->file);
    }
    PyObject_Free(self);
}

static int regionmap_check(RegionMapObject *self)
{
    if (self->closed) {
        PyErr_SetString(PyExc_ValueError, "mmap closed or invalid");
        return -1;
    }
    return 0;
}

static int regionmap_getbuffer(RegionMapObject *self, Py_buffer *view,
                               int flags)
{
    size_t ofs = self->view_ofs, len = self->view_len;
    if (self->has_next) {
        ofs = self->next_ofs;
        len = self->next_len;
        self->has_next = 0;
    }
    if (regionmap_check(self) < 0) {
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self,
                          (void *)(self->c.data + ofs), (Py_ssize_t)len, 1,
                          flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void regionmap_releasebuffer(RegionMapObject *self, Py_buffer *view)
{
    (void)view;
    /* A close() with views alive waits for the last one. */
    if (--self->exports == 0 && self->closed)
        smmap_cursor_release(&self->c);
}

static Py_ssize_t regionmap_len(RegionMapObject *self)
{
    if (regionmap_check(self) < 0)
        return -1;
    return (Py_ssize_t)self->view_len;
}

/* Every step-th of n bytes from file offset off, through a cursor whose
 * window holds them all: guarded copies, one covering copy when the step is
 * small, else one byte at a time (m[::4096] need not copy the window). */
PyObject *csm_held_gather(smmap_cursor *c, uint64_t off, Py_ssize_t n,
                          Py_ssize_t step)
{
    PyObject *out, *whole;
    Py_ssize_t k, astep = step > 0 ? step : -step, span;
    uint64_t lo;
    char *dst;
    const char *src;
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL || n == 0)
        return out;
    dst = PyBytes_AS_STRING(out);
    if (astep > 16) {
        for (k = 0; k < n; k++)
            if (csm_held_read(c, off + (uint64_t)(k * step), dst + k, 1) < 0) {
                Py_DECREF(out);
                return NULL;
            }
        return out;
    }
    span = (n - 1) * astep + 1;
    lo = step > 0 ? off : off - (uint64_t)((n - 1) * astep);
    whole = PyBytes_FromStringAndSize(NULL, span);
    if (whole == NULL || csm_held_read(c, lo, PyBytes_AS_STRING(whole), (size_t)span) < 0) {
        Py_XDECREF(whole);
        Py_DECREF(out);
        return NULL;
    }
    src = PyBytes_AS_STRING(whole) + (off - lo);
    for (k = 0; k < n; k++)
        dst[k] = src[k * step];
    Py_DECREF(whole);
    return out;
}

/* The byte at index i (0 <= i < len) into *b, through the guarded read: 0,
 * or -1 with an exception (closed, out of range, OSError(EIO) for a page
 * a truncation took). */
static int regionmap_byte(RegionMapObject *self, Py_ssize_t i,
                          unsigned char *b)
{
    if (regionmap_check(self) < 0)
        return -1;
    if (i < 0 || (size_t)i >= self->view_len) {
        PyErr_SetString(PyExc_IndexError, "mmap index out of range");
        return -1;
    }
    return csm_held_read(&self->c, self->c.begin + self->view_ofs +
                                       (uint64_t)i, b, 1) < 0 ? -1 : 0;
}

/* m[i] and m[a:b:c] copy, through the guarded read (a truncated file gives
 * OSError(EIO)); only the buffer protocol (memoryview, struct.unpack_from)
 * reads the map's raw memory. */
static PyObject *regionmap_subscript(RegionMapObject *self, PyObject *key)
{
    uint64_t base;
    Py_ssize_t len;
    if (regionmap_check(self) < 0)
        return NULL;
    if (PyIndex_Check(key)) {
        unsigned char b;
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        /* regionmap_byte checks again: __index__ may have closed the map */
        if (i < 0)
            i += (Py_ssize_t)self->view_len;
        if (regionmap_byte(self, i, &b) < 0)
            return NULL;
        return PyLong_FromLong(b);
    }
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step, n;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0 ||
            regionmap_check(self) < 0) /* __index__ may have closed it */
            return NULL;
        base = self->c.begin + self->view_ofs;
        len = (Py_ssize_t)self->view_len;
        n = PySlice_AdjustIndices(len, &start, &stop, step);
        return csm_held_gather(&self->c, base + (uint64_t)start, n, step);
    }
    return PyErr_Format(PyExc_TypeError, "mmap indices must be integers or slices, not %.200s",
                        Py_TYPE(key)->tp_name);
}

static PyObject *regionmap_close(RegionMapObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->closed) {
        self->closed = 1;
        if (self->exports == 0)
            smmap_cursor_release(&self->c);
    }
    Py_RETURN_NONE;
}

static PyObject *regionmap_get_closed(RegionMapObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->closed);
}

static PyObject *regionmap_get_offset(RegionMapObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(self->c.begin + self->view_ofs);
}

static PyObject *regionmap_get_exports(RegionMapObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(self->exports);
}

static PyObject *regionmap_repr(RegionMapObject *self)
{
    return PyUnicode_FromFormat("<smmap region map offset=%llu size=%zu%s>",
                                (unsigned long long)(self->c.begin + self->view_ofs),
                                self->view_len, self->closed ? " closed" : "");
}

static PyMethodDef regionmap_methods[] = {
    {"close", (PyCFunction)regionmap_close, METH_NOARGS,
     "Unpin the region (after the last exported view is released)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef regionmap_getset[] = {
    {"closed", (getter)regionmap_get_closed, NULL, NULL, NULL},
    {"offset", (getter)regionmap_get_offset, NULL, "file offset of [0]", NULL},
    {"exports", (getter)regionmap_get_exports, NULL, "live buffer views", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

/* Iteration and `in` go through this, as in Python's mmap: each byte as a
 * bytes object of length 1 (m[i] gives an int). */
static PyObject *regionmap_item(RegionMapObject *self, Py_ssize_t i)
{
    unsigned char b;
    if (regionmap_byte(self, i, &b) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)&b, 1);
}

static PyMappingMethods regionmap_as_mapping = {
    (lenfunc)regionmap_len, (binaryfunc)regionmap_subscript, NULL};

static PySequenceMethods regionmap_as_sequence = {
    .sq_length = (lenfunc)regionmap_len,
    .sq_item = (ssizeargfunc)regionmap_item,
};

static PyBufferProcs regionmap_as_buffer = {
    (getbufferproc)regionmap_getbuffer,
    (releasebufferproc)regionmap_releasebuffer};

PyTypeObject csm_RegionMapType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "smmap._csmmap.RegionMap",
    .tp_basicsize = sizeof(RegionMapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only bytes of a pinned region (len, [i], [a:b] -> bytes, "
              "iteration, in, buffer protocol), as smmap's mmap objects",
    .tp_new = regionmap_new,
    .tp_dealloc = (destructor)regionmap_dealloc,
    .tp_repr = (reprfunc)regionmap_repr,
    .tp_as_mapping = &regionmap_as_mapping,
    .tp_as_sequence = &regionmap_as_sequence,
    .tp_as_buffer = &regionmap_as_buffer,
    .tp_methods = regionmap_methods,
    .tp_getset = regionmap_getset,
};
