/* The set of files a board may ask for: in-memory entries (the result of
 * rp_prepare_build) and/or a directory served the way rpiboot does
 * (`DIR/<port-path>/NAME` with overlays, then `DIR/<soc>/NAME`, then
 * `DIR/NAME`).
 *
 * One payload is shared by every board of a run: it is set up once
 * (rp_payload_new + rp_payload_add*) and is read-only afterwards, so
 * rp_payload_lookup may be called from any number of threads at once.
 * Directory files are read when a board asks for them and kept in a
 * shared, reference-counted cache (revalidated with stat, so a file
 * replaced on disk is served fresh), never copied per board.
 *
 * Every name handed to rp_payload_lookup comes from a device and is
 * untrusted: see rp_payload_check_name. */
#ifndef RP_SESSION_PAYLOAD_H
#define RP_SESSION_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct rp_prepared;
struct rp_soc;

/* Longest name a device can send (the name field of the 260-byte request). */
#define RP_PAYLOAD_NAME_MAX 256

struct rp_payload_opts {
	const char *dir;       /* directory to serve, or NULL for in-memory entries only */
	bool overlays;         /* rpiboot -o: DIR/<port-path>/NAME is tried first */
	size_t max_file_size;  /* largest directory file served; 0: 64 MiB. Never more
				* than UINT32_MAX: the wire length is 32 bits */
	/* Serve a config.txt that writes the board's OTP memory (permanent).
	 * Off: rp_payload_lookup refuses one, whatever its origin. */
	bool allow_otp;
};

struct rp_payload;

/* A file as served to one board. data stays valid until
 * rp_payload_file_release, even if the file changes on disk meanwhile. */
struct rp_payload_file {
	const uint8_t *data;
	size_t len;
	char sha256[65];        /* hex digest of data */
	char origin[4096 + 32]; /* "memory:pieeprom.bin" or the resolved path, for logs */
	void *ref_;             /* private: cache entry reference */
};

int rp_payload_new(const struct rp_payload_opts *opts, struct rp_payload **out,
		   struct rp_diag *d);
void rp_payload_free(struct rp_payload *p);

/* Add an in-memory entry (the bytes are copied; at most UINT32_MAX). In-memory
 * entries are looked up before the directory. Not thread-safe: call during
 * setup only. */
int rp_payload_add(struct rp_payload *p, const char *name, const void *data, size_t len,
		   struct rp_diag *d);
/* Add pieeprom.bin, pieeprom.sig, config.txt and the second stage (under
 * the name the SoC table gives for prepared->soc, e.g. bootcode4.bin)
 * of a prepared payload. The image is not hashed again: its entry takes
 * prepared->image_sha256. */
int rp_payload_add_prepared(struct rp_payload *p, const struct rp_prepared *prepared,
			    struct rp_diag *d);
/* The same without copying any bytes: the entries point into `prepared`,
 * which must stay unchanged until rp_payload_free(p). For a payload built
 * once and served for a whole run. */
int rp_payload_add_prepared_ref(struct rp_payload *p, const struct rp_prepared *prepared,
				struct rp_diag *d);

/* Validate a device-supplied name: NUL-terminated within raw_len (at most
 * RP_PAYLOAD_NAME_MAX) bytes, not empty, not absolute, no ".." component,
 * no empty component ("a//b", trailing "/"), no backslash, printable
 * ASCII only. Copies it into out (RP_PAYLOAD_NAME_MAX bytes). Returns
 * RP_ERR_PROTOCOL (unterminated) or RP_ERR_REFUSED (unsafe) with a
 * message quoting the sanitised name. */
int rp_payload_check_name(const char *raw, size_t raw_len, char out[RP_PAYLOAD_NAME_MAX],
			  struct rp_diag *d);
/* Render up to len bytes of a device string (stopping at NUL) for a
 * message: printable ASCII as is, anything else as \xNN, cut with "..."
 * to fit out_size. */
void rp_payload_quote(const char *raw, size_t len, char *out, size_t out_size);

/* Find `name` for a board whose chip has rpiboot folder `soc_dir` (the SoC
 * table's rpiboot_dir: "2711", "2710" for 2835/2837; may be NULL) on USB
 * port `port_path` (may be NULL). Memory entries first, then the directory in
 * rpiboot order. A directory hit is opened with O_NOFOLLOW on its last
 * component and its realpath must stay inside the served tree, so a
 * symlink pointing outside is refused (RP_ERR_REFUSED), and so is a file
 * whose opened path cannot be confirmed (no /proc). A file rewritten in
 * place while being read is read again (bounded) so its bytes are never
 * torn; one that keeps changing is RP_ERR_IO. RP_ERR_NOT_FOUND when absent
 * (not an error for the protocol: the board is told size 0).
 *
 * The OTP guard lives here, where bytes are handed to a board: every
 * config.txt found (memory, overlay, SoC folder, bootfiles.bin, top of the
 * tree) is checked with rp_recovery_config_check on the exact bytes being
 * returned, and refused (RP_ERR_REFUSED) when it writes OTP without
 * opts.allow_otp, is oversize or holds NUL bytes.
 * Thread-safe. Release the file with rp_payload_file_release. */
int rp_payload_lookup(struct rp_payload *p, const char *soc_dir, const char *port_path,
		      const char *name, struct rp_payload_file *f, struct rp_diag *d);
void rp_payload_file_release(struct rp_payload *p, struct rp_payload_file *f);

/* Before any board is touched: look up every config.txt the payload could
 * hand out (each SoC folder, the top, and with overlays every
 * DIR/<port-path>/), through rp_payload_lookup and so through its guard, so
 * a refused one stops the run at start instead of failing each board. A
 * config.txt that cannot be read is an error, never "absent". The guard
 * at lookup still decides for each board: files may change later. */
int rp_payload_check_configs(struct rp_payload *p, struct rp_diag *d);

/* The second stage for a boot ROM of this kind: the name the SoC table
 * gives (bootcode4.bin for 2711, bootcode5.bin for 2712, bootcode.bin for
 * older SoCs), looked up like any other file; a 2711/2712 directory that
 * only has bootcode.bin is not accepted (it is a 2835-family file). */
int rp_payload_second_stage(struct rp_payload *p, const struct rp_soc *dev,
			    const char *port_path, struct rp_payload_file *f, struct rp_diag *d);
/* Setup only: the chips rp_prepare_build_each_soc left out get no second
 * stage, and rp_payload_second_stage says why (for example that the only
 * recovery.bin found is another chip's), so such a board fails at once. */
struct rp_prepare_skipped;
int rp_payload_refuse_skipped(struct rp_payload *p, const struct rp_prepare_skipped *skipped,
			      size_t n, struct rp_diag *d);

#endif
