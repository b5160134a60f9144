// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loading another BPF object into the pin root (ntc, lbattach chain).
 *
 * Maps the object marks LIBBPF_PIN_BY_NAME live below <root>/maps, as the
 * datapath's do: libbpf reuses a pin of that name or pins the new map there, so a
 * third-party object shares our maps.  A program in section "tail/MAPNAME/KEY" is a
 * tail-call target: after the load it is stored in prog-array map MAPNAME at index
 * KEY.  Everything this load makes visible (map pins, program pins, prog-array
 * slots) is recorded, so that a failure, here or later in the caller, undoes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define TAIL_PFX	"tail/"

/* A prog-array slot filled from a "tail/" section. */
struct lb_tail {
	struct bpf_program *prog;
	struct bpf_map *map;
	__u32 key;
	__u32 old_id;		/* the program the slot held before; 0: empty */
	bool filled;
};

struct lb_obj {
	struct lb_ctx *ctx;
	struct bpf_object *obj;
	struct bpf_program *prog;		/* the selected program */
	bool loaded;				/* bpf_object__load() ran: maps may be pinned */
	bool map_existed[LB_OBJ_MAPS_MAX];	/* pins under <root>/maps before the load */
	char maps_made[PATH_MAX];		/* dirs this load created, "" none: the */
	char pins_made[PATH_MAX];		/* topmost one, removed up to it when empty */
	char pin_dir[PATH_MAX];
	char **pins;				/* pins made below pin_dir */
	size_t n_pins, cap_pins;
	struct lb_tail *tails;
	size_t n_tails, cap_tails;
};

/* --- maps pinned by name: shared with lb/datapath.c -------------------------- */

void lb_maps_existing(struct bpf_object *obj, bool existed[LB_OBJ_MAPS_MAX])
{
	struct bpf_map *map;
	size_t i = 0;

	bpf_object__for_each_map(map, obj) {
		const char *pin = bpf_map__pin_path(map);

		if (i < LB_OBJ_MAPS_MAX)
			existed[i] = pin && access(pin, F_OK) == 0;
		i++;
	}
}

void lb_unpin_new_maps(struct bpf_object *obj, const bool existed[LB_OBJ_MAPS_MAX])
{
	struct bpf_map *map;
	size_t i = 0;

	bpf_object__for_each_map(map, obj) {
		const char *pin = bpf_map__pin_path(map);

		if (i < LB_OBJ_MAPS_MAX && !existed[i] && pin)
			unlink(pin);
		i++;
	}
}

/* --- directories ------------------------------------------------------------- */

/* mkdir -p that remembers in made the topmost directory it created. */
static int mkdir_track(const char *path, unsigned int mode, char *made, size_t len)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (!mkdir(tmp, mode)) {
				if (!made[0])
					snprintf(made, len, "%s", tmp);
			} else if (errno != EEXIST) {
				return -errno;
			}
			if (!c)
				break;
			*p = c;
		}
	}
	return 0;
}

