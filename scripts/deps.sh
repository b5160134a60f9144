#!/bin/bash
# Install every build and test dependency from Debian packages.  Idempotent and
# fast when all are present: apt runs only for what is missing.
set -euo pipefail

pkgs=(
	# build
	make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev libmnl-dev pkg-config bpftool
	# tests and checks (libclang-rt-14-dev: libFuzzer and the sanitizers for clang)
	libclang-rt-14-dev bats iproute2 iputils-ping ethtool util-linux procps python3 jq mandoc shellcheck
	bash-completion
	# traffic tools used by tests, demo and benchmarks
	socat curl iperf3 netcat-openbsd tcpdump nftables netsniff-ng hyperfine gnuplot-nox
	# operations: promtool for metrics, systemd-analyze for the units, Debian packaging
	prometheus systemd debhelper dpkg-dev fakeroot lintian
)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
