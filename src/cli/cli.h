/* Shared pieces of the command-line front end. Only the CLI prints and
 * picks exit codes; the library reports through rp_diag. */
#ifndef RP_CLI_CLI_H
#define RP_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

/* sysexits-style exit codes (values from <sysexits.h>). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,       /* the job ran and at least one board failed */
	CLI_EXIT_USAGE = 64,
	CLI_EXIT_DATAERR = 65,     /* input data is wrong: image, config, .sig, key */
	CLI_EXIT_NOINPUT = 66,     /* an input file is missing or unreadable */
	CLI_EXIT_UNAVAILABLE = 69, /* USB not available, no board, external tool failed */
	CLI_EXIT_SOFTWARE = 70,
	CLI_EXIT_CANTCREAT = 73,   /* an output could not be created */
	CLI_EXIT_IOERR = 74,
	CLI_EXIT_TEMPFAIL = 75,    /* timed out */
	CLI_EXIT_NOPERM = 77,
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

int cmd_eeprom(int argc, char **argv);
int cmd_digest(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_flash(int argc, char **argv);
int cmd_boot(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_station(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_firmware(int argc, char **argv);

/* Map a library error to an exit code. */
int cli_exit_code(int rp_err);
/* Print "rpiprov: error: <message>" and return the mapped exit code. */
int cli_fail(const struct rp_diag *d);
/* Print "rpiprov <cmd>: <message>\nTry 'rpiprov <cmd> --help'." and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?': getopt has already said what is wrong
 * (as "rpiprov CMD: ..."); add only where to look, so the error is said
 * once. Returns CLI_EXIT_USAGE. */
int cli_bad_option(const char *cmd);
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A progress note on stderr; nothing under -q. */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A result on stderr ("rpiprov: ..."): said under -q too. */
void cli_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Syslog priorities journald reads at the start of a line it is given
 * through a stream (SyslogLevelPrefix=, on by default). */
enum cli_priority { CLI_PRIO_ERR = 3, CLI_PRIO_WARNING = 4, CLI_PRIO_INFO = 6 };
/* "<N>" when fd is the journal's stream (JOURNAL_STREAM names its device
 * and inode, as systemd sets it for a service), so `journalctl -p warning`
 * finds errors and failed boards; "" on a terminal, a file or a pipe. */
const char *cli_journal_prefix(int fd, enum cli_priority prio);

/* An option's value through util/parse.h: 0, or the usage error's exit
 * code after printing "rpiprov CMD: OPT: why". Every option that takes a
 * time accepts the same forms (30s, 2m, 1h, 500ms, plain seconds). */
int cli_option_uint(const char *cmd, const char *opt, const char *arg, unsigned min, unsigned max,
		    unsigned *out);
int cli_option_u64(const char *cmd, const char *opt, const char *arg, uint64_t min, uint64_t max,
		   uint64_t *out);
/* An output must never overwrite an input: 0, or the exit code after
 * saying "OUT: output is the input file". */
int cli_output_not_input(const char *out, const char *in);

/* The largest ts: a .sig reader accepts (18 digits): a timestamp we write
 * must verify. */
int cli_option_duration(const char *cmd, const char *opt, const char *arg, uint64_t min_ms,
			uint64_t max_ms, uint64_t *ms);

/* What a parser of a shared group of options (payload, simulation) did
 * with one getopt_long value; a positive value is the exit code of a
 * usage error it already printed. */
enum cli_option_result {
	CLI_OPTION_OTHER = -1, /* not one of the group's: the command handles it */
	CLI_OPTION_TAKEN = 0,
};

/* getopt_long takes one table, so a command's own options and the shared
 * groups are put together in one of these (zeroed before the first add). */
#define CLI_MAX_LONGOPTS 64
struct cli_longopts {
	struct option v[CLI_MAX_LONGOPTS + 1]; /* + the all-zero end row */
	size_t n;
};
/* Append the rows of `rows` up to its all-zero end row. */
void cli_longopts_add(struct cli_longopts *t, const struct option *rows);
void cli_longopts_add_one(struct cli_longopts *t, const struct option *row);

#endif
