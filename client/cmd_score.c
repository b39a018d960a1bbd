#include "cli.h"
const char cmd_score_help[] = "usage: casebook score\n";
int cmd_score(int argc, char **argv, struct cli_global *g)
{
	(void)argc; (void)argv; (void)g;
	return cli_error("score: not built yet");
}