/* Remove path and its parents up to made (the topmost one created), while empty. */
static void rmdir_made(const char *path, char *made)
{
	char tmp[PATH_MAX];
	size_t n = strlen(made);

	if (!made[0] || strncmp(path, made, n) || (path[n] && path[n] != '/'))
		return;
	snprintf(tmp, sizeof(tmp), "%s", path);
	while (strlen(tmp) >= n) {
		char *slash;

		if (rmdir(tmp))
			return;
		slash = strrchr(tmp, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	made[0] = '\0';
}

/* --- undo -------------------------------------------------------------------- */

static void restore_tails(struct lb_obj *o)
{
	for (size_t i = o->n_tails; i-- > 0;) {
		struct lb_tail *t = &o->tails[i];
		int fd = bpf_map__fd(t->map), old = -1;

		if (!t->filled)
			continue;
		if (t->old_id)
			old = bpf_prog_get_fd_by_id(t->old_id);
		if (old >= 0) {
			bpf_map_update_elem(fd, &t->key, &old, BPF_ANY);
			close(old);
		} else {
			bpf_map_delete_elem(fd, &t->key);
		}
		t->filled = false;
	}
}

static int undo(struct lb_obj *o)
{
	int err = 0;

	restore_tails(o);
	for (size_t i = 0; i < o->n_pins; i++) {
		if (unlink(o->pins[i]) && errno != ENOENT && !err)
			err = -errno;
		free(o->pins[i]);
	}
	o->n_pins = 0;
	if (o->pin_dir[0])
		rmdir_made(o->pin_dir, o->pins_made);
	if (o->loaded)
		lb_unpin_new_maps(o->obj, o->map_existed);
	o->loaded = false;	/* once: a pin of that name made later is not ours */
	if (o->maps_made[0]) {
		char maps[PATH_MAX];

		if (!lb_path(o->ctx, maps, sizeof(maps), LB_DIR_MAPS, NULL, NULL))
			rmdir_made(maps, o->maps_made);
	}
	return err;
}

/* --- opening ----------------------------------------------------------------- */

static bool is_tail(const struct bpf_program *p)
{
	return !strncmp(bpf_program__section_name(p), TAIL_PFX, strlen(TAIL_PFX));
}

static int obj_open(struct lb_obj *o, const char *path)
{
	struct lb_ctx *ctx = o->ctx;
	char maps[PATH_MAX], msg[128];
	int err;

	err = lb_path(ctx, maps, sizeof(maps), LB_DIR_MAPS, NULL, NULL);
	if (err)
		return err;
	if (access(path, R_OK))
		return -errno;
	/* Whether the datapath is loaded here does not matter: the maps dir may be new. */
	err = mkdir_track(maps, 0700, o->maps_made, sizeof(o->maps_made));
	if (err)
		return lb_set_err(ctx, err, "cannot create %s", maps);

	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = maps);
	o->obj = bpf_object__open_file(path, &oopts);
	if (o->obj)
		return 0;
	err = -errno;
	if (err == -EACCES || err == -EPERM || err == -ENOMEM)
		return err;
	/* libbpf's -ENOENT here is about the inside (no BTF for BTF-defined maps, say). */
	libbpf_strerror(err, msg, sizeof(msg));
	return lb_set_err(ctx, -ENOEXEC, "not a BPF object libbpf can open (%s%s)",
			  err == -ENOENT ? "" : msg, err == -ENOENT ? "run with -d for libbpf's log" :
			  "; run with -d for libbpf's log");
}

/* The program sec names (section, else program name); NULL: the first that is not a
 * tail program, else the first. */
static struct bpf_program *select_prog(struct bpf_object *obj, const char *sec)
{
	struct bpf_program *p, *first = NULL;

	bpf_object__for_each_program(p, obj) {
		if (!sec && !is_tail(p))
			return p;
		if (sec && !strcmp(bpf_program__section_name(p), sec))
			return p;
		if (!first)
			first = p;
	}
	if (!sec)
		return first;
	bpf_object__for_each_program(p, obj)
		if (!strcmp(bpf_program__name(p), sec))
			return p;
	return NULL;
}

/* Load the selected program and the tail programs only; give those whose section
 * names no type one. */
static int set_programs(struct lb_obj *o, int prog_type)
{
	struct bpf_program *p;

	if (prog_type && bpf_program__type(o->prog) == BPF_PROG_TYPE_UNSPEC)
		bpf_program__set_type(o->prog, prog_type);
	bpf_object__for_each_program(p, o->obj) {
		bool load = p == o->prog || is_tail(p);

		bpf_program__set_autoload(p, load);
		if (!load)
			continue;
		if (bpf_program__type(p) == BPF_PROG_TYPE_UNSPEC)
			bpf_program__set_type(p, prog_type ? prog_type : (int)bpf_program__type(o->prog));
		if (bpf_program__type(p) == BPF_PROG_TYPE_UNSPEC)
			return lb_set_err(o->ctx, -ENOEXEC,
					  "program '%s': section '%s' names no program type",
					  bpf_program__name(p), bpf_program__section_name(p));
	}
	return 0;
}

/* "tail/MAPNAME/KEY": a prog array of the object and an index into it. */
static int parse_tail(struct lb_obj *o, struct bpf_program *p)
{
	const char *sec = bpf_program__section_name(p), *name = sec + strlen(TAIL_PFX);
	const char *slash = strrchr(name, '/');
	struct lb_ctx *ctx = o->ctx;
	struct bpf_map *map;
	char mapname[256], *end;
	unsigned long key;
	int err;

	if (!slash || slash == name || !slash[1] || (size_t)(slash - name) >= sizeof(mapname))
		return lb_set_err(ctx, -EINVAL, "section '%s': expected %sMAPNAME/KEY", sec, TAIL_PFX);
	snprintf(mapname, sizeof(mapname), "%.*s", (int)(slash - name), name);
	map = bpf_object__find_map_by_name(o->obj, mapname);
	if (!map)
		return lb_set_err(ctx, -EINVAL, "section '%s': the object has no map '%s'", sec,
				  mapname);
	if (bpf_map__type(map) != BPF_MAP_TYPE_PROG_ARRAY)
		return lb_set_err(ctx, -EINVAL, "section '%s': map '%s' is not a prog array", sec,
				  mapname);
	errno = 0;
	key = strtoul(slash + 1, &end, 0);
	if (slash[1] == '-' || slash[1] == '+' || *end || errno || key >= bpf_map__max_entries(map))
		return lb_set_err(ctx, -EINVAL, "section '%s': key '%s' is not an index of '%s' (0 to %u)",
				  sec, slash + 1, mapname, bpf_map__max_entries(map) - 1);
	for (size_t i = 0; i < o->n_tails; i++)
		if (o->tails[i].map == map && o->tails[i].key == key)
			return lb_set_err(ctx, -EINVAL, "sections '%s' and '%s' both fill %s[%lu]",
					  bpf_program__section_name(o->tails[i].prog), sec, mapname, key);
	err = LB_RESERVE(o->tails, o->n_tails, o->cap_tails);
	if (err)
		return err;
	o->tails[o->n_tails++] = (struct lb_tail){ .prog = p, .map = map, .key = key };
	return 0;
}

static int parse_tails(struct lb_obj *o)
{
	struct bpf_program *p;
	int err;

	bpf_object__for_each_program(p, o->obj) {
		if (is_tail(p)) {
			err = parse_tail(o, p);
			if (err)
				return err;
		}
	}
	return 0;
}

/* The first difference between a pinned map and the object's map of that name. */
static const char *shape_diff(const struct bpf_map_info *in, const struct bpf_map *m,
			      char *buf, size_t len)
{
	const char *tp = libbpf_bpf_map_type_str(in->type), *tm = libbpf_bpf_map_type_str(bpf_map__type(m));

	if (in->type != bpf_map__type(m))
		snprintf(buf, len, "type %s, the object's %s", tp ? tp : "?", tm ? tm : "?");
	else if (in->key_size != bpf_map__key_size(m))
		snprintf(buf, len, "key size %u, the object's %u", in->key_size, bpf_map__key_size(m));
	else if (in->value_size != bpf_map__value_size(m))
		snprintf(buf, len, "value size %u, the object's %u", in->value_size,
			 bpf_map__value_size(m));
	else if (bpf_map__max_entries(m) && in->max_entries != bpf_map__max_entries(m))
		snprintf(buf, len, "%u entries, the object's %u", in->max_entries,
			 bpf_map__max_entries(m));
	else if (in->map_flags != bpf_map__map_flags(m))
		snprintf(buf, len, "flags %#x, the object's %#x", in->map_flags, bpf_map__map_flags(m));
	else
		return NULL;
	return buf;
}

/* Maps pinned by name: the pins that exist must have the object's shape. */
static int check_pinned(struct lb_obj *o)
{
	struct bpf_map *map;
	size_t n = 0;

	bpf_object__for_each_map(map, o->obj) {
		const char *pin = bpf_map__pin_path(map), *diff;
		struct bpf_map_info info = {};
		__u32 info_len = sizeof(info);
		char buf[128];
		int fd, err;

		if (++n > LB_OBJ_MAPS_MAX)
			return lb_set_err(o->ctx, -EINVAL, "more than %d maps", LB_OBJ_MAPS_MAX);
		if (!pin)
			continue;
		fd = bpf_obj_get(pin);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return lb_set_err(o->ctx, -errno, "map '%s': cannot open %s",
					  bpf_map__name(map), pin);
		}
		err = bpf_obj_get_info_by_fd(fd, &info, &info_len) ? -errno : 0;
		close(fd);
		if (err)
			return lb_set_err(o->ctx, err, "map '%s': %s is no map", bpf_map__name(map), pin);
		diff = shape_diff(&info, map, buf, sizeof(buf));
		if (diff)
			return lb_set_err(o->ctx, -EINVAL, "map '%s': the map pinned at %s has %s",
					  bpf_map__name(map), pin, diff);
	}
	lb_maps_existing(o->obj, o->map_existed);
	return 0;
}

