#include "cli/signals.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_signals_init(struct cli_signals *s, struct rp_diag *d)
{
	sigset_t set;

	memset(s, 0, sizeof(*s));
	/* A reader of stdout that goes away (`rpiprov flash --json | head`)
	 * must not kill the run while boards are in flight: their records
	 * and metadata files still get written, and the exit status still
	 * says how the boards did. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->sfd < 0 || s->efd < 0)
		return rp_diag_set(d, RP_ERR_IO, "cannot set up signal handling: %s", strerror(errno));
	return RP_OK;
}

static void *signal_thread(void *arg)
{
	struct cli_signals *s = arg;
	struct pollfd fds[2] = { { .fd = s->sfd, .events = POLLIN }, { .fd = s->efd, .events = POLLIN } };
	unsigned n = 0;

	for (;;) {
		int ready = poll(fds, 2, s->on_tick ? s->tick_ms : -1);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready > 0 && fds[1].revents)
			break;
		if (ready > 0 && (fds[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				s->on_signal(s->ctx, ++n);
		}
		if (s->on_tick)
			s->on_tick(s->ctx);
	}
	return NULL;
}

void cli_signals_start(struct cli_signals *s, cli_signal_fn on_signal, cli_tick_fn on_tick,
		       int tick_ms, void *ctx)
{
	s->on_signal = on_signal;
	s->on_tick = on_tick;
	s->tick_ms = tick_ms;
	s->ctx = ctx;
	s->started = s->sfd >= 0 && s->efd >= 0 &&
		     pthread_create(&s->thread, NULL, signal_thread, s) == 0;
}

void cli_signals_stop(struct cli_signals *s)
{
	uint64_t one = 1;

	if (!s->started)
		return;
	s->started = false;
	/* Should this ever fail, the thread still ends at the next signal. */
	if (write(s->efd, &one, sizeof(one)) < 0)
		cli_warn("cannot stop the signal thread: %s", strerror(errno));
	pthread_join(s->thread, NULL);
}

void cli_signals_close(struct cli_signals *s)
{
	cli_signals_stop(s);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->efd >= 0)
		close(s->efd);
	s->sfd = s->efd = -1;
}
