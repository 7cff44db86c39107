/* `flash` and `boot` on a terminal: every board in flight, its phase in
 * words and its progress, on one line that is redrawn in place (the
 * station's live view does the same with a table). Fed from the runner's
 * events, so it only formats; the output queue draws it. */
#ifndef RP_CLI_STATUS_LINE_H
#define RP_CLI_STATUS_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner/runner.h"

#define CLI_STATUS_BOARDS 64

struct cli_status_board {
	char port[RP_PORT_PATH_MAX];
	enum rp_phase phase;
	char file[32];          /* the file being sent, "" when none */
	uint64_t done, total;
	bool in_use;
};

struct cli_status {
	struct cli_status_board boards[CLI_STATUS_BOARDS];
	unsigned width;          /* terminal columns */
	uint64_t last_draw_ms;
};

/* Take one runner event. True when the line should be redrawn now (a
 * board came or went, a phase changed, or progress after a pause of at
 * least 100 ms: a terminal need not see every USB transfer). */
bool cli_status_event(struct cli_status *s, const struct rp_runner_event *ev, uint64_t now_ms);
/* The line, without a newline; "" when no board is in flight. */
void cli_status_format(const struct cli_status *s, char *out, size_t size);
/* What a board is doing, in words: "sending recovery.bin", "writing the EEPROM"... */
const char *cli_status_words(enum rp_phase phase, const char *file, uint64_t done, uint64_t total);

#endif
