#!/bin/sh
# SPDX-License-Identifier: MIT
#
# deps.sh installs the Debian tools the benchmark harness uses when they are
# missing: iproute2 (ip, tc), iperf3, ethtool, iputils-ping. Needs root for
# the install; without root it only lists what is missing.
set -eu
missing=""
for t in ip:iproute2 iperf3:iperf3 ethtool:ethtool ping:iputils-ping; do
	cmd=${t%%:*}
	pkg=${t#*:}
	command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "bench/deps.sh: missing:$missing (run as root to install)" >&2
	exit 1
fi
echo "bench/deps.sh: installing:$missing" >&2
apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
