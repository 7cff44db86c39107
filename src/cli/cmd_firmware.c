/* rpiprov firmware: which bootloader images and recovery.bin files this
 * machine has (and which one flash would use, and why), and fetching the
 * newest ones from raspberrypi/rpi-eeprom or a mirror. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "firmware/fetch.h"
#include "image/firmware.h"
#include "soc/soc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov firmware list [--soc SOC] [--dir DIR] [--json]\n"
		"       rpiprov firmware fetch [--soc 2711|2712|all] [--channel default|latest]\n"
		"                              [--base-url URL] [--system] [--timeout DUR]\n\n"
		"list: every bootloader image and recovery.bin found, with SoC, date, channel\n"
		"and where it was found, and which one 'flash' would use and why. Places, in\n"
		"order (the first with an image wins, then the newest date in it):\n"
		"  1. --image DIR (here --dir DIR), else $RPIPROV_FIRMWARE_DIR, alone: a folder,\n"
		"     DIR/<soc>/, a usbboot checkout or an rpi-eeprom checkout\n"
		"  2. FIRMWARE_ROOT/FIRMWARE_RELEASE_STATUS (environment, or\n"
		"     /etc/default/rpi-eeprom-update)\n"
		"  3. /lib/firmware/raspberrypi/bootloader-<soc>/{latest,default} (Raspberry Pi OS)\n"
		"  4. the fetch cache: $XDG_CACHE_HOME/rpiprov/firmware (~/.cache/...), then\n"
		"     /var/cache/rpiprov/firmware\n\n"
		"fetch: download the newest image and recovery.bin of a channel into the fetch\n"
		"cache, checked before anything is replaced, with a manifest.json (sha256 and\n"
		"source URL of each file).\n"
		"      --soc SOC        2711, 2712 or all (default all)\n"
		"      --channel NAME   default (default) or latest (or another folder name)\n"
		"      --base-url URL   a mirror with rpi-eeprom's layout and an index.json per\n"
		"                       channel folder (default: $RPIPROV_FIRMWARE_URL, else the\n"
		"                       GitHub API of raspberrypi/rpi-eeprom); https:// only,\n"
		"                       http:// only to a loopback address\n"
		"      --system         into /var/cache/rpiprov/firmware (the station service's)\n"
		"      --timeout DUR    give up on a server that sends nothing for this long\n"
		"                       (default 30s)\n\n"
		"Exit status: 0 ok; 65 not a bootloader image; 66 not on the server or\n"
		"nothing found; 69 network or server unavailable; 73 cannot write the cache;\n"
		"74 download cut short; 75 timed out.\n");
}

enum { O_SOC = 256, O_JSON, O_DIR, O_CHANNEL, O_BASE_URL, O_SYSTEM, O_TIMEOUT };

struct fw_cli {
	const char *soc;
	const char *dir;
	bool json;
	const char *channel;
	const char *base_url;
	bool system;
	uint64_t timeout_ms;
};

static int parse(int argc, char **argv, struct fw_cli *c, const char *cmd)
{
	static const struct option opts[] = {
		{ "soc", required_argument, NULL, O_SOC },
		{ "json", no_argument, NULL, O_JSON },
		{ "dir", required_argument, NULL, O_DIR },
		{ "channel", required_argument, NULL, O_CHANNEL },
		{ "base-url", required_argument, NULL, O_BASE_URL },
		{ "system", no_argument, NULL, O_SYSTEM },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool list = !strcmp(cmd, "firmware list");
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		bool list_only = opt == O_JSON || opt == O_DIR;
		bool fetch_only = opt == O_CHANNEL || opt == O_BASE_URL || opt == O_SYSTEM ||
				  opt == O_TIMEOUT;
		if (opt == 'h') {
			usage(stdout);
			return -1;
		}
		if ((list && fetch_only) || (!list && list_only))
			return cli_usage_error(cmd, "option '%s' does not apply here", argv[optind - 1]);
		switch (opt) {
		case O_SOC: c->soc = optarg; break;
		case O_JSON: c->json = true; break;
		case O_DIR: c->dir = optarg; break;
		case O_CHANNEL: c->channel = optarg; break;
		case O_BASE_URL: c->base_url = optarg; break;
		case O_SYSTEM: c->system = true; break;
		case O_TIMEOUT: {
			int r = cli_option_duration(cmd, "--timeout", optarg, 100, 3600000,
						    &c->timeout_ms);
			if (r)
				return r;
			break;
		}
		default: return cli_bad_option(cmd);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* The SoCs an option names: one, or every chip with an EEPROM for "all"
 * and none given. */
