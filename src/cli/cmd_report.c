/* Placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_warn("'report' is not implemented yet");
	return CLI_EXIT_SOFTWARE;
}
