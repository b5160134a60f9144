#!/usr/bin/env bats
# The Debian packages: make deb builds lbkit, liblb0 and liblb-dev (lintian clean at
# error level, or make deb fails); their contents; unpacked by dpkg into a private
# root, the packaged lbkit-boot and tools balance a VIP in a namespace, and a program
# builds with the packaged liblb.pc and runs on the packaged liblb.so.0.

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load lb_helpers

DEBS=$LB_REPO/build/deb

# Once for the file: the packages (about 20 s, lintian included).
setup_file() {
	if ! (cd "$LB_REPO" && make deb) >"$BATS_FILE_TMPDIR/deb.log" 2>&1; then
		echo "make deb failed:" >&2
		tail -30 "$BATS_FILE_TMPDIR/deb.log" >&2
		return 1
	fi
}

setup() {
	lbt_setup
}

teardown() {
	lb_teardown
}

# deb_files PKG: the paths a package holds (symlinks as "PATH -> TARGET"), one a line.
deb_files() {
	dpkg-deb -c "$DEBS/$1"_*_*.deb | awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ *\./, ""); print }'
}

# assert_holds PKG PATH...: every PATH is in the package.
assert_holds() {
	local pkg=$1 files f missing=()
	shift
	files=$(deb_files "$pkg")
	for f in "$@"; do
		grep -qxF -- "$f" <<<"$files" || missing+=("$f")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	printf '%s lacks %s\n' "$pkg" "${missing[@]}" >&2
	echo "$files" >&2
	return 1
}

# deb_unpack ROOT PKG...: dpkg unpacks the packages into ROOT, a fresh root with its
# own dpkg database (registered, files checked against each other's; not configured:
# the maintainer scripts would run chrooted into ROOT, which has no shell).
deb_unpack() {
	local root=$1 pkg debs=()
	shift
	mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info" || return 1
	touch "$root/var/lib/dpkg/status"
	for pkg in "$@"; do
		debs+=("$(echo "$DEBS/$pkg"_*_*.deb)")
	done
	dpkg --root="$root" --force-depends --unpack "${debs[@]}" >"$T/dpkg.log" 2>&1 ||
		{ cat "$T/dpkg.log" >&2; return 1; }
}

