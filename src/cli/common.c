#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/verbosity.h"
#include "util/fileio.h"
#include "util/parse.h"

int cli_exit_code(int err)
{
	switch (err) {
	case RP_OK:
		return CLI_EXIT_OK;
	case RP_ERR_INVALID_ARG:
		return CLI_EXIT_USAGE;
	case RP_ERR_FORMAT:
	case RP_ERR_TOO_LARGE:
	case RP_ERR_VERIFY:
	case RP_ERR_CRYPTO:
	case RP_ERR_REFUSED:
		return CLI_EXIT_DATAERR;
	case RP_ERR_NOT_FOUND:
		return CLI_EXIT_NOINPUT;
	case RP_ERR_ACCESS:
		return CLI_EXIT_NOPERM;
	case RP_ERR_EXISTS:
		return CLI_EXIT_CANTCREAT;
	case RP_ERR_IO:
		return CLI_EXIT_IOERR;
	case RP_ERR_TIMEOUT:
		return CLI_EXIT_TEMPFAIL;
	case RP_ERR_NO_DEVICE:
	case RP_ERR_USB:
	case RP_ERR_CHILD:
	case RP_ERR_UNSUPPORTED:
	case RP_ERR_BUSY:
	case RP_ERR_NETWORK:
		return CLI_EXIT_UNAVAILABLE;
	case RP_ERR_BOARD:
	case RP_ERR_PROTOCOL:
	case RP_ERR_PIPE:
	case RP_ERR_SHORT:
	case RP_ERR_OVERFLOW:
		return CLI_EXIT_FAILED;
	default:
		return CLI_EXIT_SOFTWARE;
	}
}

int cli_fail(const struct rp_diag *d)
{
	const char *prio = cli_journal_prefix(STDERR_FILENO, CLI_PRIO_ERR);

	if (cli_verbosity() >= CLI_DEBUG && d)
		fprintf(stderr, "%srpiprov: error: %s [%s]\n", prio, rp_diag_message(d),
			rp_error_name(d->code));
	else
		fprintf(stderr, "%srpiprov: error: %s\n", prio, rp_diag_message(d));
	return cli_exit_code(d ? d->code : RP_ERR_IO);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%srpiprov %s: ", cli_journal_prefix(STDERR_FILENO, CLI_PRIO_ERR), cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'rpiprov %s --help'.\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_bad_option(const char *cmd)
{
	fprintf(stderr, "Try 'rpiprov %s --help'.\n", cmd);
	return CLI_EXIT_USAGE;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	fputs(cli_journal_prefix(STDERR_FILENO, CLI_PRIO_WARNING), stderr);
	fputs("rpiprov: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *cli_journal_prefix(int fd, enum cli_priority prio)
{
	static const char *const prefixes[] = { "<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>" };
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(fd, &st) < 0 ||
	    (unsigned long long)st.st_dev != dev || (unsigned long long)st.st_ino != ino)
		return "";
	return prefixes[(unsigned)prio & 7u];
}

static void say(const char *fmt, va_list ap)
{
	fputs(cli_journal_prefix(STDERR_FILENO, CLI_PRIO_INFO), stderr);
	fputs("rpiprov: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_info(const char *fmt, ...)
{
	va_list ap;
	if (cli_verbosity() == CLI_QUIET)
		return;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void cli_result(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

int cli_option_u64(const char *cmd, const char *opt, const char *arg, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	struct rp_diag d;
	if (rp_parse_u64(arg, min, max, out, &d) < 0)
		return cli_usage_error(cmd, "%s: %s", opt, d.msg);
	return 0;
}

int cli_option_uint(const char *cmd, const char *opt, const char *arg, unsigned min, unsigned max,
		    unsigned *out)
{
	uint64_t v;
	int r = cli_option_u64(cmd, opt, arg, min, max, &v);

	if (!r)
		*out = (unsigned)v;
	return r;
}

int cli_option_duration(const char *cmd, const char *opt, const char *arg, uint64_t min_ms,
			uint64_t max_ms, uint64_t *ms)
{
	struct rp_diag d;
	if (rp_parse_duration_ms(arg, min_ms, max_ms, ms, &d) < 0)
		return cli_usage_error(cmd, "%s: %s", opt, d.msg);
	return 0;
}

void cli_longopts_add_one(struct cli_longopts *t, const struct option *row)
{
	/* The tables are fixed when rpiprov is built: running out of room is
	 * a bug to catch in the first test, not an input error. */
	if (t->n == CLI_MAX_LONGOPTS)
		abort();
	t->v[t->n++] = *row;
}

void cli_longopts_add(struct cli_longopts *t, const struct option *rows)
{
	for (; rows->name; rows++)
		cli_longopts_add_one(t, rows);
}

int cli_output_not_input(const char *out, const char *in)
{
	struct rp_diag d;

	if (strcmp(out, in) != 0 && !rp_file_same(out, in))
		return 0;
	rp_diag_set(&d, RP_ERR_INVALID_ARG, "%s: output is the input file %s; write to another file",
		    out, in);
	return cli_fail(&d);
}
