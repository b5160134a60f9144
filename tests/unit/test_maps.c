// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The shape liblb expects of each of our pinned maps (lb_map_shapes) against the
 * maps of the built datapath object; an address's fit to its family. */
#include "tap.h"
#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* build/bpf/lb_datapath.bpf.o, beside this program's build/tests/. */
static int datapath_obj(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, len, "%.*s/../bpf/%s", PATH_MAX - 64, exe, LB_DATAPATH_OBJ);
	return 0;
}

static void shapes_are_the_objects(void)
{
	char path[PATH_MAX];
	struct bpf_object *obj;
	struct bpf_map *m;
	size_t pinned = 0, shapes = 0;

	CHECK(!datapath_obj(path, sizeof(path)), "no path");
	obj = bpf_object__open_file(path, NULL);
	CHECK(obj != NULL, "cannot open %s: %d", path, -errno);
	if (!obj)
		return;
	for (const struct lb_map_shape *s = lb_map_shapes; s->name; s++)
		shapes++;
	bpf_object__for_each_map(m, obj) {
		const struct lb_map_shape *s = lb_map_shapes;

		if (bpf_map__is_internal(m))
			continue;	/* .rodata, .bss: never pinned */
		pinned++;
		while (s->name && strcmp(s->name, bpf_map__name(m)))
			s++;
		CHECK(s->name != NULL, "map %s has no shape", bpf_map__name(m));
		if (!s->name)
			continue;
		CHECK(s->type == bpf_map__type(m), "%s: type %u, the object's %u", s->name,
		      s->type, bpf_map__type(m));
		CHECK(s->key_size == bpf_map__key_size(m), "%s: key %u, the object's %u", s->name,
		      s->key_size, bpf_map__key_size(m));
		CHECK(s->value_size == bpf_map__value_size(m), "%s: value %u, the object's %u",
		      s->name, s->value_size, bpf_map__value_size(m));
	}
	CHECK_EQ_U(pinned, shapes);
	bpf_object__close(obj);
}

static void address_fits_family(void)
{
	struct lb_addr v4 = { .a = { htonl(0xc6120001) } };
	struct lb_addr mapped = { .a = { 0, 0, htonl(0xffff), htonl(0xc6120001) } };
	struct lb_addr v6 = { .a = { htonl(0x20010db8), 0, 0, htonl(1) } };

	CHECK(lb_addr_fits(&v4, LB_AF_INET), "198.18.0.1 is IPv4");
	CHECK(lb_addr_fits(&v4, LB_AF_INET6), "any 16 bytes are IPv6");
	CHECK(!lb_addr_fits(&mapped, LB_AF_INET), "::ffff:198.18.0.1 reads as 0.0.0.0");
	CHECK(lb_addr_fits(&mapped, LB_AF_INET6), "an IPv6 address");
	CHECK(!lb_addr_fits(&v6, LB_AF_INET), "2001:db8::1 is no IPv4 address");
}

int main_maps(void);
int main_maps(void)
{
	RUN(shapes_are_the_objects);
	RUN(address_fits_family);
	return 0;
}
