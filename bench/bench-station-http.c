/* Does watching the station slow the boards? A tray of simulated boards
 * with realistic board-side timing, run through the station twice in
 * turn: without the web interface, and with it (the dashboard model fed
 * from every runner event, the HTTP server, one Server-Sent Events client
 * reading the stream and one client fetching /metrics, /api/status and
 * /api/attempts every 50 ms). Prints the median wall time of each and
 * their ratio (target: with --http within 1.05x of without).
 *
 * Usage: bench-station-http [BOARDS [REPEATS]]   (default 16, 5)
 * Needs the firmware fixtures (RPIPROV_TEST_FIRMWARE). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "image/prepare.h"
#include "sim/sim_source.h"
#include "station/dashboard.h"
#include "station/http_server.h"
#include "station/station.h"
#include "util/clock.h"

struct watcher {
	unsigned port;
	atomic_bool stop;
	unsigned long requests, sse_bytes;
};

static int connect_to(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static unsigned long fetch(unsigned port, const char *path)
{
	char req[256], buf[65536];
	unsigned long total = 0;
	ssize_t n;
	int fd = connect_to(port);

	if (fd < 0)
		return 0;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	if (write(fd, req, (size_t)n) == n)
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += (unsigned long)n;
	close(fd);
	return total;
}

static void *poller(void *arg)
{
	struct watcher *w = arg;
	static const char *const paths[] = { "/metrics", "/api/status", "/api/attempts" };

	for (unsigned i = 0; !atomic_load(&w->stop); i++) {
		if (fetch(w->port, paths[i % 3]))
			w->requests++;
		usleep(50000);
	}
	return NULL;
}

static void *sse_reader(void *arg)
{
	struct watcher *w = arg;
	char buf[65536];
	ssize_t n;
	int fd = connect_to(w->port);
	static const char req[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";

	if (fd < 0)
		return NULL;
	if (write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1)
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			w->sse_bytes += (unsigned long)n;
	close(fd);
	return NULL;
}

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	rp_dash_event(ctx, ev, rp_now_ms(), rp_wall_now_ms());
}

static int run_once(const struct rp_prepared *prep, unsigned n, bool http, double *wall_ms,
		    struct watcher *w)
{
	struct rp_station_opts so;
	struct rp_sim_source_opts sim;
	struct rp_sim_params params;
	struct rp_source *source = NULL;
	struct rp_station_summary sum;
	struct rp_station *s = NULL;
	struct rp_dash *dash = NULL;
	struct rp_http *server = NULL;
	pthread_t t_poll, t_sse;
	struct rp_diag d;
	uint64_t t0;
	int ret;

	rp_sim_params_default(&params, 0);
	rp_sim_timing_realistic(&params.timing);
	memset(&sim, 0, sizeof(sim));
	sim.n_boards = n;
	sim.params = &params;
	memset(&so, 0, sizeof(so));
	so.count = n;
	so.prepared = prep;
	if (http) {
		struct rp_dash_opts dopt = { .origin = { "bench", "bench" }, .process_start_unix_ms = rp_wall_now_ms() };
		struct rp_http_opts hopt = { .listen = "127.0.0.1:0" };
		if (rp_dash_new(&dopt, &dash) < 0)
			return -1;
		hopt.dash = dash;
		if (rp_http_start(&hopt, &server, &d) < 0) {
			fprintf(stderr, "bench-station-http: %s\n", rp_diag_message(&d));
			rp_dash_free(dash);
			return -1;
		}
		so.on_event = on_event;
		so.event_ctx = dash;
		memset(w, 0, sizeof(*w));
		w->port = (unsigned)strtoul(strrchr(rp_http_url(server), ':') + 1, NULL, 10);
		pthread_create(&t_sse, NULL, sse_reader, w);
		pthread_create(&t_poll, NULL, poller, w);
	}
	ret = rp_sim_source_new(&sim, &source, &d);
	so.source = source;
	if (ret == RP_OK)
		ret = rp_station_new(&so, &s, &d);
	if (ret == RP_OK) {
		t0 = rp_now_us();
		ret = rp_station_run(s, &sum, &d);
		*wall_ms = (double)(rp_now_us() - t0) / 1000.0;
		if (ret == RP_OK && sum.runner.ok != n) {
			fprintf(stderr, "bench-station-http: %u of %u boards OK\n", sum.runner.ok, n);
			ret = -1;
		}
	}
	if (ret < 0 && ret != -1)
		fprintf(stderr, "bench-station-http: %s\n", rp_diag_message(&d));
	if (http) {
		atomic_store(&w->stop, true);
		pthread_join(t_poll, NULL);
		rp_http_stop(server); /* ends the stream */
		pthread_join(t_sse, NULL);
		rp_dash_free(dash);
	}
	rp_station_free(s);
	if (source)
		source->ops->destroy(source);
	return ret < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *fw = getenv("RPIPROV_TEST_FIRMWARE");
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 16;
	unsigned repeats = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 5;
	char image[4096], recovery[4096];
	struct rp_prepare_opts po;
	struct rp_prepared prep;
	struct rp_diag d;
	double bare[16], web[16], ratio;
	struct watcher w;
	unsigned long requests = 0, sse = 0;

	if (!fw || !*fw) {
		fprintf(stderr, "bench-station-http: set RPIPROV_TEST_FIRMWARE to the firmware fixtures\n");
		return 77;
	}
	if (n == 0 || n > RP_SIM_MAX_BOARDS || repeats == 0 || repeats > 16) {
		fprintf(stderr, "usage: bench-station-http [BOARDS (1-%d) [REPEATS (1-16)]]\n", RP_SIM_MAX_BOARDS);
		return 64;
	}
	snprintf(image, sizeof(image), "%s/2711/pieeprom-2022-04-26.bin", fw);
	snprintf(recovery, sizeof(recovery), "%s/2711/recovery.bin", fw);
	memset(&po, 0, sizeof(po));
	po.image_path = image;
	po.recovery_path = recovery;
	po.timestamp = -1;
	if (rp_prepare_build(&po, &prep, &d) < 0) {
		fprintf(stderr, "bench-station-http: %s\n", rp_diag_message(&d));
		return 1;
	}
	/* In turn, so a machine that gets busier slows both alike. */
	for (unsigned r = 0; r < repeats; r++) {
		if (run_once(&prep, n, false, &bare[r], &w) < 0 || run_once(&prep, n, true, &web[r], &w) < 0) {
			rp_prepared_free(&prep);
			return 1;
		}
		requests += w.requests;
		sse += w.sse_bytes;
	}
	qsort(bare, repeats, sizeof(bare[0]), cmp_double);
	qsort(web, repeats, sizeof(web[0]), cmp_double);
	ratio = web[repeats / 2] / bare[repeats / 2];
	printf("tray of %u simulated boards, realistic timing; median of %u runs each, in turn\n\n", n, repeats);
	printf("  without --http:  %8.1f ms  (best %.1f, worst %.1f)\n", bare[repeats / 2], bare[0],
	       bare[repeats - 1]);
	printf("  with --http:     %8.1f ms  (best %.1f, worst %.1f)\n", web[repeats / 2], web[0], web[repeats - 1]);
	printf("  watchers: %lu HTTP requests, %lu bytes of events streamed\n", requests, sse);
	printf("\n  with / without:  %.3fx   (target <= 1.05x: %s)\n", ratio, ratio <= 1.05 ? "met" : "NOT MET");
	rp_prepared_free(&prep);
	return ratio <= 1.05 ? 0 : 1;
}