static int socs(const char *cmd, const char *name, const struct rp_soc **out, size_t *n)
{
	size_t count;
	const struct rp_soc *t = rp_soc_table(&count);
	char names[64];

	*n = 0;
	if (name && strcmp(name, "all")) {
		out[0] = rp_soc_eeprom_by_name(name);
		if (!out[0])
			return cli_usage_error(cmd, "--soc '%s': expected %s or all", name,
					       rp_soc_eeprom_names(names, sizeof(names)));
		*n = 1;
		return 0;
	}
	for (size_t i = 0; i < count && *n < 8; i++)
		if (rp_soc_has_eeprom(&t[i]))
			out[(*n)++] = &t[i];
	return 0;
}

struct choice {
	char image[4096], recovery[4096], why[512];
	struct rp_diag d;
	int r;
};

static void choose(const struct rp_soc *soc, const char *dir, struct choice *ch)
{
	rp_diag_clear(&ch->d);
	ch->r = rp_firmware_find_image(soc->soc, dir, ch->image, sizeof(ch->image), ch->why,
				       sizeof(ch->why), &ch->d);
	if (ch->r == RP_OK)
		ch->r = rp_firmware_find_recovery(soc->soc, dir, ch->image, ch->recovery,
						  sizeof(ch->recovery), &ch->d);
}

static bool wanted(const struct rp_soc *const *s, size_t n, const char *soc)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i]->soc, soc))
			return true;
	return false;
}

/* Whether flash uses this file for one of the SoCs. */
static bool selected(const char *path, const struct choice *ch, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (ch[k].r == RP_OK && (!strcmp(path, ch[k].image) || !strcmp(path, ch[k].recovery)))
			return true;
	return false;
}

static int list_json(const struct rp_fw_list *files, const struct rp_soc *const *s, size_t n,
		     const struct choice *ch)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array(),
		    *sel = json_object_new_object();

	for (size_t i = 0; i < files->n; i++) {
		const struct rp_fw_file *f = &files->v[i];
		json_object *o;
		if (!wanted(s, n, f->soc))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "soc", json_object_new_string(f->soc));
		json_object_object_add(o, "kind", json_object_new_string(f->kind == RP_FW_IMAGE ? "image" : "recovery"));
		json_object_object_add(o, "date", f->date[0] ? json_object_new_string(f->date) : NULL);
		json_object_object_add(o, "channel", f->channel[0] ? json_object_new_string(f->channel) : NULL);
		json_object_object_add(o, "found_in", json_object_new_string(rp_fw_tier_name(f->tier)));
		json_object_object_add(o, "path", json_object_new_string(f->path));
		json_object_object_add(o, "selected", json_object_new_boolean(selected(f->path, ch, n)));
		json_object_array_add(arr, o);
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		if (ch[i].r == RP_OK) {
			json_object_object_add(o, "image", json_object_new_string(ch[i].image));
			json_object_object_add(o, "recovery", json_object_new_string(ch[i].recovery));
			json_object_object_add(o, "why", json_object_new_string(ch[i].why));
		} else {
			json_object_object_add(o, "error", json_object_new_string(rp_diag_message(&ch[i].d)));
		}
		json_object_object_add(sel, s[i]->soc, o);
	}
	json_object_object_add(root, "files", arr);
	json_object_object_add(root, "flash_uses", sel);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return CLI_EXIT_OK;
}

static int list_text(const struct rp_fw_list *files, const struct rp_soc *const *s, size_t n,
		     const struct choice *ch)
{
	size_t shown = 0;

	for (size_t i = 0; i < files->n; i++) {
		const struct rp_fw_file *f = &files->v[i];
		if (!wanted(s, n, f->soc))
			continue;
		if (!shown++)
			printf("  %-5s %-9s %-10s %-8s %-26s %s\n", "SOC", "KIND", "DATE", "CHANNEL",
			       "FOUND IN", "PATH");
		printf("%c %-5s %-9s %-10s %-8s %-26s %s\n", selected(f->path, ch, n) ? '*' : ' ', f->soc,
		       f->kind == RP_FW_IMAGE ? "image" : "recovery", f->date[0] ? f->date : "-",
		       f->channel[0] ? f->channel : "-", rp_fw_tier_name(f->tier), f->path);
	}
	if (!shown)
		printf("no bootloader image or recovery.bin found\n");
	for (size_t i = 0; i < n; i++) {
		if (ch[i].r == RP_OK)
			printf("BCM%s: flash uses %s (%s) and %s\n", s[i]->soc, ch[i].image, ch[i].why,
			       ch[i].recovery);
		else
			printf("BCM%s: %s; simulated boards get a synthetic image\n", s[i]->soc,
			       rp_diag_message(&ch[i].d));
	}
	return CLI_EXIT_OK;
}

