/* tmpdir.h - the store tests' cmocka setup and teardown: a fresh directory in `dir`
 * for each test, removed after it. Included once per test program. */
#ifndef CS_TESTS_STORE_TMPDIR_H
#define CS_TESTS_STORE_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static char dir[64];

static int tmpdir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cs-store-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int tmpdir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
