/* Per-board metadata files in the format of `rpiboot -j DIR`: DIR/<serial>.json
 * holding one flat JSON object of the keys and string values the board
 * reported (MAC_ADDR, EEPROM_HASH, ...), so tools written for rpiboot keep
 * working. */
#ifndef RP_RECORDS_METADATA_JSON_H
#define RP_RECORDS_METADATA_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "session/record.h"
#include "util/error.h"

struct json_object;

/* True when a device-supplied serial may be used as a file name: 1 to
 * RP_SERIAL_MAX - 1 characters of [0-9A-Za-z_-]. */
bool rp_serial_is_safe_filename(const char *serial);

/* The metadata as a new JSON object (keys in the order reported, a
 * repeated key keeps its last value, FACTORY_UUID decoded from C40 as
 * rpiboot does). NULL when out of memory. The caller puts it. */
struct json_object *rp_metadata_json_object(const struct rp_board_record *r);

/* Write DIR/<serial>.json (DIR created if missing) through a temporary
 * file. RP_ERR_REFUSED when the serial is not a safe file name. */
int rp_metadata_json_write(const char *dir, const struct rp_board_record *r, struct rp_diag *d);

#endif
