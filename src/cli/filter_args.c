#include "cli/filter_args.h"

#include <string.h>

/* What separates the items of --ports and --serials; station.conf's
 * lists split alike. */
#define LIST_SEPARATORS " \t,"

void cli_filter_longopts(struct cli_longopts *t)
{
	static const struct option rows[] = {
		{ "port", required_argument, NULL, CLI_OPT_PORT },
		{ "ports", required_argument, NULL, CLI_OPT_PORTS },
		{ "serial", required_argument, NULL, CLI_OPT_SERIAL },
		{ "serials", required_argument, NULL, CLI_OPT_SERIALS },
		{ NULL, 0, NULL, 0 },
	};
	cli_longopts_add(t, rows);
}

static int add(const char **list, unsigned *n, const char *item, const char *what, const char *cmd)
{
	if (*n == RP_RUNNER_MAX_FILTERS)
		return cli_usage_error(cmd, "at most %d %s", RP_RUNNER_MAX_FILTERS, what);
	list[(*n)++] = item;
	return 0;
}

/* Each item of a list, copied into f->text. */
static int add_list(struct cli_filters *f, const char **list, unsigned *n, const char *arg,
		    const char *option, const char *what, const char *cmd)
{
	unsigned before = *n;

	for (const char *p = arg + strspn(arg, LIST_SEPARATORS); *p;) {
		size_t len = strcspn(p, LIST_SEPARATORS);
		char *item = f->text + f->used;
		int r;
		if (len >= sizeof(f->text) - f->used)
			return cli_usage_error(cmd, "%s: the lists are too long", option);
		memcpy(item, p, len);
		item[len] = '\0';
		f->used += len + 1;
		r = add(list, n, item, what, cmd);
		if (r)
			return r;
		p += len;
		p += strspn(p, LIST_SEPARATORS);
	}
	if (*n == before)
		return cli_usage_error(cmd, "%s '%s': expected a list separated by commas", option, arg);
	return 0;
}

int cli_filter_option(int opt, const char *arg, struct cli_filters *f, const char *cmd)
{
	switch (opt) {
	case CLI_OPT_PORT:
		return add(f->ports, &f->n_ports, arg, "--port/--ports globs", cmd);
	case CLI_OPT_SERIAL:
		return add(f->serials, &f->n_serials, arg, "--serial/--serials serials", cmd);
	case CLI_OPT_PORTS:
		return add_list(f, f->ports, &f->n_ports, arg, "--ports", "--port/--ports globs", cmd);
	case CLI_OPT_SERIALS:
		return add_list(f, f->serials, &f->n_serials, arg, "--serials",
				"--serial/--serials serials", cmd);
	default:
		return CLI_OPTION_OTHER;
	}
}

void cli_filters_apply(const struct cli_filters *f, struct rp_runner_opts *ro)
{
	for (unsigned i = 0; i < f->n_ports && ro->n_port_globs < RP_RUNNER_MAX_FILTERS; i++)
		ro->port_globs[ro->n_port_globs++] = f->ports[i];
	for (unsigned i = 0; i < f->n_serials && ro->n_serials < RP_RUNNER_MAX_FILTERS; i++)
		ro->serials[ro->n_serials++] = f->serials[i];
}
