#!/usr/bin/env bats
# make install: the files land where they belong, the installed tools work with
# their installed BPF objects, and liblb builds into a program with pkg-config.

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load helpers

setup() {
	lbt_setup
	lbt_topo
	INST=$T/inst
	PFX=$INST/usr/local
	# From the repository root, as a packager would.
	if ! (cd "$LB_REPO" && make install DESTDIR="$INST" PREFIX=/usr/local) >"$T/make.log" 2>&1; then
		echo "make install failed:" >&2
		tail -20 "$T/make.log" >&2
		return 1
	fi
}

teardown() {
	lbt_teardown
}

@test "make install DESTDIR: tools, BPF objects, headers, libraries, pkg-config, man pages, completions, units" {
	local f missing=()
	for f in sbin/lbattach sbin/lbctl sbin/lbmap sbin/ntc lib/lbkit/lbkit-boot; do
		[ -f "$PFX/$f" ] && [ -x "$PFX/$f" ] || missing+=("$f (executable)")
	done
	for f in lib/lbkit/lb_datapath.bpf.o include/lb/lb.h include/lb/lb_abi.h lib/liblb.a \
		lib/liblb.so lib/liblb.so.0 lib/pkgconfig/liblb.pc lib/systemd/system/lbkit.service \
		lib/systemd/system/lbkit-health.timer lib/systemd/system/lbkit-metrics.timer \
		share/doc/lbkit/examples/attach share/doc/lbkit/examples/rules; do
		[ -e "$PFX/$f" ] || missing+=("$f")
	done
	# the real shared object behind the symlinks, and its soname
	local so
	so=$(readlink -f "$PFX/lib/liblb.so")
	[[ $so == "$PFX"/lib/liblb.so.* ]] && [ -f "$so" ] || missing+=("lib/liblb.so.VERSION")
	readelf -d "$so" | grep -q 'SONAME.*\[liblb\.so\.0\]' || missing+=("soname liblb.so.0")
	# every man page and every completion of the tree
	local n=0
	for f in "$LB_REPO"/man/*.[0-9]; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		[ -f "$PFX/share/man/man${f##*.}/${f##*/}" ] || missing+=("share/man/man${f##*.}/${f##*/}")
	done
	[ "$n" -gt 0 ] || missing+=("man pages (none in man/)")
	[ -f "$LB_REPO/man/lbattach.8" ] || missing+=("man/lbattach.8 in the tree")
	n=0
	for f in "$LB_REPO"/completions/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		[ -f "$PFX/share/bash-completion/completions/${f##*/}" ] ||
			missing+=("share/bash-completion/completions/${f##*/}")
	done
	[ "$n" -gt 0 ] || missing+=("completions (none in completions/)")
	if [ "${#missing[@]}" -gt 0 ]; then
		printf 'missing after make install: %s\n' "${missing[@]}" >&2
		(cd "$INST" && find . | sort) >&2
		false
	fi
	# Nothing landed outside PREFIX, and nothing leaked into the real /usr/local.
	run find "$INST" -mindepth 1 -maxdepth 2 ! -path "$INST/usr" ! -path "$INST/usr/local"
	assert_eq "$output" "" "installed outside /usr/local"
	# Headers are readable, not executable; the .pc points at the real prefix.
	assert_eq "$(stat -c %a "$PFX/include/lb/lb.h")" 644 "mode of lb.h"
	assert_eq "$(PKG_CONFIG_PATH=$PFX/lib/pkgconfig pkg-config --variable=prefix liblb)" /usr/local \
		"prefix in liblb.pc"
	# The units run what was installed under PREFIX.
	assert_eq "$(sed -n 's/^ExecStart=//p' "$PFX/lib/systemd/system/lbkit.service")" \
		"/usr/local/lib/lbkit/lbkit-boot start" "ExecStart of lbkit.service"
	assert_eq "$(sed -n 's/^ExecStart=//p' "$PFX/lib/systemd/system/lbkit-health.service")" \
		"/usr/local/sbin/lbctl health check" "ExecStart of lbkit-health.service"
	# The installed tools run and say who they are.
	run "$PFX/sbin/lbattach" -V
	assert_status 0
	[[ $output == "lbattach lbkit "* ]] || { echo "-V: $output" >&2; false; }
}