@test "make deb: lbkit, liblb0 and liblb-dev with their files, the soname link, shlibs and the units' scripts" {
	local f tools=() units=() man=()
	for f in lbattach lbctl lbmap ntc; do
		tools+=("/usr/sbin/$f" "/usr/share/bash-completion/completions/$f" "/usr/share/man/man8/$f.8.gz")
	done
	for f in lbkit.service lbkit-health.service lbkit-health.timer lbkit-metrics.service \
		lbkit-metrics.timer; do
		units+=("/lib/systemd/system/$f")
	done
	assert_holds lbkit "${tools[@]}" "${units[@]}" /usr/share/man/man7/lbkit.7.gz \
		/usr/lib/lbkit/lb_datapath.bpf.o /usr/lib/lbkit/lbkit-boot \
		/usr/lib/lbkit/examples/ratelimit.bpf.o /usr/share/doc/lbkit/examples/attach \
		/usr/share/doc/lbkit/examples/rules /usr/share/doc/lbkit/examples/default
	assert_holds liblb0 /usr/lib/liblb.so.0.1.0 "/usr/lib/liblb.so.0 -> liblb.so.0.1.0"
	assert_holds liblb-dev "/usr/lib/liblb.so -> liblb.so.0" /usr/lib/liblb.a \
		/usr/lib/pkgconfig/liblb.pc /usr/include/lb/lb.h /usr/include/lb/lb_abi.h \
		/usr/include/lb/lb_chain.h /usr/share/man/man3/liblb.3.gz
	# Nothing of the library in lbkit, nothing of the tools in the library packages.
	run deb_files lbkit
	[[ $output != *liblb.so* && $output != */include/* ]] || { echo "$output" >&2; false; }
	run deb_files liblb0
	[[ $output != */sbin/* ]] || { echo "$output" >&2; false; }

	# Programs linked against liblb depend on liblb0.
	run dpkg-deb -I "$DEBS"/liblb0_*.deb shlibs
	assert_status 0
	[[ $output =~ ^liblb\ 0\ liblb0( \(.*\))?$ ]] || { echo "shlibs: $output" >&2; false; }
	# lbkit.service is enabled on installation, but neither started, stopped nor
	# restarted by the package's scripts; the timers are not enabled (and
	# deb-systemd-invoke starts no disabled unit).
	local scripts=$T/scripts
	dpkg-deb -e "$DEBS"/lbkit_*.deb "$scripts"
	grep -q "deb-systemd-helper enable 'lbkit.service'" "$scripts/postinst"
	run grep -h "deb-systemd-invoke.*'lbkit\.service'" "$scripts"/p*
	assert_status 1
	run grep -c "if deb-systemd-helper debian-installed 'lbkit-\(health\|metrics\).timer'" \
		"$scripts/postinst"
	assert_eq "$output" 2 "timers enabled only where they were before"
}

@test "the unpacked packages: lbkit-boot attaches with the packaged tools and objects, a VIP balances, stop clears" {
	local R=$T/root d
	deb_unpack "$R" lbkit liblb0 liblb-dev
	run dpkg --root="$R" -S /usr/sbin/lbctl /usr/lib/liblb.so.0
	assert_eq "$output" $'lbkit: /usr/sbin/lbctl\nliblb0: /usr/lib/liblb.so.0' "owners in the root's dpkg database"
	lb_topo
	lb_http_servers

	mkdir -p "$T/etc"
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		echo "attach dev $d tc ingress"
	done >"$T/etc/attach"
	{
		echo "service add $VIP4 port 80 proto tcp sched rr mode dnat"
		for d in 1 2 3; do
			echo "endpoint add $(b_ip4 $d) port 8080 weight 1 service $VIP4 port 80 proto tcp"
		done
	} >"$T/etc/rules"
	lb_rules_end "$T/etc/rules"

	# The unit's command, as installed, on the installed script and tools (they find
	# their BPF objects beside them, in ROOT/usr/lib/lbkit); cwd outside the checkout.
	local start
	start=$(sed -n 's/^ExecStart=//p' "$R/lib/systemd/system/lbkit.service")
	assert_eq "$start" "/usr/lib/lbkit/lbkit-boot start" "ExecStart of the packaged unit"
	cd "$T"
	# shellcheck disable=SC2086 # words, as systemd splits them
	run --separate-stderr lb_ns "$NS_L" env -u LB_BPF_DIR LBKIT_CONFIG_DIR="$T/etc" \
		LB_PIN_ROOT="$ROOT" LBKIT_SBINDIR="$R/usr/sbin" "$R"$start
	assert_status 0
	assert_no_stderr
	run --separate-stderr lb_ns "$NS_L" "$R/usr/sbin/lbattach" -P "$ROOT" show
	assert_status 0
	assert_eq "$(grep -c " tc-ingress mode .* prog lb_tc_ingress " <<<"$output")" 4 "attachments: $output"
	run --separate-stderr lb_ns "$NS_L" "$R/usr/sbin/lbctl" -P "$ROOT" service show
	assert_status 0
	[[ ${lines[0]} == "tcp $VIP4:80 sched rr mode dnat"* ]] || { echo "service show: $output" >&2; false; }
	assert_rr_rotation "$(lb_curls 6 "http://$VIP4:80/")"

	run --separate-stderr lb_ns "$NS_L" env LBKIT_CONFIG_DIR="$T/etc" LB_PIN_ROOT="$ROOT" \
		LBKIT_SBINDIR="$R/usr/sbin" "$R/usr/lib/lbkit/lbkit-boot" stop
	assert_status 0
	assert_eq "$(find "$ROOT" -mindepth 1 ! -name '*.debug' -printf '%P ')" "" "pins after stop"
}

@test "liblb-dev: a program built with the packaged liblb.pc runs on the packaged liblb.so.0" {
	local R=$T/root flags
	deb_unpack "$R" liblb0 liblb-dev
	cat >"$T/prog.c" <<-'EOF'
		#include <stdio.h>
		#include <lb.h>

		int main(void)
		{
			printf("%s\n", lb_hook_name(LB_HOOK_XDP));
			return 0;
		}
	EOF
	flags=$(PKG_CONFIG_PATH=$R/usr/lib/pkgconfig pkg-config --define-variable=prefix="$R/usr" \
		--cflags --libs liblb)
	[[ $flags == *"-I$R/usr/include"* ]] || { echo "pkg-config: $flags" >&2; false; }
	# shellcheck disable=SC2086 # pkg-config output is a word list
	cc -Wall -Werror -o "$T/prog" "$T/prog.c" $flags
	readelf -d "$T/prog" | grep -q 'NEEDED.*\[liblb\.so\.0\]'
	run env LD_LIBRARY_PATH="$R/usr/lib" ldd "$T/prog"
	[[ $output == *"liblb.so.0 => $R/usr/lib/liblb.so.0"* ]] || { echo "ldd: $output" >&2; false; }
	run env LD_LIBRARY_PATH="$R/usr/lib" "$T/prog"
	assert_status 0
	assert_eq "$output" xdp "the program's output"
}
