// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The BTF records of a loaded program whose instructions move behind a new main
 * function (the XDP chain's wrapper, chain.c): its BTF with one more FUNC, and its
 * func_info and line_info with the offsets moved.
 *
 * The kernel gives back a program's BTF and func_info type ids, but its offsets
 * are those of the verifier's rewritten code, so the offsets come from elsewhere:
 * the subprograms' starts from the calls in libbpf's relocated instructions, the
 * line records from the object file's .BTF.ext, placed where libbpf put each
 * function (it copies functions whole: main first, subprograms after).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gelf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "internal.h"

/* struct btf_ext_header of libbpf (not installed). */
struct ext_hdr {
	__u16 magic;
	__u8 version;
	__u8 flags;
	__u32 hdr_len;
	__u32 func_info_off;
	__u32 func_info_len;
	__u32 line_info_off;
	__u32 line_info_len;
};

#define EXT_MAGIC	0xeB9F

/* One info sub-section of .BTF.ext: __u32 rec_size, then blocks of
 * (__u32 sec_name_off, __u32 num_info, num_info records of rec_size). */
struct ext_info {
	const __u8 *p, *end;
	__u32 rec_size;
};

/* The .BTF.ext section of the ELF file at path, malloc'd; NULL if none. */
static void *read_btf_ext(const char *path, size_t *len)
{
	Elf_Scn *scn = NULL;
	void *out = NULL;
	size_t shstrndx;
	Elf *elf;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		Elf_Data *d;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			break;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".BTF.ext"))
			continue;
		d = elf_getdata(scn, NULL);
		if (d && d->d_buf && d->d_size >= sizeof(struct ext_hdr) &&
		    (out = malloc(d->d_size))) {
			memcpy(out, d->d_buf, d->d_size);
			*len = d->d_size;
		}
		break;
	}
out:
	elf_end(elf);
	close(fd);
	return out;
}

static bool ext_info_get(const void *ext, size_t len, bool lines, __u32 min_rec,
			 struct ext_info *ei)
{
	const struct ext_hdr *h = ext;
	__u32 off = lines ? h->line_info_off : h->func_info_off;
	__u32 sub = lines ? h->line_info_len : h->func_info_len;

	if (h->magic != EXT_MAGIC || h->hdr_len < offsetof(struct ext_hdr, line_info_len) + 4 ||
	    (size_t)h->hdr_len + off + sub > len || sub < 4)
		return false;
	ei->p = (const __u8 *)ext + h->hdr_len + off;
	ei->end = ei->p + sub;
	memcpy(&ei->rec_size, ei->p, 4);
	ei->p += 4;
	return ei->rec_size >= min_rec;
}

/* The next block: its section name offset, records and count; false at the end. */
static bool ext_block(struct ext_info *ei, __u32 *sec, const __u8 **recs, __u32 *n)
{
	__u32 hdr[2];

	if (ei->end - ei->p < 8)
		return false;
	memcpy(hdr, ei->p, 8);
	if ((size_t)(ei->end - ei->p - 8) / ei->rec_size < hdr[1])
		return false;
	*sec = hdr[0];
	*n = hdr[1];
	*recs = ei->p + 8;
	ei->p += 8 + (size_t)hdr[1] * ei->rec_size;
	return true;
}

/* Where the function of BTF type id starts in the object: its section (name
 * offset) and instruction; false if .BTF.ext does not say. */
static bool func_origin(const void *ext, size_t len, __u32 type_id, __u32 *sec, __u32 *insn)
{
	struct ext_info ei;
	const __u8 *recs;
	__u32 n;

	if (!ext_info_get(ext, len, false, sizeof(struct bpf_func_info), &ei))
		return false;
	while (ext_block(&ei, sec, &recs, &n)) {
		for (__u32 i = 0; i < n; i++) {
			struct bpf_func_info fi;

			memcpy(&fi, recs + (size_t)i * ei.rec_size, sizeof(fi));
			if (fi.type_id == type_id) {
				*insn = fi.insn_off / 8;	/* bytes in the object */
				return true;
			}
		}
	}
	return false;
}

/*
 * The line records of the n functions starting at starts[] (with their BTF type
 * ids in fi[]) of a program of cnt instructions, moved by shift, and one for the
 * new main function at 0 (the first line of the old one).  0 records when the
 * object's .BTF.ext cannot tell them all: the kernel wants one at the start of
 * every function or none at all.
 */
static void line_records(const char *path, const __u32 *starts, const struct bpf_func_info *fi,
			 __u32 n, size_t cnt, __u32 shift, struct lb_prog_btf *b)
{
	struct bpf_line_info *li = NULL;
	size_t len = 0, nli = 0, cap = 0;
	void *ext = read_btf_ext(path, &len);
	bool ok = ext != NULL;

	for (__u32 k = 0; ok && k < n; k++) {
		__u32 end = k + 1 < n ? starts[k + 1] : cnt, fsec = 0, from = 0, sec, m;
		size_t first = nli;
		struct ext_info ei = {};
		const __u8 *recs;

		ok = func_origin(ext, len, fi[k].type_id, &fsec, &from) &&
		     ext_info_get(ext, len, true, sizeof(struct bpf_line_info), &ei);
		while (ok && ext_block(&ei, &sec, &recs, &m)) {
			if (sec != fsec)
				continue;
			for (__u32 i = 0; ok && i < m; i++) {
				struct bpf_line_info r;

				memcpy(&r, recs + (size_t)i * ei.rec_size, sizeof(r));
				r.insn_off /= 8;
				if (r.insn_off < from || r.insn_off - from >= end - starts[k])
					continue;
				r.insn_off += shift + starts[k] - from;
				if (k == 0 && nli == 0) {	/* the new main's line */
					ok = !LB_RESERVE(li, nli, cap);
					if (ok) {
						li[nli] = r;
						li[nli++].insn_off = 0;
					}
				}
				/* the kernel wants them in order, and so does this */
				ok = ok && r.insn_off > li[nli - 1].insn_off &&
				     !LB_RESERVE(li, nli, cap);
				if (ok)
					li[nli++] = r;
			}
		}
		ok = ok && nli > first + (k == 0) &&
		     li[first + (k == 0)].insn_off == shift + starts[k];
	}
	free(ext);
	if (!ok) {
		free(li);
		return;
	}
	b->line_info = li;
	b->line_info_cnt = nli;
}

