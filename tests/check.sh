#!/bin/bash
# make check, after the -Werror build: shellcheck every shell script, lint every man
# page, verify the systemd units, check that each tool's help, man page and bash
# completion list the same commands, liblb's exports, the include rule, and the
# verifier's ceilings (root).  Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

passed=0
failed=0
result() {	# result NAME STATUS [DETAIL]
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok - $1"
	else
		failed=$((failed + 1))
		echo "not ok - $1"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
	fi
}

# Shell scripts: by name, and by shebang for files without an extension.
mapfile -t scripts < <( {
	ls scripts/*.sh tests/*.sh tests/fuzz/*.sh .ci/run bench/*.sh 2>/dev/null
	grep -lE '^#!.*(bash|/sh)' scripts/* tests/* 2>/dev/null
} | sort -u)
for f in "${scripts[@]}"; do
	[ -f "$f" ] || continue
	out=$(shellcheck -x -s bash "$f" 2>&1)
	result "shellcheck $f" $? "$out"
done
# lbkit-boot is POSIX sh (lbkit.service runs it at boot).
out=$(shellcheck -s sh systemd/lbkit-boot.in 2>&1)
result "shellcheck systemd/lbkit-boot.in" $? "$out"
for f in tests/e2e/*.bats tests/e2e/*.bash completions/*; do
	[ -f "$f" ] || continue
	# Test files and completions share variables across files (sourced, or set by
	# bats and bash-completion): those checks do not apply; warnings and errors do.
	out=$(shellcheck -s bash -S warning -e SC2154,SC2034,SC1090,SC1091,SC2317 "$f" 2>&1)
	result "shellcheck $f" $? "$out"
done

for m in man/*.[0-9]; do
	out=$(mandoc -Tlint -W warning "$m" 2>&1)
	[ -z "$out" ]
	result "mandoc -Tlint $m" $? "$out"
done

# The systemd units, as the Debian package installs them: systemd-analyze verify in
# a root holding the install (it checks that every Exec command is there) and the
# host's targets (the units' default dependencies); a warning fails too.
verify_units() {	# sets out
	out=$(make -s --no-print-directory install DESTDIR="$1" PREFIX=/usr \
		UNITDIR=/lib/systemd/system B="$1/build" 2>&1) || return 1
	mkdir -p "$1/usr/lib/systemd/system"
	cp /lib/systemd/system/*.target /lib/systemd/system/*.slice /lib/systemd/system/*.mount \
		"$1/usr/lib/systemd/system/"
	out=$(cd "$1" && systemd-analyze verify --man=no --root="$1" "$1"/lib/systemd/system/lbkit* 2>&1) &&
		[ -z "$out" ]
}
unit_root=$(mktemp -d)
verify_units "$unit_root"
result "systemd-analyze verify of every unit (lbkit.service, health and metrics)" $? "$out"
rm -rf "$unit_root"

# The command words of one tool, from each of its three sources, sorted.
help_words() {
	"$1" help | sed -n "s/.*$2 \[OPTIONS\] { \(.*\) }.*/\1/p" | head -1 | tr -d '|' | tr -s ' ' '\n' |
		grep -v '^$' | sort
}
man_words() {
	# .TP then .B word, inside .SH COMMANDS only
	awk '/^\.SH /{in_c = ($2 == "COMMANDS")} in_c && prev == ".TP" && /^\.B /{print $2} {prev = $0}' "$1" |
		sort -u
}
completion_words() {
	sed -n 's/.*local commands="\(.*\)".*/\1/p' "$1" | head -1 | tr -s ' ' '\n' | grep -v '^$' | sort
}
for tool in lbctl lbmap lbattach ntc; do
	bin=build/bin/$tool
	
	h=$(help_words "$bin" "$tool")
	m=$(man_words "man/$tool.8" 2>/dev/null)
	c=$(completion_words "completions/$tool" 2>/dev/null)
	[ -n "$h" ] && [ "$h" = "$m" ] && [ "$h" = "$c" ]
	result "$tool: help, man page and completion list the same commands" $? \
		"help: $(echo "$h" | xargs) | man: $(echo "$m" | xargs) | completion: $(echo "$c" | xargs)"
	# Every documented command also answers 'help' without failing.
	bad=""
	for w in $h; do
		"$bin" "$w" help >/dev/null 2>&1 || bad="$bad $w"
	done
	[ -z "$bad" ]
	result "$tool: every command answers 'help'" $? "failed:$bad"
done

# Every keyword of the tools' keyword tables is offered by their completion (the
# tables are declarative: '{ "NAME", CLI_FLAG|CLI_VALUE|CLI_WORDS, FLAGS, ...', exact-only
# spellings such as tc's "prio" aside).
table_keywords() {
	sed -n 's/.*{ "\([^"]*\)", CLI_\(FLAG\|VALUE\|WORDS\), \([^,]*\),.*/\1 \3/p' "$@" |
		grep -v CLI_KW_EXACT | awk '{print $1}' | sort -u
}
for tool in lbctl lbmap lbattach ntc; do
	case $tool in
	lbctl) src=(lbctl/lbctl.c lbctl/lbctl_*.c) ;;
	ntc) src=(ntc/ntc.c) ;;
	*) src=("lbctl/$tool.c") ;;
	esac
	missing=""
	for k in $(table_keywords "${src[@]}"); do
		grep -qwF -- "$k" "completions/$tool" || missing="$missing $k"
	done
	[ -z "$missing" ]
	result "$tool: the completion offers every keyword of the tables" $? "missing:$missing"
