#include "station/station_config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/parse.h"

enum key_kind {
	KIND_STRING,   /* single value */
	KIND_REPEAT,   /* every occurrence appends one value (set, unset) */
	KIND_LIST,     /* whitespace/comma separated values, occurrences append */
	KIND_DURATION, /* milliseconds */
	KIND_BOOL,
};

enum value_check {
	CHECK_ANY = 0,
	CHECK_ASSIGNMENT, /* KEY=VALUE */
	CHECK_NAME,       /* a boot.conf key */
	CHECK_LABEL,      /* station name: short printable, no spaces */
};

struct key_desc {
	const char *name;
	enum key_kind kind;
	enum value_check check;
	size_t field;     /* offsetof the value (char *, char *[], unsigned, bool) */
	size_t count;     /* offsetof the unsigned count for REPEAT/LIST */
	unsigned cap;
};

#define STR(n, f) { n, KIND_STRING, CHECK_ANY, offsetof(struct rp_station_config, f), 0, 0 }
#define ARR(n, kind, chk, f, cnt, cap) \
	{ n, kind, chk, offsetof(struct rp_station_config, f), offsetof(struct rp_station_config, cnt), cap }

static const struct key_desc keys[] = {
	STR("image", image),
	STR("profile", profile),
	STR("config", config),
	ARR("set", KIND_REPEAT, CHECK_ASSIGNMENT, sets, n_sets, RP_PREPARE_MAX_SETS),
	ARR("unset", KIND_REPEAT, CHECK_NAME, unsets, n_unsets, RP_PREPARE_MAX_SETS),
	STR("key", key),
	STR("hsm_wrapper", hsm_wrapper),
	STR("pubkey", pubkey),
	STR("recovery", recovery),
	STR("recovery_config", recovery_config),
	ARR("ports", KIND_LIST, CHECK_ANY, ports, n_ports, RP_STATION_MAX_GLOBS),
	ARR("serials", KIND_LIST, CHECK_ANY, serials, n_serials, RP_STATION_MAX_GLOBS),
	STR("report", report),
	STR("database", database),
	STR("db", database),
	STR("spool", spool),
	{ "allow_db_offline", KIND_BOOL, CHECK_ANY, offsetof(struct rp_station_config, allow_db_offline), 0, 0 },
	STR("metadata_dir", metadata_dir),
	STR("http", http),
	STR("http_token_file", http_token_file),
	{ "station", KIND_STRING, CHECK_LABEL, offsetof(struct rp_station_config, station), 0, 0 },
	{ "board_timeout", KIND_DURATION, CHECK_ANY, offsetof(struct rp_station_config, board_timeout_ms), 0, 0 },
	{ "allow_otp_permanent", KIND_BOOL, CHECK_ANY, offsetof(struct rp_station_config, allow_otp_permanent), 0, 0 },
	{ "require_verified", KIND_BOOL, CHECK_ANY, offsetof(struct rp_station_config, require_verified), 0, 0 },
	{ "strict", KIND_BOOL, CHECK_ANY, offsetof(struct rp_station_config, strict), 0, 0 },
	{ "force", KIND_BOOL, CHECK_ANY, offsetof(struct rp_station_config, force), 0, 0 },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(N_KEYS <= sizeof(((struct rp_station_config *)0)->given_file_) / sizeof(unsigned),
	       "given_file_ too small for the key table");

/* Longest single value: paths, globs. */
#define VALUE_MAX 4096
#define LABEL_MAX 63

void rp_station_config_init(struct rp_station_config *c)
{
	memset(c, 0, sizeof(*c));
}

static void free_array(char **arr, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++) {
		free(arr[i]);
		arr[i] = NULL;
	}
	*n = 0;
}

void rp_station_config_free(struct rp_station_config *c)
{
	for (size_t k = 0; k < N_KEYS; k++) {
		char *base = (char *)c;
		if (keys[k].kind == KIND_STRING) {
			char **s = (char **)(base + keys[k].field);
			free(*s);
			*s = NULL;
		} else if (keys[k].kind == KIND_REPEAT || keys[k].kind == KIND_LIST) {
			free_array((char **)(base + keys[k].field), (unsigned *)(base + keys[k].count));
		}
	}
	memset(c, 0, sizeof(*c));
}