/* --- after the load ---------------------------------------------------------- */

static int pin_one(struct lb_obj *o, int fd, const char *name)
{
	char path[PATH_MAX];
	int n, err;

	n = snprintf(path, sizeof(path), "%s/%s", o->pin_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	err = LB_RESERVE(o->pins, o->n_pins, o->cap_pins);
	if (err)
		return err;
	if (bpf_obj_pin(fd, path))
		return lb_set_err(o->ctx, -errno, "cannot pin %s", path);
	o->pins[o->n_pins] = strdup(path);
	if (!o->pins[o->n_pins]) {
		unlink(path);
		return -ENOMEM;
	}
	o->n_pins++;
	return 0;
}

/* Programs by name below pin_dir; prog arrays the tails fill and that are not pinned
 * by name too, since the kernel empties a prog array that no pin or fd holds. */
static int pin_programs(struct lb_obj *o, const char *dir)
{
	struct bpf_program *p;
	int err;

	snprintf(o->pin_dir, sizeof(o->pin_dir), "%s", dir);
	err = mkdir_track(dir, 0700, o->pins_made, sizeof(o->pins_made));
	if (err)
		return lb_set_err(o->ctx, err, "cannot create %s", dir);
	bpf_object__for_each_program(p, o->obj) {
		if (!bpf_program__autoload(p))
			continue;
		err = pin_one(o, bpf_program__fd(p), bpf_program__name(p));
		if (err)
			return err;
	}
	for (size_t i = 0; i < o->n_tails; i++) {
		struct bpf_map *m = o->tails[i].map;
		bool seen = bpf_map__pin_path(m) != NULL;

		for (size_t j = 0; j < i && !seen; j++)
			seen = o->tails[j].map == m;
		if (!seen) {
			err = pin_one(o, bpf_map__fd(m), bpf_map__name(m));
			if (err)
				return err;
		}
	}
	return 0;
}

static int fill_tails(struct lb_obj *o)
{
	for (size_t i = 0; i < o->n_tails; i++) {
		struct lb_tail *t = &o->tails[i];
		int fd = bpf_map__fd(t->map), pfd = bpf_program__fd(t->prog);
		__u32 id = 0;

		if (!bpf_map_lookup_elem(fd, &t->key, &id))
			t->old_id = id;
		if (bpf_map_update_elem(fd, &t->key, &pfd, BPF_ANY))
			return lb_set_err(o->ctx, -errno, "cannot store program '%s' in %s[%u]",
					  bpf_program__name(t->prog), bpf_map__name(t->map), t->key);
		t->filled = true;
	}
	return 0;
}

/* --- the API ----------------------------------------------------------------- */

static int obj_load(struct lb_obj *o, const struct lb_obj_opts *opts)
{
	struct lb_ctx *ctx = o->ctx;
	int err;

	err = obj_open(o, opts->path);
	if (err)
		return err;
	o->prog = select_prog(o->obj, opts->sec);
	if (!o->prog)
		return opts->sec ? lb_set_err(ctx, -ESRCH, "no program or section '%s'", opts->sec) :
				   lb_set_err(ctx, -ESRCH, "no programs");
	err = set_programs(o, opts->prog_type);
	if (!err)
		err = parse_tails(o);
	if (!err)
		err = check_pinned(o);
	if (err)
		return err;
	o->loaded = true;
	err = bpf_object__load(o->obj);
	if (err == -EPERM)
		return lb_set_err(ctx, err, "cannot load it");
	if (err)	/* the verifier's EACCES/EINVAL must not read as a permission problem */
		return lb_set_err(ctx, -ENOEXEC,
				  "the kernel refused to load it (run with -d for libbpf's log and the verifier's)");
	if (opts->pin_dir) {
		err = pin_programs(o, opts->pin_dir);
		if (err)
			return err;
	}
	return fill_tails(o);
}

int lb_obj_load(struct lb_ctx *ctx, const struct lb_obj_opts *opts, struct lb_obj **out)
{
	struct lb_obj *o;
	int err;

	*out = NULL;
	if (!ctx || !opts || !opts->path)
		return -EINVAL;
	lb_clear_err(ctx);
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->ctx = ctx;
	err = obj_load(o, opts);
	if (err) {
		undo(o);
		lb_obj_close(o);
		return err;
	}
	*out = o;
	return 0;
}

int lb_obj_prog_fd(const struct lb_obj *o)
{
	return o ? bpf_program__fd(o->prog) : -EINVAL;
}

const char *lb_obj_prog_name(const struct lb_obj *o)
{
	return o ? bpf_program__name(o->prog) : NULL;
}

const char *lb_obj_prog_sec(const struct lb_obj *o)
{
	return o ? bpf_program__section_name(o->prog) : NULL;
}

int lb_obj_prog_type(const struct lb_obj *o)
{
	return o ? (int)bpf_program__type(o->prog) : -EINVAL;
}

/* libbpf 1.1 keeps the instructions it loaded, relocated: ldimm64 of maps carry
 * BPF_PSEUDO_MAP_FD and the map's fd, subprograms are appended. */
int lb_obj_prog_insns(const struct lb_obj *o, const struct bpf_insn **insns, size_t *cnt)
{
	if (!o || !insns || !cnt)
		return -EINVAL;
	*insns = bpf_program__insns(o->prog);
	*cnt = bpf_program__insn_cnt(o->prog);
	return *insns && *cnt ? 0 : -ENOENT;
}

bool lb_obj_has_map(const struct lb_obj *o, const char *name)
{
	return o && name && bpf_object__find_map_by_name(o->obj, name);
}

int lb_obj_unpin(struct lb_obj *o)
{
	return o ? undo(o) : -EINVAL;
}

void lb_obj_close(struct lb_obj *o)
{
	if (!o)
		return;
	bpf_object__close(o->obj);
	for (size_t i = 0; i < o->n_pins; i++)
		free(o->pins[i]);
	free(o->pins);
	free(o->tails);
	free(o);
}