@test "installed lbattach attaches with its installed BPF objects (LB_BPF_DIR unset, cwd outside the repo)" {
	cd "$T"
	run --separate-stderr lb_ns "$NS_L" env -u LB_BPF_DIR "$PFX/sbin/lbattach" -P "$ROOT" attach dev "$DEV_L"
	assert_status 0
	assert_no_stderr
	run --separate-stderr lb_ns "$NS_L" env -u LB_BPF_DIR "$PFX/sbin/lbattach" -P "$ROOT" show
	assert_status 0
	[[ $output =~ ^dev\ $DEV_L\ tc-ingress\ mode\ tcx\ prog\ lb_tc_ingress\ id\ [0-9]+\ link\ [0-9]+$ ]] ||
		{ echo "show: $output" >&2; false; }
	lbt_ping "$NS_C" "$IP_L" 3
	run --separate-stderr lb_ns "$NS_L" "$PFX/sbin/lbctl" -P "$ROOT" -j stats
	assert_status 0
	assert_eq "$(json_get 'j[0]["counters"]["icmp"]' <<<"$output")" '{"packets": 3, "bytes": 294}' \
		"counters read by the installed lbctl"

	# Proof that the object came from PREFIX/lib/lbkit: without it, the installed
	# tool finds none (unless the host has a real install in /usr/local).
	mv "$PFX/lib/lbkit" "$PFX/lib/lbkit.away"
	local second=$T/second
	lbt_add_root "$second"
	run --separate-stderr lb_ns "$NS_L" env -u LB_BPF_DIR "$PFX/sbin/lbattach" -P "$second" attach dev "$DEV_L" xdp
	if [ -e /usr/local/lib/lbkit/lb_datapath.bpf.o ]; then
		assert_status 0
	else
		assert_status 1
		assert_err_line lbattach "lb_datapath\.bpf\.o.*LB_BPF_DIR"
	fi
	# LB_BPF_DIR is looked at first
	lb_ns "$NS_L" "$LBATTACH" -P "$second" destroy 2>/dev/null || true
	run --separate-stderr lb_ns "$NS_L" env LB_BPF_DIR="$PFX/lib/lbkit.away" \
		"$PFX/sbin/lbattach" -P "$second" attach dev "$DEV_L" tc egress
	assert_status 0
	assert_no_stderr
}

# build_prog OUT [static|shared]: compile the test program against the installed
# header and library, with the flags pkg-config gives for the installed liblb.pc.
build_prog() {
	local flags
	cat >"$T/prog.c" <<-'EOF'
		#include <stdio.h>
		#include <lb.h>

		int main(int argc, char **argv)
		{
			struct lb_open_opts opts = { .pin_root = argv[1] };
			struct lb_ctx *ctx = NULL;
			int err = lb_open(&ctx, &opts);

			printf("%d %s %u %s\n", err, ctx ? lb_pin_root(ctx) : "-",
			       lb_found_abi_version(ctx), lb_hook_name(LB_HOOK_XDP));
			lb_close(ctx);
			return err ? 1 : 0;
		}
	EOF
	if [ "$2" = static ]; then
		flags=$(PKG_CONFIG_PATH=$PFX/lib/pkgconfig pkg-config --define-variable=prefix="$PFX" \
			--cflags --libs --static liblb)
		# -llb would pick liblb.so when both are there: name the archive.
		flags=${flags/-llb/-l:liblb.a}
	else
		flags=$(PKG_CONFIG_PATH=$PFX/lib/pkgconfig pkg-config --define-variable=prefix="$PFX" \
			--cflags --libs liblb)
	fi
	[[ $flags == *"-I$PFX/include"* ]] || { echo "cflags: $flags" >&2; return 1; }
	# shellcheck disable=SC2086 # pkg-config output is a word list
	cc -Wall -Werror -o "$1" "$T/prog.c" $flags
}

@test "liblb: a C program built with pkg-config --static against the installed liblb.a" {
	build_prog "$T/prog" static
	# statically linked liblb: no liblb.so needed at run time
	if readelf -d "$T/prog" | grep NEEDED | grep -q liblb; then
		readelf -d "$T/prog" >&2
		false
	fi
	local abi
	abi=$("$LBATTACH" -V | sed -n 's/.*(abi \([0-9]*\))$/\1/p')

	# a pin root where nothing was loaded: -ENOENT, and nothing is created
	local fresh=$T/fresh
	lbt_add_root "$fresh"
	run "$T/prog" "$fresh"
	assert_status 1
	assert_eq "$output" "-2 $fresh 0 xdp" "lb_open on a fresh root"
	[ ! -e "$fresh" ] || { echo "lb_open without LB_OPEN_CREATE created $fresh" >&2; false; }

	# a root the installed tools have set up
	lb_ns "$NS_L" "$PFX/sbin/lbattach" -P "$ROOT" attach dev "$DEV_L"
	run "$T/prog" "$ROOT"
	assert_status 0
	assert_eq "$output" "0 $ROOT $abi xdp" "lb_open on the attached root"
}

@test "liblb: the same program linked against the installed liblb.so" {
	build_prog "$T/prog" shared
	readelf -d "$T/prog" | grep NEEDED | grep -q 'liblb\.so\.0' ||
		{ readelf -d "$T/prog" >&2; false; }
	lb_ns "$NS_L" "$PFX/sbin/lbattach" -P "$ROOT" attach dev "$DEV_L"
	run env LD_LIBRARY_PATH="$PFX/lib" "$T/prog" "$ROOT"
	assert_status 0
	[[ $output == "0 $ROOT "* ]] || { echo "prog: $output" >&2; false; }
}