static const struct key_desc *find_key(const char *name)
{
	for (size_t k = 0; k < N_KEYS; k++)
		if (!strcmp(keys[k].name, name))
			return &keys[k];
	return NULL;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int check_value(const struct key_desc *k, const char *v, struct rp_diag *d)
{
	const char *eq;

	if (!printable(v))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s': value contains control or non-ASCII characters",
				   k->name);
	switch (k->check) {
	case CHECK_ASSIGNMENT:
		eq = strchr(v, '=');
		if (!eq || eq == v)
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s %s': expected KEY=VALUE", k->name, v);
		break;
	case CHECK_NAME:
		for (const char *p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				return rp_diag_set(d, RP_ERR_INVALID_ARG,
						   "'%s %s': expected a boot.conf key name", k->name, v);
		break;
	case CHECK_LABEL:
		if (strlen(v) > LABEL_MAX)
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s': name longer than %d characters",
					   k->name, LABEL_MAX);
		for (const char *p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_-.:", *p))
				return rp_diag_set(d, RP_ERR_INVALID_ARG,
						   "'%s': '%s' may only contain letters, digits, '_', '-', '.', ':'",
						   k->name, v);
		break;
	case CHECK_ANY:
		break;
	}
	return RP_OK;
}

static int append(const struct key_desc *k, struct rp_station_config *c, const char *v, size_t len,
		  struct rp_diag *d)
{
	char **arr = (char **)((char *)c + k->field);
	unsigned *n = (unsigned *)((char *)c + k->count);

	if (*n >= k->cap)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s': more than %u values", k->name, k->cap);
	arr[*n] = strndup(v, len);
	if (!arr[*n])
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	(*n)++;
	return RP_OK;
}

int rp_station_config_set(struct rp_station_config *c, enum rp_config_origin origin,
			  const char *key, const char *value, struct rp_diag *d)
{
	const struct key_desc *k = find_key(key);
	unsigned *given;
	char *base = (char *)c;
	int ret;

	if (!k)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "unknown key '%s'", key);
	given = origin == RP_CONFIG_FILE ? &c->given_file_[k - keys] : &c->given_cli_[k - keys];
	if (!value)
		value = "";
	while (isspace((unsigned char)*value))
		value++;
	if (!*value)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s' has no value", key);
	if (strlen(value) > VALUE_MAX)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s': value longer than %d characters", key,
				   VALUE_MAX);
	ret = check_value(k, value, d);
	if (ret < 0)
		return ret;
	/* Single-valued keys given twice in one file are a mistake someone
	 * will regret on the line; on the command line the last one wins. */
	if (origin == RP_CONFIG_FILE && *given && k->kind != KIND_REPEAT && k->kind != KIND_LIST)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s' is given more than once", key);

	switch (k->kind) {
	case KIND_STRING: {
		char **s = (char **)(base + k->field), *dup = strdup(value);
		if (!dup)
			return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
		free(*s);
		*s = dup;
		break;
	}
	case KIND_REPEAT:
		ret = append(k, c, value, strlen(value), d);
		if (ret < 0)
			return ret;
		break;
	case KIND_LIST: {
		const char *p = value;
		if (origin == RP_CONFIG_CLI && !*given)
			free_array((char **)(base + k->field), (unsigned *)(base + k->count));
		while (*p) {
			size_t len = strcspn(p, " \t,");
			if (len) {
				ret = append(k, c, p, len, d);
				if (ret < 0)
					return ret;
			}
			p += len;
			p += strspn(p, " \t,");
		}
		break;
	}
	case KIND_DURATION: {
		uint64_t ms;
		if (rp_parse_duration_ms(value, 1000, RP_STATION_MAX_DURATION_MS, &ms, d) < 0)
			return rp_diag_prefix(d, "'%s'", key);
		*(unsigned *)(base + k->field) = (unsigned)ms;
		break;
	}
	case KIND_BOOL:
		if (parse_bool(value, (bool *)(base + k->field)) < 0)
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s': '%s' is not yes or no", key, value);
		break;
	}
	(*given)++;
	return RP_OK;
}

/* inih gives the handler no line numbers, and Debian's build cuts lines
 * at 200 bytes without saying so: feed it ourselves, one line at a time,
 * counting lines and refusing long ones. */
struct parse_ctx {
	struct rp_station_config *c;
	const char *pos;
	int line;
	int first_error_line;
	struct rp_diag err;
};

static void note_error(struct parse_ctx *p, const struct rp_diag *e)
{
	if (p->first_error_line)
		return;
	p->first_error_line = p->line;
	p->err = *e;
}

