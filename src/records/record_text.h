/* Text in a record is UTF-8, whatever a board, a device path or an error
 * message carried: PostgreSQL refuses anything else outright, and a JSON
 * line with a stray byte is not JSON. Each byte that is not part of valid
 * UTF-8 becomes the four characters "\xHH", so the raw byte is still
 * there to read, escaped, in every sink. */
#ifndef RP_RECORDS_RECORD_TEXT_H
#define RP_RECORDS_RECORD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "session/record.h"

/* s (NUL-terminated, in a buffer of cap bytes) made valid UTF-8 in
 * place, cut at a character boundary when escaping makes it longer than
 * cap - 1. True when anything changed. */
bool rp_text_make_utf8(char *s, size_t cap);
/* Every text field of r. */
void rp_record_make_utf8(struct rp_board_record *r);

#endif
