#include "cli/status_line.h"

#include <stdio.h>
#include <string.h>

const char *cli_status_words(enum rp_phase phase, const char *file, uint64_t done, uint64_t total)
{
	bool sent = file && *file && total && done >= total;

	switch (phase) {
	case RP_PHASE_STAGE1:
		return "sending recovery.bin";
	case RP_PHASE_REENUM:
		return "waiting for recovery.bin to start";
	case RP_PHASE_SERVE:
		/* The board writes the EEPROM after it has the whole image, and
		 * asks for the next file only when that is done. */
		if (file && !strcmp(file, "pieeprom.bin"))
			return sent ? "writing the EEPROM" : "sending pieeprom.bin";
		if (file && !strcmp(file, "pieeprom.sig"))
			return "sending pieeprom.sig";
		return "serving files";
	case RP_PHASE_VERIFY:
		return "checking what the board wrote";
	default:
		return "working";
	}
}

static struct cli_status_board *find(struct cli_status *s, const char *port, bool make)
{
	struct cli_status_board *free_slot = NULL;

	for (size_t i = 0; i < CLI_STATUS_BOARDS; i++) {
		struct cli_status_board *b = &s->boards[i];
		if (b->in_use && !strncmp(b->port, port, sizeof(b->port)))
			return b;
		if (!b->in_use && !free_slot)
			free_slot = b;
	}
	if (!make || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->port, sizeof(free_slot->port), "%.*s", (int)sizeof(free_slot->port) - 1, port);
	free_slot->in_use = true;
	return free_slot;
}

bool cli_status_event(struct cli_status *s, const struct rp_runner_event *ev, uint64_t now_ms)
{
	const char *port = ev->record ? ev->record->port_path : NULL;
	struct cli_status_board *b;
	bool now = true;

	if (!port)
		return false;
	switch (ev->type) {
	case RP_RUNNER_BOARD_STARTED:
		b = find(s, port, true);
		if (b)
			b->phase = RP_PHASE_STAGE1;
		break;
	case RP_RUNNER_PHASE:
		b = find(s, port, true);
		if (b) {
			b->phase = ev->phase;
			b->file[0] = '\0';
			b->done = b->total = 0;
		}
		break;
	case RP_RUNNER_PROGRESS:
		b = find(s, port, true);
		if (!b)
			return false;
		snprintf(b->file, sizeof(b->file), "%s", ev->file ? ev->file : "");
		b->done = ev->done;
		b->total = ev->total;
		/* The end of a file changes the words; the middle only the figure. */
		now = ev->done >= ev->total || now_ms - s->last_draw_ms >= 100;
		break;
	case RP_RUNNER_BOARD_FINISHED:
		b = find(s, port, false);
		if (b)
			b->in_use = false;
		break;
	default:
		return false;
	}
	if (now)
		s->last_draw_ms = now_ms;
	return now;
}

void cli_status_format(const struct cli_status *s, char *out, size_t size)
{
	size_t width = s->width >= 20 ? s->width - 1 : 79, len = 0, shown = 0, busy = 0;
	char part[160];

	if (size > width + 1)
		size = width + 1;
	out[0] = '\0';
	for (size_t i = 0; i < CLI_STATUS_BOARDS; i++)
		busy += s->boards[i].in_use;
	for (size_t i = 0; i < CLI_STATUS_BOARDS && busy; i++) {
		const struct cli_status_board *b = &s->boards[i];
		const char *words;
		int n;
		if (!b->in_use)
			continue;
		words = cli_status_words(b->phase, b->file, b->done, b->total);
		if (b->total && b->done < b->total)
			n = snprintf(part, sizeof(part), "%s%s %s %u%%", shown ? " | " : "", b->port, words,
				     (unsigned)(b->done * 100 / b->total));
		else
			n = snprintf(part, sizeof(part), "%s%s %s", shown ? " | " : "", b->port, words);
		/* Room for this one and, if others follow, "+N more". */
		if (n < 0 || len + (size_t)n + (shown + 1 < busy ? 10 : 0) >= size) {
			snprintf(out + len, size - len, " +%zu more", busy - shown);
			return;
		}
		memcpy(out + len, part, (size_t)n + 1);
		len += (size_t)n;
		shown++;
	}
}