static char *reader(char *buf, int num, void *stream)
{
	struct parse_ctx *p = stream;
	size_t len, room;

	if (!*p->pos || num < 2)
		return NULL;
	p->line++;
	len = strcspn(p->pos, "\n");
	room = (size_t)num - 2; /* keep space for '\n' and NUL */
	if (len > room) {
		struct rp_diag e;
		rp_diag_set(&e, RP_ERR_INVALID_ARG, "line longer than %zu characters", room);
		note_error(p, &e);
		len = room;
		memcpy(buf, p->pos, len);
		buf[len] = '\0';
		p->pos += strcspn(p->pos, "\n");
	} else {
		memcpy(buf, p->pos, len);
		buf[len] = '\0';
		p->pos += len;
	}
	if (*p->pos == '\n') {
		p->pos++;
		strcat(buf, "\n");
	}
	return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *p = user;
	struct rp_diag e;

	rp_diag_clear(&e);
	if (section[0] && strcmp(section, "station") != 0) {
		rp_diag_set(&e, RP_ERR_INVALID_ARG, "unknown section [%s] (keys go at the top or in [station])",
			    section);
		note_error(p, &e);
		return 0;
	}
	/* inih ends a value at " ;" only. A "#" comment after a value (as in
	 * shell and systemd files) would otherwise become part of it: a
	 * report named "r.jsonl # comment". Refused, not guessed at. */
	for (const char *h = value ? strchr(value, '#') : NULL; h; h = strchr(h + 1, '#'))
		if (h > value && isspace((unsigned char)h[-1])) {
			rp_diag_set(&e, RP_ERR_INVALID_ARG,
				    "'%s': the value holds \"%s\": a comment after a value starts with "
				    "\";\" here; put a \"#\" comment on a line of its own",
				    name, h);
			note_error(p, &e);
			return 0;
		}
	if (rp_station_config_set(p->c, RP_CONFIG_FILE, name, value, &e) < 0) {
		note_error(p, &e);
		return 0;
	}
	return 1;
}

int rp_station_config_load_string(struct rp_station_config *c, const char *name,
				  const char *text, struct rp_diag *d)
{
	struct parse_ctx p = { .c = c, .pos = text };
	int r = ini_parse_stream(reader, &p, handler, &p);

	if (r == 0 && !p.first_error_line)
		return RP_OK;
	if (r < 0)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", name);
	if (p.first_error_line && (p.first_error_line <= r || r == 0))
		return rp_diag_set(d, p.err.code ? p.err.code : RP_ERR_INVALID_ARG, "%s:%d: %s", name,
				   p.first_error_line, p.err.msg);
	return rp_diag_set(d, RP_ERR_INVALID_ARG,
			   "%s:%d: syntax error: expected 'key = value', a comment or [station]", name, r);
}

int rp_station_config_load(struct rp_station_config *c, const char *path, struct rp_diag *d)
{
	uint8_t *data;
	size_t len;
	int ret = rp_file_read_all(path, RP_STATION_CONFIG_MAX, &data, &len, d);

	if (ret < 0)
		return ret;
	if (memchr(data, '\0', len)) {
		free(data);
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: not a text file (contains NUL bytes)", path);
	}
	ret = rp_station_config_load_string(c, path, (const char *)data, d);
	free(data);
	return ret;
}

int rp_station_config_check(const struct rp_station_config *c, struct rp_diag *d)
{
	if (c->profile && c->config)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'profile' and 'config' cannot both be given");
	if (c->key && c->hsm_wrapper)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'key' and 'hsm_wrapper' cannot both be given");
	if (c->hsm_wrapper && !c->pubkey)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "'hsm_wrapper' needs 'pubkey' (the public key it signs for)");
	return RP_OK;
}

void rp_station_config_prepare_opts(const struct rp_station_config *c, struct rp_prepare_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->image_path = c->image;
	o->config_path = c->config;
	o->profile = c->profile;
	for (unsigned i = 0; i < c->n_sets; i++)
		o->sets[i] = c->sets[i];
	o->n_sets = c->n_sets;
	for (unsigned i = 0; i < c->n_unsets; i++)
		o->unsets[i] = c->unsets[i];
	o->n_unsets = c->n_unsets;
	o->private_key_path = c->key;
	o->hsm_wrapper = c->hsm_wrapper;
	o->public_key_path = c->pubkey;
	o->recovery_path = c->recovery;
	o->recovery_config_path = c->recovery_config;
	o->allow_otp = c->allow_otp_permanent;
	o->strict = c->strict;
	o->force = c->force;
	o->timestamp = -1;
}