static int cmd_list_fw(int argc, char **argv)
{
	struct fw_cli c = { 0 };
	const struct rp_soc *s[8];
	struct choice ch[8];
	struct rp_fw_list files;
	struct rp_diag d;
	size_t n;
	int r = parse(argc, argv, &c, "firmware list");

	if (r)
		return r < 0 ? CLI_EXIT_OK : r;
	r = socs("firmware list", c.soc, s, &n);
	if (r)
		return r;
	rp_diag_clear(&d);
	if (rp_firmware_scan(c.dir, &files, &d) < 0)
		return cli_fail(&d);
	for (size_t i = 0; i < n; i++)
		choose(s[i], c.dir, &ch[i]);
	r = c.json ? list_json(&files, s, n, ch) : list_text(&files, s, n, ch);
	rp_fw_list_free(&files);
	/* Nothing flash could use, for any SoC asked about: a script checking
	 * for firmware sees it in the status (66, input missing). */
	for (size_t i = 0; r == CLI_EXIT_OK && i < n; i++)
		if (ch[i].r == RP_OK)
			return CLI_EXIT_OK;
	return r == CLI_EXIT_OK ? CLI_EXIT_NOINPUT : r;
}

struct progress {
	bool tty;
	bool shown;
};

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;

	if (!p->tty)
		return;
	if (total)
		fprintf(stderr, "\r\033[Krpiprov: fetching %s: %llu/%llu KiB", what,
			(unsigned long long)(done >> 10), (unsigned long long)(total >> 10));
	else
		fprintf(stderr, "\r\033[Krpiprov: fetching %s: %llu KiB", what,
			(unsigned long long)(done >> 10));
	p->shown = true;
}

static void progress_end(struct progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}

static int cmd_fetch(int argc, char **argv)
{
	struct fw_cli c = { 0 };
	const struct rp_soc *s[8];
	struct progress prog = { .tty = isatty(STDERR_FILENO) == 1 };
	char root[4000];
	struct rp_diag d;
	size_t n;
	int r = parse(argc, argv, &c, "firmware fetch"), exit_code = CLI_EXIT_OK;

	if (r)
		return r < 0 ? CLI_EXIT_OK : r;
	r = socs("firmware fetch", c.soc, s, &n);
	if (r)
		return r;
	rp_diag_clear(&d);
	if (rp_firmware_cache_root(c.system, root, sizeof(root), &d) < 0)
		return cli_fail(&d);
	for (size_t i = 0; i < n; i++) {
		struct rp_fetch_opts o = {
			.soc = s[i]->soc,
			.channel = c.channel ? c.channel : "default",
			.base_url = c.base_url,
			.cache_root = root,
			.stall_timeout_ms = (unsigned)c.timeout_ms,
			.progress = on_progress,
			.progress_ctx = &prog,
		};
		struct rp_fetch_result res;

		rp_diag_clear(&d);
		r = rp_firmware_fetch(&o, &res, &d);
		progress_end(&prog);
		if (r < 0) {
			rp_diag_prefix(&d, "BCM%s %s", s[i]->soc, o.channel);
			/* Offline, or behind a firewall: say where a mirror goes. */
			if (r == RP_ERR_NETWORK && !c.base_url && !getenv("RPIPROV_FIRMWARE_URL")) {
				char msg[sizeof(d.msg)];
				snprintf(msg, sizeof(msg), "%s", rp_diag_message(&d));
				rp_diag_set(&d, r, "%s; without access to GitHub, point --base-url or "
					    "RPIPROV_FIRMWARE_URL at a mirror of raspberrypi/rpi-eeprom's "
					    "firmware-<soc> folders, or put images in RPIPROV_FIRMWARE_DIR",
					    msg);
			}
			if (exit_code == CLI_EXIT_OK)
				exit_code = cli_fail(&d);
			else
				cli_fail(&d);
			continue;
		}
		cli_info("BCM%s %s: %s (sha256 %s) and recovery.bin in %s", s[i]->soc, o.channel,
			 strrchr(res.image_path, '/') + 1, res.image_sha256, res.dir);
	}
	return exit_code;
}

int cmd_firmware(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list_fw(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fetch"))
		return cmd_fetch(argc - 1, argv + 1);
	return cli_usage_error("firmware", "unknown subcommand '%s' (list or fetch)", argv[1]);
}
