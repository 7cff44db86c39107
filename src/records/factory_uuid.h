/* FACTORY_UUID as a BCM2712 reports it: 32-bit hex words joined by '_',
 * each holding up to six C40 characters. rpiboot -j stores the decoded
 * text, so the metadata files we write do too. */
#ifndef RP_RECORDS_FACTORY_UUID_H
#define RP_RECORDS_FACTORY_UUID_H

#include <stddef.h>

/* The longest decoded UUID we accept, in characters (rpiboot's buffer). */
#define RP_FACTORY_UUID_MAX 36

/* Decode `encoded` into out (at least RP_FACTORY_UUID_MAX + 1 bytes).
 * Returns 0, or -1 when the text is not a valid encoding or decodes to
 * more than RP_FACTORY_UUID_MAX characters (out is then ""). */
int rp_factory_uuid_decode(const char *encoded, char *out, size_t out_size);

#endif
