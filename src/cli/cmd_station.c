/* Placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"

int cmd_station(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_warn("'station' is not implemented yet");
	return CLI_EXIT_SOFTWARE;
}
