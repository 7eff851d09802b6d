/* A consumer of the installed library: found via find_package or pkg-config. */
#include <smmap.h>
#include <string.h>

int main(void)
{
    smmap_manager *m;
    if (smmap_manager_new(&m, NULL) != 0)
        return 1;
    smmap_manager_free(m);
    return strcmp(smmap_strerror(-ERANGE), "success") == 0;
}
