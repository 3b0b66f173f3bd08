/* tamper.c: placeholder until its helper lands the command (issue 6 branch only). */
#include <stdio.h>
#include "cli/commands.h"
int tz_cli_verify_all(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "taizhang %s: not built yet\n", argv[0]);
    return 2;
}