done

# Every man page has the sections users look for.
for m in man/*.[0-9]; do
	missing=""
	for s in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^\.SH \"\?$s\"\?\$" "$m" || missing="$missing [$s]"
	done
	case $m in *.3) missing=${missing/ \[EXIT STATUS\]/} ;; esac
	[ -z "$missing" ]
	result "$m has the standard sections" $? "missing:$missing"
done

# liblb's ABI: the shared library exports exactly the functions lb.h declares, and
# lb/liblb.map (the version script) lists the same names.
sorted_lines() { tr ' ' '\n' | grep -v '^$' | sort -u; }
declared=$(echo '#include <lb/lb.h>' |
	clang -Ilb/include -x c - -fsyntax-only -Xclang -ast-dump 2>/dev/null |
	grep -E '^[|`]-FunctionDecl' | grep -v ' static ' |
	sed -n "s/.* \(lb_[a-z0-9_]*\) '.*/\1/p" | sorted_lines)
exported=$(nm -D --defined-only build/lib/liblb.so 2>/dev/null | awk '$2 == "T" {print $3}' |
	sed 's/@.*//' | sorted_lines)
listed=$(sed -n 's/^[[:space:]]*\(lb_[a-z0-9_]*\);.*/\1/p' lb/liblb.map | sorted_lines)
[ -n "$declared" ] && [ "$declared" = "$exported" ] && [ "$declared" = "$listed" ]
result "liblb.so exports exactly what lb.h declares (and lb/liblb.map lists)" $? \
	"$(diff <(echo "$declared") <(echo "$exported") | sed 's/^</only in lb.h:/; s/^>/only exported:/' | grep only)
$(diff <(echo "$declared") <(echo "$listed") | sed 's/^</not in liblb.map:/; s/^>/only in liblb.map:/' | grep -E 'only|not in')"
soname=$(readelf -d build/lib/liblb.so 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = liblb.so.0 ]
result "liblb.so has the soname liblb.so.0" $? "soname: $soname"

# The include rule: tools and programs see only the installed headers (and the CLI
# layer); liblb's private headers are not on their include path, so including one
# fails the build.  Proven for each tool with the very command make compiles its
# source with (make -n), run on a probe: the probe builds including <lb/lb.h>, and
# including any header of lb/ fails for want of the file.  And no source reaches
# around the rule with a relative path.
probe=$(mktemp -d)
for src in lbctl/lbctl.c lbctl/lbmap.c lbctl/lbattach.c ntc/ntc.c; do
	obj=build/obj/${src%.c}.o
	cmd=$(make -s -n -W "$src" "$obj" 2>/dev/null | grep -F -e " -c $src -o $obj")
	cmd=${cmd/ -c $src -o $obj/ -c $probe/probe.c -o $probe/probe.o}
	bad=""
	echo '#include <lb/lb.h>' >"$probe/probe.c"
	if [ -z "$cmd" ] || ! eval "$cmd" 2>/dev/null; then
		bad=" (no command, or the probe fails with the public header: $cmd)"
	fi
	for h in lb/*.h; do
		echo "#include \"${h#lb/}\"" >"$probe/probe.c"
		if out=$(eval "$cmd" 2>&1) || [[ $out != *"No such file"* ]]; then
			bad="$bad ${h#lb/}"
		fi
	done
	[ -z "$bad" ]
	result "$src, compiled as make compiles it, cannot include liblb's private headers" $? \
		"included:$bad"
done
rm -rf "$probe"
sneaky=$(grep -nE '#include "(\.\./)+(lb|bpf)/' lbctl ntc bpf examples bench tests/datapath -r 2>/dev/null)
[ -z "$sneaky" ]
result "no source includes a private header by a relative path" $? "$sneaky"

# Every header of bpf/lib/ compiles alone, with the flags bpf/ is built with: each
# includes what it uses, so none depends on where a program includes it.
read -ra bpf_cflags <<<"$(make -s --no-print-directory print-bpf-cflags WERROR=-Werror)"
for h in bpf/lib/*.h; do
	out=$(echo "#include \"$PWD/$h\"" | clang "${bpf_cflags[@]}" -x c -c -o /dev/null - 2>&1)
	result "$h compiles alone" $? "$out"
done

# The verifier's ceilings: every program of build/bpf/ loads, and the verifier walks
# no more of it than tests/verifier-ceilings allows (a change creeping toward the
# verifier's limit fails here, not on a user's kernel).
out=$(build/tests/verifier tests/verifier-ceilings build/bpf/*.bpf.o 2>&1 >/dev/null)
result "every BPF program verifies within its ceiling (tests/verifier-ceilings)" $? "$out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
