/* Shared by the session/sim test programs: a synthetic payload and a
 * runner driven by the in-process device source, with the final records
 * collected per board. */
#ifndef RP_TESTS_SESSION_HELPERS_H
#define RP_TESTS_SESSION_HELPERS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "session/payload.h"
#include "session/record.h"
#include "sim/sim_source.h"
#include "runner/runner.h"

#define TH_IMAGE_SIZE (512u * 1024u)
#define TH_SECOND_STAGE_SIZE 100140u
#define TH_SIG_TS 1700000000u

static inline void th_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

struct th_payload {
	uint8_t *image;
	uint8_t *second;
	char sig[128];
	char sha[65];
	struct rp_payload *p;
};

static inline void th_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A deterministic fake image/second stage: the model only hashes them. */
static inline int th_payload_init(struct th_payload *tp, const char *config)
{
	struct rp_diag d;
	uint32_t x = 0x12345678;
	memset(tp, 0, sizeof(*tp));
	tp->image = malloc(TH_IMAGE_SIZE);
	tp->second = malloc(TH_SECOND_STAGE_SIZE);
	if (!tp->image || !tp->second)
		return -1;
	for (size_t i = 0; i < TH_IMAGE_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		tp->image[i] = (uint8_t)(x >> 16);
	}
	for (size_t i = 0; i < TH_SECOND_STAGE_SIZE; i++)
		tp->second[i] = (uint8_t)(i * 7 + 3);
	/* The image carries the .sig's update timestamp where recovery.bin
	 * writes it (F20: no `updatetime` file, so ~ts then ts, little
	 * endian, in the last 8 bytes), as a host serves it: the EEPROM
	 * then holds exactly the served bytes. */
	th_put_le32(tp->image + TH_IMAGE_SIZE - 8, ~TH_SIG_TS);
	th_put_le32(tp->image + TH_IMAGE_SIZE - 4, TH_SIG_TS);
	th_sha256_hex(tp->image, TH_IMAGE_SIZE, tp->sha);
	snprintf(tp->sig, sizeof(tp->sig), "%s\nts: %u\n", tp->sha, TH_SIG_TS);
	if (rp_payload_new(NULL, &tp->p, &d) != RP_OK ||
	    rp_payload_add(tp->p, "bootcode4.bin", tp->second, TH_SECOND_STAGE_SIZE, &d) != RP_OK ||
	    rp_payload_add(tp->p, "pieeprom.bin", tp->image, TH_IMAGE_SIZE, &d) != RP_OK ||
	    rp_payload_add(tp->p, "pieeprom.sig", tp->sig, strlen(tp->sig), &d) != RP_OK ||
	    (config && rp_payload_add(tp->p, "config.txt", config, strlen(config), &d) != RP_OK)) {
		fprintf(stderr, "payload: %s\n", rp_diag_message(&d));
		return -1;
	}
	return 0;
}

static inline void th_payload_free(struct th_payload *tp)
{
	rp_payload_free(tp->p);
	free(tp->image);
	free(tp->second);
}

struct th_run {
	pthread_mutex_t lock;
	unsigned n;
	struct rp_board_record *recs; /* by board index (from the port path) */
	unsigned finished, ignored, started;
	unsigned phases[RP_PHASE_COUNT];
	unsigned unplug_board;        /* 1-based: unplug this board when it enters phase */
	enum rp_phase unplug_phase;
	struct rp_source *src;
	char last_ignored[256];
	char ignored_log[2048];       /* every IGNORED reason, one a line */
};

/* Board index from "1-1.<n>". */
static inline int th_board_index(const char *port)
{
	const char *dot = strrchr(port, '.');
	return dot ? atoi(dot + 1) - 1 : -1;
}

static inline void th_on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct th_run *run = ctx;
	int i;
	switch (ev->type) {
	case RP_RUNNER_BOARD_FINISHED:
		i = th_board_index(ev->record->port_path);
		if (i >= 0 && (unsigned)i < run->n)
			run->recs[i] = *ev->record;
		run->finished++;
		break;
	case RP_RUNNER_BOARD_STARTED:
		run->started++;
		break;
	case RP_RUNNER_DEVICE_IGNORED:
		run->ignored++;
		snprintf(run->last_ignored, sizeof(run->last_ignored), "%s", ev->reason);
		if (strlen(run->ignored_log) + strlen(ev->reason) + 2 < sizeof(run->ignored_log)) {
			strcat(run->ignored_log, ev->reason);
			strcat(run->ignored_log, "\n");
		}
		break;
	case RP_RUNNER_PHASE:
		run->phases[ev->phase]++;
		i = th_board_index(ev->record->port_path);
		if (run->unplug_board && (unsigned)i + 1 == run->unplug_board &&
		    ev->phase == run->unplug_phase)
			rp_sim_source_unplug(run->src, (unsigned)i);
		break;
	default:
		break;
	}
}

/* Run n simulated boards through the runner; 0 on success of the run
 * itself (individual results are in run->recs). */
static inline int th_run_boards(struct th_run *run, struct rp_payload *payload,
				const struct rp_sim_source_opts *so, struct rp_runner_opts *ro,
				struct rp_runner_summary *sum)
{
	struct rp_diag d;
	struct rp_runner *r = NULL;
	int rc;

	run->n = so->n_boards;
	run->recs = calloc(so->n_boards, sizeof(*run->recs));
	pthread_mutex_init(&run->lock, NULL);
	rc = rp_sim_source_new(so, &run->src, &d);
	if (rc != RP_OK) {
		fprintf(stderr, "sim source: %s\n", rp_diag_message(&d));
		return rc;
	}
	ro->source = run->src;
	ro->payload = payload;
	ro->on_event = th_on_event;
	ro->event_ctx = run;
	if (!ro->count)
		ro->count = so->n_boards;
	rc = rp_runner_new(ro, &r, &d);
	if (rc == RP_OK)
		rc = rp_runner_run(r, sum, &d);
	if (rc != RP_OK)
		fprintf(stderr, "runner: %s\n", rp_diag_message(&d));
	rp_runner_free(r);
	return rc;
}

static inline void th_run_free(struct th_run *run)
{
	if (run->src)
		run->src->ops->destroy(run->src);
	free(run->recs);
	pthread_mutex_destroy(&run->lock);
}

#endif
