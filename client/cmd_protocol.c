#include "cli.h"
const char cmd_protocol_help[] = "usage: casebook protocol\n";
int cmd_protocol(int argc, char **argv, struct cli_global *g)
{
	(void)argc; (void)argv; (void)g;
	return cli_error("protocol: not built yet");
}
