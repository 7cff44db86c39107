#include "image/bootconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/boot_order.h"

enum line_kind { LINE_BLANK, LINE_COMMENT, LINE_SECTION, LINE_KEY, LINE_OTHER };

struct line {
	size_t start, end, next;  /* content is [start, end); next line starts at `next` */
	enum line_kind kind;
	size_t key, key_len;      /* LINE_KEY: key with surrounding blanks trimmed */
	size_t eq;                /* LINE_KEY: offset of '=' */
	size_t val, val_len;      /* LINE_KEY: value up to the line ending */
	size_t sec, sec_len;      /* LINE_SECTION: text between '[' and ']' */
	bool spaced;              /* blanks around '=' (the bootloader keeps them) */
	bool unclosed;            /* '[' without ']' */
};

/* Scope bookkeeping shared by the checker and the editor. */
struct scope {
	bool seen_header;
	bool in_all;
	bool in_none;
	bool in_config_txt;
};

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool next_line(const uint8_t *t, size_t len, size_t *pos, struct line *l)
{
	size_t p = *pos, e;

	if (p >= len)
		return false;
	memset(l, 0, sizeof(*l));
	const uint8_t *nl = memchr(t + p, '\n', len - p);
	e = nl ? (size_t)(nl - t) : len;
	l->start = p;
	l->next = nl ? e + 1 : len;
	if (e > p && t[e - 1] == '\r')
		e--;
	l->end = e;
	*pos = l->next;

	size_t s = p;
	while (s < e && is_blank(t[s]))
		s++;
	if (s == e) {
		l->kind = LINE_BLANK;
	} else if (t[s] == '#') {
		l->kind = LINE_COMMENT;
	} else if (t[s] == '[') {
		const uint8_t *close = memchr(t + s, ']', e - s);
		l->kind = LINE_SECTION;
		l->sec = s + 1;
		l->sec_len = close ? (size_t)(close - t) - (s + 1) : e - (s + 1);
		l->unclosed = !close;
	} else {
		const uint8_t *eq = memchr(t + s, '=', e - s);
		if (!eq) {
			l->kind = LINE_OTHER;
		} else {
			size_t q = (size_t)(eq - t), ke = q;
			while (ke > s && is_blank(t[ke - 1]))
				ke--;
			l->kind = LINE_KEY;
			l->key = s;
			l->key_len = ke - s;
			l->eq = q;
			l->val = q + 1;
			l->val_len = e - (q + 1);
			l->spaced = ke != q || (l->val < e && is_blank(t[l->val]));
		}
	}
	return true;
}

static bool sec_is(const uint8_t *t, const struct line *l, const char *name)
{
	size_t n = strlen(name);
	return l->sec_len == n && !memcmp(t + l->sec, name, n);
}

static void scope_update(struct scope *sc, const uint8_t *t, const struct line *l)
{
	if (l->kind != LINE_SECTION || sc->in_config_txt)
		return;
	sc->seen_header = true;
	sc->in_all = sec_is(t, l, "all");
	sc->in_none = sec_is(t, l, "none");
	sc->in_config_txt = sec_is(t, l, "config.txt");
}

static bool all_scope(const struct scope *sc)
{
	return !sc->in_config_txt && (!sc->seen_header || sc->in_all);
}

void rp_warn_append(char *warn, size_t warn_size, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (!warn || warn_size == 0)
		return;
	used = strnlen(warn, warn_size);
	if (used >= warn_size - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(warn + used, warn_size - used, fmt, ap);
	va_end(ap);
	used = strnlen(warn, warn_size);
	if (used < warn_size - 1) {
		warn[used] = '\n';
		warn[used + 1] = '\0';
	}
}

/* Printable excerpt of untrusted text for messages. */
static void excerpt(const uint8_t *t, size_t len, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 5 < size; i++) {
		uint8_t c = t[i];
		if (n + 8 >= size) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
	}
	out[n < size ? n : size - 1] = '\0';
}

/* A finding that is a warning, or an error under --strict. */
static int issue(bool strict, char *warn, size_t warn_size, struct rp_diag *d, const char *fmt,
		 ...) __attribute__((format(printf, 5, 6)));

static int issue(bool strict, char *warn, size_t warn_size, struct rp_diag *d, const char *fmt,
		 ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strict)
		return rp_diag_set(d, RP_ERR_FORMAT, "%s (refused with --strict)", msg);
	rp_warn_append(warn, warn_size, "%s", msg);
	return RP_OK;
}

