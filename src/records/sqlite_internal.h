/* What the SQLite files of records/ (sqlite_db.c, sqlite_query.c) share
 * and nobody else sees: the connection behind struct rp_db. */
#ifndef RP_RECORDS_SQLITE_INTERNAL_H
#define RP_RECORDS_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "records/sqlite_db.h"

struct rp_db {
	sqlite3 *h;
	char *path;
	char *snapshot_dir;
	unsigned busy_ms; /* 0: BUSY_TIMEOUT_MS */ /* a report's private copy of database and log, removed at close */
	pthread_mutex_t lock; /* one statement at a time on h */
	sqlite3_stmt *begin, *commit, *rollback, *insert_attempt, *upsert_board;
};

/* The rp_error for an SQLite result code. */
int rp_db_sqlite_code(int rc);

#endif
