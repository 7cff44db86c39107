/* Arbitrary device behaviour against the file server (and stage 1): a fake
 * transport answers every control IN with bytes from the fuzz input, of a
 * length the input chooses, and every OUT transfer with a status the
 * input chooses. The session must never crash, read out of bounds or
 * loop forever (the input runs out, and then the board "leaves").
 *
 * Input layout: byte 0 selects the mode (bit 0: flash/serve, bit 1: run
 * stage 1 first); then a stream consumed as transfers happen:
 *   control IN:  1 status byte (15 mod 16: an error), 2 bytes LE length
 *                (mod requested + 1), then that many data bytes;
 *   control OUT / bulk OUT: 1 status byte (>= 240: an error or a short
 *                transfer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/payload.h"
#include "session/session.h"
#include "soc/soc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_transport {
	struct rp_transport base;
	const uint8_t *p;
	size_t left;
};

static const int errors[] = { RP_ERR_TIMEOUT, RP_ERR_NO_DEVICE, RP_ERR_PIPE, RP_ERR_USB,
			      RP_ERR_OVERFLOW, RP_ERR_INTERRUPTED, RP_ERR_SHORT, RP_ERR_IO };

static int take(struct fuzz_transport *t, uint8_t *b)
{
	if (!t->left)
		return 0;
	*b = *t->p++;
	t->left--;
	return 1;
}

static int out_status(struct fuzz_transport *t, size_t len, size_t *actual)
{
	uint8_t s;
	if (actual)
		*actual = len;
	if (!take(t, &s))
		return RP_ERR_NO_DEVICE;
	if (s < 240)
		return RP_OK;
	if (s == 255 && actual) {
		*actual = len / 2;
		return RP_ERR_SHORT;
	}
	if (actual)
		*actual = 0;
	return errors[s % (sizeof(errors) / sizeof(errors[0]))];
}

static int f_control_out(struct rp_transport *tr, uint8_t request, uint16_t value, uint16_t index,
			 const void *data, size_t len, unsigned timeout_ms)
{
	return out_status((struct fuzz_transport *)tr, len, NULL);
}

static int f_bulk_out(struct rp_transport *tr, const void *data, size_t len, size_t *actual,
		      unsigned timeout_ms)
{
	return out_status((struct fuzz_transport *)tr, len, actual);
}

static int f_control_in(struct rp_transport *tr, uint8_t request, uint16_t value, uint16_t index,
			void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
	struct fuzz_transport *t = (struct fuzz_transport *)tr;
	uint8_t s, lo, hi;
	size_t n;

	*actual = 0;
	if (!take(t, &s))
		return RP_ERR_NO_DEVICE;
	if (s % 16 == 15)
		return errors[(s >> 4) % (sizeof(errors) / sizeof(errors[0]))];
	if (!take(t, &lo) || !take(t, &hi))
		return RP_ERR_NO_DEVICE;
	n = ((size_t)lo | ((size_t)hi << 8)) % (len + 1);
	/* Only the bytes the "device" sent are written; the rest of the
	 * buffer keeps whatever the caller had there. */
	if (n > t->left)
		n = t->left;
	memcpy(buf, t->p, n);
	t->p += n;
	t->left -= n;
	*actual = n;
	return RP_OK;
}

static void f_close(struct rp_transport *tr)
{
	(void)tr;
}

static const struct rp_transport_ops fuzz_ops = { f_control_out, f_control_in, f_bulk_out,
						  f_close };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t image[2048] = { 0x55, 0xaa, 0xf0, 0x0f };
	static const char sig[] = "0000000000000000000000000000000000000000000000000000000000000000\n";
	static const char conf[] = "recovery_metadata=1\n";
	struct fuzz_transport t;
	struct rp_payload *p = NULL;
	struct rp_board_record rec;
	struct rp_session_opts o;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	if (rp_payload_new(NULL, &p, NULL) != RP_OK)
		return 0;
	rp_payload_add(p, "bootcode4.bin", image, 512, NULL);
	rp_payload_add(p, "pieeprom.bin", image, sizeof(image), NULL);
	rp_payload_add(p, "pieeprom.sig", sig, strlen(sig), NULL);
	rp_payload_add(p, "config.txt", conf, strlen(conf), NULL);

	memset(&t, 0, sizeof(t));
	t.base.ops = &fuzz_ops;
	t.base.info.vid = RP_USB_VID_BROADCOM;
	t.base.info.pid = 0x2711;
	t.base.info.stage = (mode & 2) ? RP_STAGE_ROM : RP_STAGE_SECOND;
	strcpy(t.base.info.port_path, "1-1.4");
	strcpy(t.base.info.serial, "fuzz");
	t.p = data + 1;
	t.left = size - 1;

	memset(&o, 0, sizeof(o));
	o.payload = p;
	o.mode = (mode & 1) ? RP_SESSION_SERVE : RP_SESSION_FLASH;
	o.transfer_timeout_ms = 10;
	o.request_timeout_ms = 10;
	o.bulk_chunk = (size_t)(mode >> 2) * 97; /* 0: the default (whole files) */

	rp_session_record_init(&rec, &t.base.info, 1);
	if (!(mode & 2) || rp_session_stage1(&t.base, &o, &rec) == RP_OK)
		rp_session_serve(&t.base, &o, &rec);
	rp_session_record_finish(&rec, RP_RESULT_FAILED);
	/* What reaches the record must be bounded and printable. */
	if (rec.n_meta > RP_META_MAX || strlen(rec.error) >= sizeof(rec.error))
		abort();
	for (unsigned i = 0; i < rec.n_meta; i++)
		for (const char *c = rec.meta[i].value; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				abort();
	rp_payload_free(p);
	return 0;
}
