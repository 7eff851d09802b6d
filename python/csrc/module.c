/*
 * module.c - the module smmap._csmmap: its functions
 * (options_default, guard_install) and PyInit__csmmap, which readies the
 * five types of the other files and adds them.
 */
#include "csmmap.h"

static PyObject *mod_options_default(PyObject *self, PyObject *unused)
{
    smmap_options o;
    (void)self;
    (void)unused;
    smmap_options_init(&o);
    return Py_BuildValue("{sKsKsIsI}", "window_size",
                         (unsigned long long)o.window_size, "max_mapped",
                         (unsigned long long)o.max_mapped, "max_regions",
                         (unsigned)o.max_regions, "max_open_files",
                         (unsigned)o.max_open_files);
}

static PyObject *mod_guard_install(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    csm_guard_refresh();
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"options_default", mod_options_default, METH_NOARGS,
     "The library's default options (smmap_options_init)."},
    {"guard_install", mod_guard_install, METH_NOARGS,
     "Put smmap's SIGBUS/SIGSEGV handler back in front of one installed "
     "after it (e.g. by faulthandler.enable()), so that slices and indexes "
     "of a truncated file keep raising OSError(EIO) (smmap_guard_install)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "smmap._csmmap",
    "The C extension of the smmap package, over libsmmap.", -1, module_methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__csmmap(void);

PyMODINIT_FUNC PyInit__csmmap(void)
{
    PyObject *m;
    PyTypeObject *types[] = {&csm_ManagerType, &csm_FileType, &csm_RegionMapType,
                             &csm_WindowCursorType, &csm_BufferType};
    const char *names[] = {"Manager", "File", "RegionMap", "WindowCursor",
                           "SlidingWindowMapBuffer"};
    size_t i;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (PyType_Ready(types[i]) < 0)
            return NULL;
    m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            Py_DECREF(m);
            return NULL;
        }
    }
    if (PyModule_AddStringConstant(m, "LIBRARY_VERSION", SMMAP_VERSION_STRING) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
