#!/usr/bin/env bash
# Makes (once) the fresh Debian 13 root that test/package/install-deb.test.ts installs the
# .deb into: a minbase debootstrap with Debian's nodejs (>= 20.19 in Debian 13), cached
# outside the checkout. The mirror is the one this host's apt already uses. The test itself
# copies this root and runs dpkg inside it without any network (unshare --net chroot).
# Set-up step: run by `npm test` (pretest) and CI; nothing happens when the root is there.
#   LGWAN_MIRROR_TEST_ROOT  where the cached root lives (default /var/cache/lgwan-mirror-test-root)
set -euo pipefail
root="${LGWAN_MIRROR_TEST_ROOT:-/var/cache/lgwan-mirror-test-root}"
suite=trixie
# The marker names what the root holds: a root made with another package list is made again.
marker="$root/.complete-nodejs-ca-certificates-xz-utils"
[ -f "$marker" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "The package test needs a Debian 13 root, made once as root: sudo bash $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
# The Debian mirror this host is configured with (deb822 or one-line sources).
mirror="$(grep -rhoE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -n 1 || true)"
[ -n "$mirror" ] || { echo "No Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
echo "Making the Debian 13 test root in $root from $mirror (once)" >&2
rm -rf "$root.partial"
mkdir -p "$(dirname "$root")"
debootstrap --variant=minbase --include=nodejs,ca-certificates,xz-utils "$suite" "$root.partial" "$mirror" >&2
chroot "$root.partial" apt-get clean
rm -rf "$root"
mv "$root.partial" "$root"
touch "$root/.complete" "$marker"