int rp_bootconf_validate(const uint8_t *t, size_t len, const char *name, bool strict,
			 char *warn, size_t warn_size, struct rp_diag *d)
{
	struct scope sc = { 0 };
	struct line l;
	size_t pos = 0;
	unsigned lineno = 0;
	const uint8_t *nul;
	char ex[96];
	int r;

	if (!name)
		name = "boot.conf";
	if (len > RP_BOOTCONF_MAX)
		return rp_diag_set(d, RP_ERR_TOO_LARGE,
				   "%s: %zu bytes, more than the %u bytes the bootloader config may hold",
				   name, len, RP_BOOTCONF_MAX);
	nul = memchr(t, 0, len);
	if (nul)
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: NUL byte at offset %zu: a boot.conf must be plain text", name,
				   (size_t)(nul - t));
	while (next_line(t, len, &pos, &l)) {
		lineno++;
		if (l.kind == LINE_SECTION) {
			if (!sc.in_config_txt && l.unclosed) {
				excerpt(t + l.start, l.end - l.start, ex, sizeof(ex));
				r = issue(strict, warn, warn_size, d,
					  "%s line %u: section header '%s' has no closing ']'", name,
					  lineno, ex);
				if (r < 0)
					return r;
			}
			scope_update(&sc, t, &l);
			continue;
		}
		/* config.txt text and [none] sections are never bootloader settings. */
		if (sc.in_config_txt || sc.in_none || l.kind == LINE_BLANK || l.kind == LINE_COMMENT)
			continue;
		if (l.kind == LINE_OTHER) {
			excerpt(t + l.start, l.end - l.start, ex, sizeof(ex));
			r = issue(strict, warn, warn_size, d,
				  "%s line %u: '%s' is not KEY=VALUE, a [section] or a # comment", name,
				  lineno, ex);
			if (r < 0)
				return r;
			continue;
		}
		excerpt(t + l.key, l.key_len, ex, sizeof(ex));
		if (l.key_len == 10 && !memcmp(t + l.key, "BOOT_ORDER", 10)) {
			struct rp_boot_order bo;
			r = rp_boot_order_parse((const char *)t + l.val, l.val_len, &bo, d);
			if (r < 0)
				return rp_diag_prefix(d, "%s line %u", name, lineno);
		}
		if (l.key_len == 0)
			r = issue(strict, warn, warn_size, d, "%s line %u: '=' without a key", name,
				  lineno);
		else if (l.spaced)
			r = issue(strict, warn, warn_size, d,
				  "%s line %u: blanks around '=' after '%s' are not ignored by the bootloader",
				  name, lineno, ex);
		else if (!rp_bootconf_key_known((const char *)t + l.key, l.key_len))
			r = issue(strict, warn, warn_size, d,
				  "%s line %u: unknown bootloader key '%s'", name, lineno, ex);
		else
			r = RP_OK;
		if (r < 0)
			return r;
	}
	return RP_OK;
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		uint8_t *np = realloc(b->p, ncap);
		if (!np)
			return RP_ERR_NOMEM;
		b->p = np;
		b->cap = ncap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return RP_OK;
}

static int buf_insert(struct buf *b, size_t at, const void *data, size_t n)
{
	size_t tail = b->len - at;
	int r = buf_add(b, data, n); /* grows; bytes fixed up below */
	if (r < 0)
		return r;
	memmove(b->p + at + n, b->p + at, tail);
	memcpy(b->p + at, data, n);
	b->p[b->len] = 0;
	return RP_OK;
}

