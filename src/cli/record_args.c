#include "cli/record_args.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct option extra_opts[] = {
	{ "spool", required_argument, NULL, CLI_OPT_SPOOL },
	{ "allow-db-offline", no_argument, NULL, CLI_OPT_ALLOW_OFFLINE },
};

/* Every kind of record: its option, its station.conf key (the field of
 * the configuration it lands in) and its sink. */
static const struct record_kind {
	struct option opt;
	const char *config_key;
	size_t config_field; /* offsetof a char * in struct rp_station_config */
	int (*sink_new)(const char *target, struct rp_sink **out, struct rp_diag *d);
} kinds[CLI_RECORD_KINDS] = {
	{ { "report", required_argument, NULL, CLI_OPT_REPORT }, "report",
	  offsetof(struct rp_station_config, report), rp_sink_jsonl_new },
	{ { "db", required_argument, NULL, CLI_OPT_DB }, "database",
	  offsetof(struct rp_station_config, database), rp_sink_database_new },
	{ { "metadata-dir", required_argument, NULL, CLI_OPT_METADATA_DIR }, "metadata_dir",
	  offsetof(struct rp_station_config, metadata_dir), rp_sink_metadata_new },
};

static const struct record_kind *kind_of(int opt)
{
	for (size_t i = 0; i < CLI_RECORD_KINDS; i++)
		if (kinds[i].opt.val == opt)
			return &kinds[i];
	return NULL;
}

void cli_record_longopts(struct cli_longopts *t)
{
	for (size_t i = 0; i < CLI_RECORD_KINDS; i++)
		cli_longopts_add_one(t, &kinds[i].opt);
	for (size_t i = 0; i < sizeof(extra_opts) / sizeof(extra_opts[0]); i++)
		cli_longopts_add_one(t, &extra_opts[i]);
}

int cli_record_option(int opt, const char *arg, struct cli_records *r, const char *cmd)
{
	const struct record_kind *k = kind_of(opt);

	if (opt == CLI_OPT_SPOOL) {
		if (!*arg)
			return cli_usage_error(cmd, "--spool: expected a file name");
		r->spool = arg;
		return CLI_OPTION_TAKEN;
	}
	if (opt == CLI_OPT_ALLOW_OFFLINE) {
		r->allow_offline = true;
		return CLI_OPTION_TAKEN;
	}
	if (!k)
		return CLI_OPTION_OTHER;
	if (!*arg)
		return cli_usage_error(cmd, "--%s: expected a file name", k->opt.name);
	r->target[k - kinds] = arg;
	return CLI_OPTION_TAKEN;
}

const char *cli_records_target(const struct cli_records *r, int opt)
{
	const struct record_kind *k = kind_of(opt);
	return k ? r->target[k - kinds] : NULL;
}

const char *cli_record_config_key(int opt)
{
	const struct record_kind *k = kind_of(opt);

	if (opt == CLI_OPT_SPOOL)
		return "spool";
	if (opt == CLI_OPT_ALLOW_OFFLINE)
		return "allow_db_offline";
	return k ? k->config_key : NULL;
}

void cli_records_from_config(const struct rp_station_config *c, struct cli_records *r)
{
	for (size_t i = 0; i < CLI_RECORD_KINDS; i++)
		r->target[i] = *(char *const *)((const char *)c + kinds[i].config_field);
	r->spool = c->spool;
	r->allow_offline = c->allow_db_offline;
}

