#include "cli/verbosity.h"

#include <stdbool.h>
#include <string.h>

/* Written once by cli_verbosity_take in main(), before any thread. */
static enum cli_level level = CLI_NORMAL;

enum cli_level cli_verbosity(void)
{
	return level;
}

bool cli_verbosity_option(const char *a)
{
	static const char *const names[] = { "-q", "--quiet", "-v", "--verbose", "-vv", "--debug" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(a, names[i]))
			return true;
	return false;
}

/* Commands whose own -v is not verbosity (compatibility wins there). */
static bool v_is_theirs(const char *cmd)
{
	return !strcmp(cmd, "digest");
}

static bool raise_to(enum cli_level l)
{
	if (level != CLI_QUIET && l > level)
		level = l;
	return true;
}

int cli_verbosity_take(const char *cmd, int argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool taken = false;

		if (!strcmp(a, "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
			taken = (level = CLI_QUIET, true);
		else if (!strcmp(a, "--debug") || (!v_is_theirs(cmd) && !strcmp(a, "-vv")))
			taken = raise_to(CLI_DEBUG);
		else if (!strcmp(a, "--verbose") || (!v_is_theirs(cmd) && !strcmp(a, "-v")))
			taken = raise_to(CLI_VERBOSE);
		if (!taken)
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}
