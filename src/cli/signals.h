/* Ctrl-C and SIGTERM for the commands that run until told to stop (flash,
 * boot, list --watch, station). Signals are never taken by a handler: they
 * are blocked in every thread and read from a signalfd by one thread of
 * ours, so what a signal does (stop a runner, wake a source, redraw) runs
 * as ordinary code, and no global is needed.
 *
 * The thread runs from cli_signals_init on. Until cli_signals_start a
 * signal has its default effect at once: start-up (hashing, an HSM
 * wrapper, a locked database) has touched no board, and a SIGTERM must
 * never wait for it. */
#ifndef RP_CLI_SIGNALS_H
#define RP_CLI_SIGNALS_H

#include <pthread.h>
#include <stdbool.h>

#include "util/error.h"

/* nth: 1 for the first signal, 2 for the second, ... */
typedef void (*cli_signal_fn)(void *ctx, unsigned nth);
typedef void (*cli_tick_fn)(void *ctx);

struct cli_signals {
	int sfd, efd; /* the signalfd, and an eventfd that wakes the thread */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards what follows */
	bool stopping;
	cli_signal_fn on_signal; /* NULL: start-up, a signal terminates */
	cli_tick_fn on_tick;
	int tick_ms;
	void *ctx;
};

/* Block SIGINT, SIGTERM, SIGHUP and SIGQUIT (each a stop request) and
 * SIGUSR1/SIGUSR2 (ignored), ignore SIGPIPE and SIGXFSZ, open the descriptors and start the thread,
 * which until cli_signals_start lets a signal terminate the process. Call
 * it first, before any other thread exists (the USB source starts one),
 * so that every thread inherits the mask. The mask stays until exit: a
 * late signal (after cli_signals_stop) must not kill the process while it
 * writes its last output. s may be closed whatever this returns. */
int cli_signals_init(struct cli_signals *s, struct rp_diag *d);
/* From now on: on_signal for each signal; on_tick (may be NULL) every
 * tick_ms and after each signal. If the thread could not start, the
 * command still runs, without reacting to Ctrl-C. */
void cli_signals_start(struct cli_signals *s, cli_signal_fn on_signal, cli_tick_fn on_tick,
		       int tick_ms, void *ctx);
/* End and join the thread (nothing when it is not running). */
void cli_signals_stop(struct cli_signals *s);
/* Stop, then close the descriptors. */
void cli_signals_close(struct cli_signals *s);

#endif
