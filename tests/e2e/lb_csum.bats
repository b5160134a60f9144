#!/usr/bin/env bats
# Checksums through the tc path as the skbs come: the datapath writes them inline
# for every kind of skb (bpf/lib/nat.h, csum.h).  A sender with checksum offload on
# (the veth default) hands over CHECKSUM_PARTIAL skbs, whose L4 field holds only
# the pseudo header's sum; a sender with it off hands over whole checksums.  Here
# the LB's own veths have offload off, so the kernel finishes a partial checksum
# in software before the peer gets the packet, and every receiver verifies every
# checksum: a wrong one is dropped and counted (InCsumErrors) and the transfer
# fails.  CHECKSUM_COMPLETE skbs (no veth makes them) are checked by
# tests/datapath/nat_test (checksum_complete).

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

teardown() {
	lb_teardown
}

# csum_errors NS: the TCP, UDP and UDPv6 InCsumErrors counters of NS, summed.
csum_errors() {
	lb_ns "$1" cat /proc/net/snmp /proc/net/snmp6 | awk '
		/^(Tcp|Udp):/ {
			if (!($1 in col)) {
				col[$1] = 0
				for (i = 2; i <= NF; i++) if ($i == "InCsumErrors") col[$1] = i
				next
			}
			if (col[$1]) sum += $(col[$1])
		}
		/^Udp6InCsumErrors/ { sum += $2 }
		END { print sum + 0 }'
}

# offload_off NS DEV...: checksums computed in software on DEV's way out.
offload_off() {
	local ns=$1 d
	shift
	for d in "$@"; do
		lb_ns "$ns" ethtool -K "$d" tx off >/dev/null || return 1
	done
}

# through MODE: services of MODE (dnat, fullnat) on both families, TCP 80 -> 8080
# and UDP 53 -> 9000 on backend 1; 8 MiB fetched over each TCP VIP arrive intact,
# each UDP VIP answers, and nobody counted a bad checksum.
through() {
	local vip ep url udp=53 src=$T/www/b1/bulk.bin
	head -c 8M /dev/urandom >"$src"
	for vip in "$VIP4" "$VIP6"; do
		case $vip in *:*) ep=$(b_ip6 1) url="http://[$vip]/bulk.bin" ;;
		*) ep=$(b_ip4 1) url="http://$vip/bulk.bin" ;; esac
		lbctl_l service add "$vip" port 80 mode "$1"
		lbctl_l endpoint add "$ep" port 8080 service "$vip" port 80
		lbctl_l service add "$vip" port "$udp" proto udp mode "$1"
		lbctl_l endpoint add "$ep" port 9000 service "$vip" port "$udp" proto udp
		lb_ns "$NS_C" curl -sS --connect-timeout 5 --max-time 30 -o "$T/got.bin" "$url"
		assert_eq "$(sha256sum <"$T/got.bin")" "$(sha256sum <"$src")" "sha256 of $url"
		assert_eq "$(lb_udp "$vip" "$udp")" b1 "answer over UDP from $vip"
	done
	assert_eq "$(csum_errors "$NS_C")" 0 "checksum errors counted by the client"
	assert_eq "$(csum_errors "${NS_B[1]}")" 0 "checksum errors counted by backend 1"
}

@test "partial checksums (offload on at both ends), DNAT with a port change: intact, none bad" {
	lb_setup http udp
	offload_off "$NS_L" "$DEV_L" "${DEV_E[1]}"
	through dnat
}

@test "partial checksums, full NAT (addresses and both ports change): intact, none bad" {
	lb_setup http udp
	offload_off "$NS_L" "$DEV_L" "${DEV_E[1]}"
	through fullnat
}

@test "whole checksums (offload off at both ends), DNAT and full NAT: intact, none bad" {
	lb_setup http udp
	offload_off "$NS_L" "$DEV_L" "${DEV_E[1]}"
	offload_off "$NS_C" "$DEV_C"
	offload_off "${NS_B[1]}" "${DEV_B[1]}"
	through dnat
	lbctl_l service flush
	lbctl_l conntrack flush
	through fullnat
}
