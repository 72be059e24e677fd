/* web_assets.h - the files of web/, compiled into the binary by
 * cmake/embed_assets.cmake (the generated web_assets_data.c defines the table). */
#ifndef CS_WEB_ASSETS_H
#define CS_WEB_ASSETS_H

#include <stddef.h>

typedef struct cs_web_file {
    const char *name; /* file name inside web/, e.g. "app.js" */
    const unsigned char *data;
    size_t len;
} cs_web_file;

extern const cs_web_file cs_web_files[];
extern const size_t cs_web_n_files;

#endif
