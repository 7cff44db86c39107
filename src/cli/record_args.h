/* Where `flash`, `boot` and `station` keep a record of each attempt:
 * --report FILE (JSON Lines), --db FILE (SQLite) and --metadata-dir DIR
 * (rpiboot -j files), the same options in every command, and for station
 * the same keys in station.conf. Each becomes a record sink
 * (records/sink.h); a new kind of sink is one row in record_args.c.
 * --spool FILE says where each record is made durable first
 * (records/spool.h); --allow-db-offline lets a command start while a
 * sink cannot open yet, its records waiting in the spool. */
#ifndef RP_CLI_RECORD_ARGS_H
#define RP_CLI_RECORD_ARGS_H

#include <stdbool.h>

#include "cli/cli.h"
#include "records/sink.h"
#include "station/station_config.h"

/* getopt_long values, apart from the payload, simulation, filter and
 * command ones. */
enum cli_record_opt {
	CLI_OPT_REPORT = 0x1300,
	CLI_OPT_DB,
	CLI_OPT_METADATA_DIR,
	CLI_OPT_SPOOL,
	CLI_OPT_ALLOW_OFFLINE,
};

#define CLI_RECORD_KINDS 3

struct cli_records {
	const char *target[CLI_RECORD_KINDS]; /* by row of the table; NULL: not wanted */
	const char *spool;                    /* NULL: none given */
	bool allow_offline;
};

void cli_record_longopts(struct cli_longopts *t);
/* Returns an enum cli_option_result or an exit code; cmd names the
 * command in usage errors. r starts zeroed. */
int cli_record_option(int opt, const char *arg, struct cli_records *r, const char *cmd);
/* What the record option opt (CLI_OPT_REPORT, ...) was given, or NULL. */
const char *cli_records_target(const struct cli_records *r, int opt);
/* The station.conf key a record option sets (station turns its options
 * into keys), or NULL when opt is not a record option. */
const char *cli_record_config_key(int opt);
/* The record keys of a station configuration. */
void cli_records_from_config(const struct rp_station_config *c, struct cli_records *r);
bool cli_records_any(const struct cli_records *r);
/* Where station keeps its spool when none is given: $STATE_DIRECTORY
 * (systemd's StateDirectory=), else the directory of the first record
 * file. NULL: no record sink, or none with a directory (a database
 * server): the caller asks for --spool. buf holds the result. */
const char *cli_records_spool_dir(const struct cli_records *r, char *buf, size_t size);
/* One sink per target, in table order; *n of them (up to
 * CLI_RECORD_KINDS). On failure none is left open. */
int cli_records_sinks(const struct cli_records *r, struct rp_sink **sinks, unsigned *n,
		      struct rp_diag *d);

#endif