const char *cli_records_spool_dir(const struct cli_records *r, char *buf, size_t size)
{
	const char *state = getenv("STATE_DIRECTORY");

	if (!cli_records_any(r))
		return NULL;
	if (state && *state) {
		/* systemd lists several directories separated by ':'. */
		snprintf(buf, size, "%.*s", (int)strcspn(state, ":"), state);
		return buf;
	}
	for (size_t i = 0; i < CLI_RECORD_KINDS; i++) {
		const char *t = r->target[i], *slash;
		if (!t || rp_sink_target_is_postgres(t))
			continue;
		/* Beside the metadata directory, not in it: it holds
		 * <serial>.json files only. */
		slash = strrchr(t, '/');
		while (slash && slash > t && slash[1] == '\0') {
			const char *p = slash - 1;
			while (p > t && *p != '/')
				p--;
			slash = *p == '/' ? p : NULL;
		}
		if (!slash)
			snprintf(buf, size, ".");
		else if (slash == t)
			snprintf(buf, size, "/");
		else
			snprintf(buf, size, "%.*s", (int)(slash - t), t);
		return buf;
	}
	return NULL;
}

bool cli_records_any(const struct cli_records *r)
{
	for (size_t i = 0; i < CLI_RECORD_KINDS; i++)
		if (r->target[i])
			return true;
	return false;
}

/* What a path names on disk: the file's device and inode, or for one not
 * made yet, its directory's and its last component. */
struct file_id {
	bool exists, known;
	dev_t dev;
	ino_t ino;
	char base[NAME_MAX + 1];
};

static void file_id_of(const char *path, struct file_id *id)
{
	char dir[PATH_MAX];
	struct stat st;
	size_t len = strlen(path);
	char *slash;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) == 0) {
		id->exists = id->known = true;
		id->dev = st.st_dev;
		id->ino = st.st_ino;
		return;
	}
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= sizeof(dir))
		return;
	memcpy(dir, path, len);
	dir[len] = '\0';
	slash = strrchr(dir, '/');
	if ((size_t)snprintf(id->base, sizeof(id->base), "%s", slash ? slash + 1 : dir) >=
	    sizeof(id->base))
		return; /* no such name can exist: unknown, never "the same" */
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (stat(slash ? dir : ".", &st) == 0) {
		id->known = true;
		id->dev = st.st_dev;
		id->ino = st.st_ino;
	}
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->known && b->known && a->exists == b->exists && a->dev == b->dev &&
	       a->ino == b->ino && (a->exists || !strcmp(a->base, b->base));
}

/* Two record options naming one file (--report X --db X, --spool X
 * --report X, a metadata directory that is the report) would write one
 * format into another's file: refused before anything is opened. Paths
 * are compared by what they name, so ./x and a symlink to x are x. */
static int check_distinct(const struct cli_records *r, struct rp_diag *d)
{
	const char *paths[CLI_RECORD_KINDS + 1], *what[CLI_RECORD_KINDS + 1];
	struct file_id ids[CLI_RECORD_KINDS + 1];
	size_t n = 0;

	for (size_t i = 0; i < CLI_RECORD_KINDS; i++)
		if (r->target[i] && !rp_sink_target_is_postgres(r->target[i])) {
			paths[n] = r->target[i];
			what[n++] = kinds[i].opt.name;
		}
	if (r->spool) {
		paths[n] = r->spool;
		what[n++] = "spool";
	}
	for (size_t i = 0; i < n; i++)
		file_id_of(paths[i], &ids[i]);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (same_file(&ids[i], &ids[j]))
				return rp_diag_set(d, RP_ERR_INVALID_ARG,
						   "--%s %s and --%s %s are the same file: give each "
						   "record its own file",
						   what[i], paths[i], what[j], paths[j]);
	return RP_OK;
}

int cli_records_sinks(const struct cli_records *r, struct rp_sink **sinks, unsigned *n,
		      struct rp_diag *d)
{
	int ret = check_distinct(r, d);

	*n = 0;
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < CLI_RECORD_KINDS && ret == RP_OK; i++) {
		if (!r->target[i])
			continue;
		ret = kinds[i].sink_new(r->target[i], &sinks[*n], d);
		if (ret == RP_OK)
			(*n)++;
	}
	if (ret < 0) {
		for (unsigned i = 0; i < *n; i++)
			sinks[i]->ops->close(sinks[i]);
		*n = 0;
	}
	return ret;
}
