/* cmd_list.c - `countersign list [--status S] [--limit N] [--all] [--json]`. */
#include "cli/cli.h"
#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cs_cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {{"status", required_argument, 0, 's'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"all", no_argument, 0, 'a'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *st = NULL, *limit = "50";
    int all = 0, as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            st = optarg;
        else if (c == 'l')
            limit = optarg;
        else if (c == 'a')
            all = 1;
        else if (c == 'j')
            as_json = 1;
        else
            goto usage;
    }
    if (optind != argc || strspn(limit, "0123456789") != strlen(limit) ||
        (st && strspn(st, "abcdefghijklmnopqrstuvwxyz") != strlen(st)))
        goto usage;
    json_t *items = json_array();
    char cursor[32] = "";
    int code = CS_EXIT_OK;
    do {
        char path[256];
        snprintf(path, sizeof path, "/v1/actions?limit=%s%s%s%s%s", limit, st ? "&status=" : "",
                 st ? st : "", cursor[0] ? "&cursor=" : "", cursor);
        long status = 0;
        json_t *out = NULL;
        if (cs_client_call("GET", path, NULL, NULL, 30, &status, &out) != 0) {
            code = CS_EXIT_USAGE;
            break;
        }
        if (status != 200) {
            cs_client_print_problem(status, out);
            json_decref(out);
            code = CS_EXIT_USAGE;
            break;
        }
        json_array_extend(items, json_object_get(out, "items"));
        const char *next = json_string_value(json_object_get(out, "next_cursor"));
        snprintf(cursor, sizeof cursor, "%s", next && all ? next : "");
        json_decref(out);
    } while (cursor[0]);
    if (code == CS_EXIT_OK) {
        if (as_json) {
            char *t = json_dumps(items, JSON_INDENT(2));
            printf("%s\n", t);
            free(t);
        } else {
            size_t i;
            json_t *a;
            json_array_foreach(items, i, a)
            {
                json_t *r = json_object_get(a, "requester");
                printf("%-28s %-9s %-20s %-30s %s\n", json_string_value(json_object_get(a, "id")),
                       json_string_value(json_object_get(a, "status")),
                       json_string_value(json_object_get(a, "action")),
                       json_string_value(json_object_get(a, "resource")),
                       json_string_value(json_object_get(r, "id")));
            }
        }
    }
    json_decref(items);
    return code;
usage:
    fprintf(stderr, "usage: countersign list [--status S] [--limit N] [--all] [--json]\n");
    return CS_EXIT_USAGE;
}
