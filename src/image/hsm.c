#include "image/hsm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/hex.h"

struct capture {
	int fd;
	char *buf;
	size_t len, cap;
	bool overflow;
};


static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Read what is there; false at end of file. */
static bool drain(struct capture *c)
{
	char tmp[1024];
	ssize_t n = read(c->fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	size_t take = (size_t)n;
	if (c->len + take > c->cap) {
		take = c->cap - c->len;
		c->overflow = true;
	}
	memcpy(c->buf + c->len, tmp, take);
	c->len += take;
	return true;
}

/* First line of the wrapper's stderr, printable, for the message. */
static void first_line(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < size && s[i] != '\n'; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[o] = '\0';
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int parse_sig(const char *wrapper, const char *out, size_t n, uint8_t sig[RP_RSA_SIG_LEN],
		     struct rp_diag *d)
{
	size_t s = 0, e = n, i;
	char shown[48];

	while (s < e && is_space(out[s]))
		s++;
	while (e > s && is_space(out[e - 1]))
		e--;
	for (i = s; i < e && rp_hex_digit(out[i]) >= 0; i++)
		;
	if (i != e || e - s != 2 * RP_RSA_SIG_LEN) {
		first_line(out + s, e - s > 32 ? 32 : e - s, shown, sizeof(shown));
		return rp_diag_set(d, RP_ERR_CHILD,
				   "%s: expected a 512-hex-digit RSA-2048 signature on stdout, got %zu bytes ('%s%s')",
				   wrapper, n, shown, e - s > 32 ? "..." : "");
	}
	for (i = 0; i < RP_RSA_SIG_LEN; i++)
		sig[i] = (uint8_t)(rp_hex_digit(out[s + 2 * i]) << 4 | rp_hex_digit(out[s + 2 * i + 1]));
	return RP_OK;
}

int rp_hsm_sign_file(const char *wrapper, const char *file, unsigned timeout_ms,
		     uint8_t sig[RP_RSA_SIG_LEN], struct rp_diag *d)
{
	char outbuf[RP_HSM_MAX_OUTPUT], errbuf[1024], line[256];
	struct capture cap[2] = { { -1, outbuf, 0, sizeof(outbuf), false },
				  { -1, errbuf, 0, sizeof(errbuf), false } };
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, px[2] = { -1, -1 };
	int devnull, status = 0, exec_errno = 0;
	const char *argv[] = { wrapper, "-a", "rsa2048-sha256", file, NULL };
	bool timed_out = false;
	pid_t pid;

	if (!timeout_ms)
		timeout_ms = RP_HSM_TIMEOUT_MS;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
	    pipe2(px, O_CLOEXEC) < 0) {
		int e = errno;
		close_fd(&devnull);
		close_fd(&po[0]), close_fd(&po[1]), close_fd(&pe[0]), close_fd(&pe[1]);
		close_fd(&px[0]), close_fd(&px[1]);
		return rp_diag_set(d, RP_ERR_IO, "%s: cannot set up pipes: %s", wrapper, strerror(e));
	}
	pid = fork();
	if (pid == 0) {
		/* Child: async-signal-safe calls only. Its own process group,
		 * so that a timeout stops whatever it started too. */
		int e;
		setpgid(0, 0);
		dup2(devnull, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(wrapper, (char *const *)argv);
		e = errno;
		if (write(px[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid); /* either side may run first */
	close_fd(&devnull);
	close_fd(&po[1]);
	close_fd(&pe[1]);
	close_fd(&px[1]);
	if (pid < 0) {
		int e = errno;
		close_fd(&po[0]), close_fd(&pe[0]), close_fd(&px[0]);
		return rp_diag_set(d, RP_ERR_CHILD, "%s: cannot start: %s", wrapper, strerror(e));
	}
	/* A successful exec closes px[1] (O_CLOEXEC): EOF with no data. */
	while (read(px[0], &exec_errno, sizeof(exec_errno)) < 0 && errno == EINTR)
		;
	close_fd(&px[0]);

	cap[0].fd = po[0];
	cap[1].fd = pe[0];
	uint64_t deadline = rp_now_ms() + timeout_ms;
	while (cap[0].fd >= 0 || cap[1].fd >= 0) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		uint64_t now = rp_now_ms();
		if (now >= deadline) {
			timed_out = true;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (cap[i].fd >= 0) {
				pfd[n].fd = cap[i].fd;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				n++;
			}
		}
		int pr = poll(pfd, n, (int)(deadline - now));
		if (pr < 0 && errno != EINTR)
			break;
		for (nfds_t k = 0; pr > 0 && k < n; k++) {
			if (!pfd[k].revents)
				continue;
			struct capture *c = pfd[k].fd == cap[0].fd ? &cap[0] : &cap[1];
			if (!drain(c))
				close_fd(&c->fd);
		}
		if (cap[0].overflow)
			break;
	}
	close_fd(&cap[0].fd);
	close_fd(&cap[1].fd);
	/* A wrapper may close its output and keep running: the wait is
	 * bounded by the same deadline, then the whole group is stopped. */
	if (!timed_out && !cap[0].overflow) {
		for (;;) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR)
				break;
			if (rp_now_ms() >= deadline) {
				timed_out = true;
				break;
			}
			nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000000L }, NULL);
		}
	}
	if (timed_out || cap[0].overflow) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}

	if (exec_errno)
		return rp_diag_set(d, RP_ERR_CHILD, "%s: cannot run the signing wrapper: %s", wrapper,
				   strerror(exec_errno));
	if (timed_out)
		return rp_diag_set(d, RP_ERR_TIMEOUT,
				   "%s: signing wrapper did not finish within %u ms; stopped it", wrapper,
				   timeout_ms);
	if (cap[0].overflow)
		return rp_diag_set(d, RP_ERR_CHILD,
				   "%s: signing wrapper printed more than %zu bytes; expected a 512-hex-digit signature",
				   wrapper, sizeof(outbuf));
	first_line(errbuf, cap[1].len, line, sizeof(line));
	if (WIFSIGNALED(status))
		return rp_diag_set(d, RP_ERR_CHILD, "%s: signing wrapper killed by signal %d%s%s",
				   wrapper, WTERMSIG(status), line[0] ? ": " : "", line);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return rp_diag_set(d, RP_ERR_CHILD, "%s: signing wrapper failed with exit status %d%s%s",
				   wrapper, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				   line[0] ? ": " : "", line);
	return parse_sig(wrapper, outbuf, cap[0].len, sig, d);
}

int rp_hsm_sign_data(const char *wrapper, const uint8_t *data, size_t len, unsigned timeout_ms,
		     uint8_t sig[RP_RSA_SIG_LEN], struct rp_diag *d)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	size_t done = 0;
	int fd, r;

	if (!dir || !*dir)
		dir = "/tmp";
	if (snprintf(path, sizeof(path), "%s/rpiprov-sign-XXXXXX", dir) >= (int)sizeof(path))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "TMPDIR is too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return rp_diag_set(d, RP_ERR_IO, "%s: cannot create a temporary file to sign: %s",
				   path, strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			unlink(path);
			return rp_diag_set(d, RP_ERR_IO, "%s: write failed: %s", path, strerror(e));
		}
		done += (size_t)n;
	}
	close(fd);
	r = rp_hsm_sign_file(wrapper, path, timeout_ms, sig, d);
	unlink(path);
	return r;
}
