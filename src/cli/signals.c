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

static void *signal_thread(void *arg);

static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static bool ignored(int signo)
{
	return signo == SIGUSR1 || signo == SIGUSR2;
}

int cli_signals_init(struct cli_signals *s, struct rp_diag *d)
{
	sigset_t set;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->tick_ms = -1;
	/* A reader of stdout that goes away (`rpiprov flash --json | head`)
	 * must not kill the run while boards are in flight: their records
	 * and metadata files still get written, and the exit status still
	 * says how the boards did. */
	signal(SIGPIPE, SIG_IGN);
	/* A file at its size limit (ulimit -f, a supervisor's LimitFSIZE):
	 * the write fails with EFBIG and is reported like a full disk, where
	 * the default action would kill the process mid-flash. */
	signal(SIGXFSZ, SIG_IGN);
	/* Every signal a terminal, an SSH session or a supervisor sends is
	 * ours to read: the closed terminal's SIGHUP and Ctrl-\'s SIGQUIT stop
	 * like SIGTERM (boards in flight finish and are recorded); a stray
	 * SIGUSR1/2 is ignored. By default each of them would kill the
	 * process with boards half written and no record. */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(&set, handled[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->sfd < 0 || s->efd < 0)
		return rp_diag_set(d, RP_ERR_IO, "cannot set up signal handling: %s", strerror(errno));
	s->started = pthread_create(&s->thread, NULL, signal_thread, s) == 0;
	return RP_OK;
}

/* Before the command runs: the signal's default effect, as if it had
 * never been blocked (the shell sees "terminated by SIGTERM"). */
static void terminate_by(int signo)
{
	sigset_t one;

	signal(signo, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, signo);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(signo);
}

static void *signal_thread(void *arg)
{
	struct cli_signals *s = arg;
	struct pollfd fds[2] = { { .fd = s->sfd, .events = POLLIN }, { .fd = s->efd, .events = POLLIN } };
	unsigned n = 0;

	for (;;) {
		cli_signal_fn on_signal;
		cli_tick_fn on_tick;
		int tick_ms, ready;
		void *ctx;

		pthread_mutex_lock(&s->lock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		on_signal = s->on_signal;
		on_tick = s->on_tick;
		tick_ms = on_tick ? s->tick_ms : -1;
		ctx = s->ctx;
		pthread_mutex_unlock(&s->lock);

		ready = poll(fds, 2, tick_ms);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready > 0 && (fds[1].revents & POLLIN)) {
			uint64_t v;
			if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			continue; /* stopping, or new callbacks: look again */
		}
		if (ready > 0 && (fds[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    !ignored((int)si.ssi_signo)) {
				if (!on_signal)
					terminate_by((int)si.ssi_signo);
				else
					on_signal(ctx, ++n);
			}
		}
		if (on_tick)
			on_tick(ctx);
	}
	return NULL;
}

static void wake(struct cli_signals *s)
{
	uint64_t one = 1;
	/* Should this ever fail, the thread still looks again at the next
	 * signal or tick. */
	if (write(s->efd, &one, sizeof(one)) < 0)
		cli_warn("cannot wake the signal thread: %s", strerror(errno));
}

void cli_signals_start(struct cli_signals *s, cli_signal_fn on_signal, cli_tick_fn on_tick,
		       int tick_ms, void *ctx)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	s->on_signal = on_signal;
	s->on_tick = on_tick;
	s->tick_ms = tick_ms;
	s->ctx = ctx;
	pthread_mutex_unlock(&s->lock);
	wake(s);
}

void cli_signals_stop(struct cli_signals *s)
{
	if (!s->started)
		return;
	s->started = false;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_mutex_unlock(&s->lock);
	wake(s);
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
	pthread_mutex_destroy(&s->lock);
}
