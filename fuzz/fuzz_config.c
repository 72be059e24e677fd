/* fuzz_config.c - countersign.yaml loading on arbitrary bytes: an error or a
 * config, never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/cs-fuzz-config-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    cs_config c;
    cs_err err;
    if (cs_config_load(path, &c, &err) == 0) cs_config_free(&c);
    unlink(path);
    return 0;
}
