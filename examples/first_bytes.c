/* Print the first 16 bytes of a file and what the manager did. */
#include <smmap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    smmap_options opt;
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor c;
    smmap_stats s;
    const unsigned char *p;
    int err, i;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    smmap_options_init(&opt);
    opt.window_size = 1 << 20; /* 1 MiB windows */
    opt.max_mapped = 8 << 20;  /* at most 8 MiB mapped */
    if ((err = smmap_manager_new(&m, &opt)) != 0 ||
        (err = smmap_file_open(m, argv[1], &f)) != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], smmap_strerror(err));
        return 1;
    }
    smmap_cursor_init(&c, f);
    p = smmap_cursor_at(&c, 0, 16); /* 16 contiguous bytes, or NULL */
    for (i = 0; p != NULL && i < 16; i++)
        printf("%02x", p[i]);
    printf(p != NULL ? "\n" : "shorter than 16 bytes: %s\n",
           smmap_strerror(c.error));
    smmap_cursor_release(&c); /* before closing the file */
    smmap_manager_stats(m, &s);
    printf("maps %llu, mapped %llu bytes\n", (unsigned long long)s.maps,
           (unsigned long long)s.mapped_bytes);
    smmap_file_close(f);
    smmap_manager_free(m);
    return 0;
}
