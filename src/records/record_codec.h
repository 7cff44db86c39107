/* One attempt record as text that reads back into exactly the same
 * struct: what the spool (spool.h) keeps on disk. A JSON object of every
 * field, with the names of rp_board_result and rp_error rather than their
 * numbers, so a spool written by one build reads back in the next.
 *
 * This is not the user-facing record (record_json.h); it carries fields
 * that one omits (hash_matched, open_retries, ...). */
#ifndef RP_RECORDS_RECORD_CODEC_H
#define RP_RECORDS_RECORD_CODEC_H

#include <stddef.h>

#include "session/record.h"
#include "util/error.h"

/* malloc'ed NUL-terminated text; NULL when out of memory. */
char *rp_record_encode(const struct rp_board_record *r);
/* The record encoded in text (len bytes). The text is untrusted: a value
 * that is missing, of the wrong type or out of range is RP_ERR_FORMAT;
 * strings longer than their field are RP_ERR_FORMAT too, never cut. */
int rp_record_decode(const char *text, size_t len, struct rp_board_record *out, struct rp_diag *d);

#endif