/* The first instructions of the subprograms, in order (0 first): the targets of
 * bpf-to-bpf calls and of callback addresses.  0 on success, or -EINVAL. */
static int subprog_starts(const struct bpf_insn *insns, size_t cnt, __u32 *starts, __u32 *n)
{
	bool *is_start = calloc(cnt, sizeof(*is_start));
	__u32 k = 0;

	if (!is_start)
		return -ENOMEM;
	is_start[0] = true;
	for (size_t i = 0; i < cnt; i++) {
		const struct bpf_insn *in = &insns[i];
		bool call = in->code == (BPF_JMP | BPF_CALL) && in->src_reg == BPF_PSEUDO_CALL;
		bool ld64 = in->code == (BPF_LD | BPF_IMM | BPF_DW);
		long long t = (long long)i + 1 + in->imm;

		if ((call || (ld64 && in->src_reg == BPF_PSEUDO_FUNC)) && t >= 0 && t < (long long)cnt)
			is_start[t] = true;
		if (ld64)
			i++;
	}
	for (size_t i = 0; i < cnt; i++) {
		if (!is_start[i])
			continue;
		if (k == *n) {
			free(is_start);
			return -EINVAL;
		}
		starts[k++] = i;
	}
	free(is_start);
	*n = k;
	return 0;
}

int lb_prog_btf_wrapped(const char *path, int prog_fd, const struct bpf_insn *insns, size_t cnt,
			__u32 shift, struct lb_prog_btf *b)
{
	struct bpf_func_info *kfi = NULL, *fi = NULL;
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info), n, *starts = NULL;
	const struct btf_type *t;
	struct btf *btf = NULL;
	char *name = NULL;
	int static_id, err;

	memset(b, 0, sizeof(*b));
	b->btf_fd = -1;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &info_len))
		return -errno;
	n = info.nr_func_info;
	if (!info.btf_id || !n || info.func_info_rec_size != sizeof(*kfi))
		return 0;	/* no func_info: its subprograms went as static ones */
	kfi = calloc(n, sizeof(*kfi));
	starts = calloc(n, sizeof(*starts));
	fi = calloc(n + 1, sizeof(*fi));
	if (!kfi || !starts || !fi) {
		err = -ENOMEM;
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.nr_func_info = n;
	info.func_info_rec_size = sizeof(*kfi);
	info.func_info = (__u64)(unsigned long)kfi;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &info_len)) {
		err = -errno;
		goto out;
	}
	/* The kernel lists what it kept: a subprogram it found dead is not there,
	 * and then the type ids cannot be matched to the starts (load without BTF). */
	err = subprog_starts(insns, cnt, starts, &n);
	if (err == -EINVAL || n != info.nr_func_info) {
		err = 0;
		goto out;
	}
	if (err)
		goto out;
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf) {
		err = -errno;
		goto out;
	}
	/* The new main function takes the old one's type; the old one becomes a
	 * static function of the same prototype, checked in its caller's context as
	 * it was as a program (a global one would be checked on its own). */
	t = btf__type_by_id(btf, kfi[0].type_id);
	if (!t || !btf_is_func(t)) {
		err = -ENOEXEC;
		goto out;
	}
	/* A copy: adding to the BTF moves its strings. */
	name = strdup(btf__name_by_offset(btf, t->name_off));
	static_id = name ? btf__add_func(btf, name, BTF_FUNC_STATIC, t->type) : -ENOMEM;
	if (static_id < 0) {
		err = static_id;
		goto out;
	}
	err = btf__load_into_kernel(btf);
	if (err)
		goto out;
	b->btf_fd = dup(btf__fd(btf));
	if (b->btf_fd < 0) {
		err = -errno;
		goto out;
	}
	fi[0] = (struct bpf_func_info){ .insn_off = 0, .type_id = kfi[0].type_id };
	fi[1] = (struct bpf_func_info){ .insn_off = shift, .type_id = static_id };
	for (__u32 k = 1; k < n; k++)
		fi[k + 1] = (struct bpf_func_info){ .insn_off = shift + starts[k],
						    .type_id = kfi[k].type_id };
	b->func_info = fi;
	b->func_info_cnt = n + 1;
	fi = NULL;
	line_records(path, starts, kfi, n, cnt, shift, b);
out:
	free(name);
	btf__free(btf);
	free(kfi);
	free(starts);
	free(fi);
	if (err)
		lb_prog_btf_free(b);
	return err;
}

void lb_prog_btf_free(struct lb_prog_btf *b)
{
	if (b->btf_fd >= 0)
		close(b->btf_fd);
	free(b->func_info);
	free(b->line_info);
	memset(b, 0, sizeof(*b));
	b->btf_fd = -1;
}