static bool key_ok(const char *k, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

static bool line_has_key(const uint8_t *t, const struct line *l, const char *key, size_t klen)
{
	return l->kind == LINE_KEY && l->key_len == klen && !memcmp(t + l->key, key, klen);
}

/* One --set: rewrite `in` into `out`. */
static int set_one(const struct buf *in, struct buf *out, const char *key, size_t klen,
		   const char *val, size_t vlen)
{
	struct scope sc = { 0 };
	struct line l;
	size_t pos = 0;
	size_t ins_explicit = SIZE_MAX, ins_implicit = SIZE_MAX, config_txt_at = SIZE_MAX;
	bool implicit_key = false, found = false;
	int r;

	while (next_line(in->p, in->len, &pos, &l)) {
		scope_update(&sc, in->p, &l);
		if (sc.in_config_txt && config_txt_at == SIZE_MAX)
			config_txt_at = out->len;
		bool all = all_scope(&sc);
		if (all && line_has_key(in->p, &l, key, klen)) {
			r = buf_add(out, in->p + l.start, l.eq + 1 - l.start);
			if (!r)
				r = buf_add(out, val, vlen);
			if (!r)
				r = buf_add(out, in->p + l.end, l.next - l.end);
			found = true;
		} else {
			r = buf_add(out, in->p + l.start, l.next - l.start);
		}
		if (r < 0)
			return r;
		if (l.kind == LINE_SECTION && all)
			ins_explicit = out->len;
		else if (all && l.kind != LINE_BLANK && !sc.seen_header)
			ins_implicit = out->len;
		else if (all && l.kind != LINE_BLANK)
			ins_explicit = out->len;
		if (all && !sc.seen_header && l.kind == LINE_KEY)
			implicit_key = true;
	}
	if (found)
		return RP_OK;

	size_t at;
	bool new_section = false;
	if (ins_explicit != SIZE_MAX)
		at = ins_explicit;
	else if (!sc.seen_header)
		at = ins_implicit != SIZE_MAX ? ins_implicit : 0;
	else if (implicit_key)
		at = ins_implicit;
	else {
		/* Everything after a [config.txt] header is config.txt text: a
		 * new [all] section goes before it, where the bootloader reads. */
		at = config_txt_at != SIZE_MAX ? config_txt_at : out->len;
		new_section = true;
	}

	struct buf add = { 0 };
	if (at > 0 && out->p[at - 1] != '\n')
		r = buf_add(&add, "\n", 1);
	else
		r = RP_OK;
	if (!r && new_section)
		r = buf_add(&add, "[all]\n", 6);
	if (!r)
		r = buf_add(&add, key, klen);
	if (!r)
		r = buf_add(&add, "=", 1);
	if (!r)
		r = buf_add(&add, val, vlen);
	if (!r)
		r = buf_add(&add, "\n", 1);
	if (!r)
		r = buf_insert(out, at, add.p, add.len);
	free(add.p);
	return r;
}

static int unset_one(const struct buf *in, struct buf *out, const char *key, size_t klen,
		     bool *removed)
{
	struct scope sc = { 0 };
	struct line l;
	size_t pos = 0;

	*removed = false;
	while (next_line(in->p, in->len, &pos, &l)) {
		scope_update(&sc, in->p, &l);
		if (all_scope(&sc) && line_has_key(in->p, &l, key, klen)) {
			*removed = true;
			continue;
		}
		int r = buf_add(out, in->p + l.start, l.next - l.start);
		if (r < 0)
			return r;
	}
	return RP_OK;
}

int rp_bootconf_edit(const uint8_t *text, size_t len, const char *const *sets, unsigned n_sets,
		     const char *const *unsets, unsigned n_unsets, uint8_t **out, size_t *out_len,
		     char *warn, size_t warn_size, struct rp_diag *d)
{
	struct buf cur = { 0 };
	int r;

	*out = NULL;
	*out_len = 0;
	for (unsigned i = 0; i < n_sets; i++) {
		const char *eq = strchr(sets[i], '=');
		if (!eq)
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "--set '%s': expected KEY=VALUE (no '=' found)", sets[i]);
		if (!key_ok(sets[i], (size_t)(eq - sets[i])))
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "--set '%s': the key must be letters, digits and '_'", sets[i]);
		if (strpbrk(eq + 1, "\r\n"))
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "--set '%.*s=...': the value may not contain a line break",
					   (int)(eq - sets[i]), sets[i]);
	}
	for (unsigned i = 0; i < n_unsets; i++)
		if (!key_ok(unsets[i], strlen(unsets[i])))
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "--unset '%s': expected a key (letters, digits and '_')",
					   unsets[i]);

	r = buf_add(&cur, text, len);
	for (unsigned i = 0; r == RP_OK && i < n_sets + n_unsets; i++) {
		struct buf next = { 0 };
		r = buf_add(&next, "", 0);
		if (r == RP_OK && i < n_sets) {
			const char *eq = strchr(sets[i], '=');
			r = set_one(&cur, &next, sets[i], (size_t)(eq - sets[i]), eq + 1, strlen(eq + 1));
		} else if (r == RP_OK) {
			const char *k = unsets[i - n_sets];
			bool removed;
			r = unset_one(&cur, &next, k, strlen(k), &removed);
			if (r == RP_OK && !removed)
				rp_warn_append(warn, warn_size,
					       "--unset %s: the key is not set in the [all] part of the config",
					       k);
		}
		free(cur.p);
		cur = next;
	}
	if (r < 0) {
		free(cur.p);
		return rp_diag_set(d, RP_ERR_NOMEM, "boot.conf edit: out of memory");
	}
	*out = cur.p;
	*out_len = cur.len;
	return RP_OK;
}

const char *rp_bootconf_get(const uint8_t *text, size_t len, const char *key, size_t *vlen)
{
	struct scope sc = { 0 };
	struct line l;
	size_t pos = 0, klen = strlen(key);
	const char *v = NULL;

	while (next_line(text, len, &pos, &l)) {
		scope_update(&sc, text, &l);
		if (all_scope(&sc) && line_has_key(text, &l, key, klen)) {
			v = (const char *)text + l.val;
			*vlen = l.val_len;
		}
	}
	return v;
}
