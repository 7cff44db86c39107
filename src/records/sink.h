/* A record sink: one place finished attempts are kept (a JSON Lines file,
 * a database, a directory of per-board files). The recorder (recorder.h)
 * owns the sinks of a run and is the only caller of these operations, all
 * from its one writer thread except open and last_attempt_id (before
 * that thread has anything to do), so a sink needs no locking of its own.
 *
 * A new kind of sink is one file, sink_<kind>.c: a static rp_sink_ops, a
 * struct that starts with struct rp_sink, and a constructor declared
 * below. The front end maps one option to the constructor.
 *
 * Replays: an attempt is identified by (origin->run_id, rec->attempt_id).
 * A sink that may be handed the same attempt twice (catching up from a
 * spool after a crash) stores it once; the SQLite sink does, the JSON
 * Lines and metadata sinks append or rewrite. */
#ifndef RP_RECORDS_SINK_H
#define RP_RECORDS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records/origin.h"
#include "session/record.h"
#include "util/error.h"

#define RP_SINK_NAME_MAX 512

/* One attempt as a sink receives it. */
struct rp_sink_entry {
	const struct rp_record_origin *origin; /* station and run_id */
	const struct rp_board_record *rec;
	/* 1, 2, ... in the order the recorder received the records: the
	 * position a sink that catches up from a spool remembers. */
	uint64_t seq;
};

struct rp_sink;

struct rp_sink_ops {
	/* Create or open the target; everything that can fail before a board
	 * is touched (permissions, schema, a full disk) fails here. */
	int (*open)(struct rp_sink *s, struct rp_diag *d);
	/* Keep one attempt. Not kept: a negative rp_error and a message
	 * naming the target and the board; the recorder goes on with the next
	 * sink and the next record. */
	int (*append)(struct rp_sink *s, const struct rp_sink_entry *e, struct rp_diag *d);
	/* Make what was appended durable, when append does not already (the
	 * recorder calls it whenever its queue runs empty, and at the end).
	 * May be NULL. */
	int (*flush)(struct rp_sink *s, struct rp_diag *d);
	/* Release everything, the sink included. Called exactly once, also
	 * when open failed or never ran. */
	void (*close)(struct rp_sink *s);
	/* The highest attempt_id this station has recorded here (0: none), so
	 * a new run can continue the numbering. NULL: the sink cannot tell. */
	int (*last_attempt_id)(struct rp_sink *s, const char *station, uint64_t *out,
			       struct rp_diag *d);
	/* The one operation called from another thread, while the writer
	 * may be inside any of the above: give up (a stop, and the sink is
	 * still waiting on its server). A call in progress returns soon with
	 * an error that may pass, and so does every later one; the records
	 * stay in the spool. May be NULL (the sink never waits long). */
	void (*interrupt)(struct rp_sink *s);
};

struct rp_sink {
	const struct rp_sink_ops *ops;
	char name[RP_SINK_NAME_MAX]; /* for messages: "report /var/lib/rpiprov/a.jsonl" */
	/* Its cursor's name in the spool: the kind and the resolved path, so
	 * one file reached by two paths is one sink. "": the name. */
	char key[RP_SINK_NAME_MAX];
};

/* The constructors only allocate and remember the target; open does the
 * work. The target string is copied. */

/* JSON Lines (record_json.h), one line per attempt, appended with one
 * write() on an O_APPEND descriptor (several processes may share the
 * file) and fdatasync'ed before append returns. */
int rp_sink_jsonl_new(const char *path, struct rp_sink **out, struct rp_diag *d);
/* The SQLite manufacturing database (sqlite_db.h). */
int rp_sink_sqlite_new(const char *path, struct rp_sink **out, struct rp_diag *d);
/* How long the SQLite sink waits for another writer's lock before the
 * attempt fails (and stays queued in the spool): tests that hold a lock. */
void rp_sink_sqlite_set_busy_timeout(struct rp_sink *s, unsigned ms);
/* rpiboot -j: DIR/<serial>.json for each board that reported metadata
 * (metadata_json.h); attempts without metadata are skipped, not failed. */
int rp_sink_metadata_new(const char *dir, struct rp_sink **out, struct rp_diag *d);

/* PostgreSQL when target is a libpq URI (postgresql://, postgres://) or
 * key=value connection string containing "dbname=" or "service=". */
bool rp_sink_target_is_postgres(const char *target);
/* --db: PostgreSQL for a connection string, else the SQLite file. */
int rp_sink_database_new(const char *target, struct rp_sink **out, struct rp_diag *d);
/* PostgreSQL through libpq (pg_db.h): conninfo as libpq takes it, with
 * the password from PGPASSFILE, the environment or a service file, never
 * from the command line. */
int rp_sink_pg_new(const char *conninfo, struct rp_sink **out, struct rp_diag *d);

/* How a --db/--report target may be shown: a connection string by its
 * name without secrets (pg_conn.h), a file as given. */
void rp_sink_target_display(const char *target, char *buf, size_t cap);

/* Set a sink's name from a kind and a target ("report", "/x.jsonl"), and
 * its key from the target resolved (realpath; for a file that does not
 * exist yet, its directory's realpath and its name). */
void rp_sink_set_name(struct rp_sink *s, const char *kind, const char *target);

#endif
