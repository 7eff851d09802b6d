/*
 * record_rename.h - force-included (-include) into the Python binding's C
 * sources by record_gitdb.py, never into the library: every call the binding
 * makes to a library function that opens, moves or releases something goes
 * to the recorder's wrapper of the same signature (record_shim.c), which
 * writes it to the trace and calls the library. smmap.h then declares the
 * wrappers under these names, so the binding compiles unchanged.
 * smmap_cursor_at's miss path calls smmap_cursor_use, so it is recorded too.
 */
#define smmap_manager_new smmap_rec_manager_new
#define smmap_manager_collect smmap_rec_manager_collect
#define smmap_manager_release_path smmap_rec_manager_release_path
#define smmap_file_open smmap_rec_file_open
#define smmap_file_open_fd smmap_rec_file_open_fd
#define smmap_file_close smmap_rec_file_close
#define smmap_cursor_init smmap_rec_cursor_init
#define smmap_cursor_use smmap_rec_cursor_use
#define smmap_cursor_use_range smmap_rec_cursor_use_range
#define smmap_cursor_release smmap_rec_cursor_release
#define smmap_cursor_copy smmap_rec_cursor_copy
#define smmap_read smmap_rec_read
