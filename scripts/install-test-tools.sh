#!/usr/bin/env bash
# Installs the Debian packages whose real programs the test suite drives (run by `npm test`
# before the suite, and by CI). Only missing packages are installed; nothing when all are there.
#   clamav-freshclam  the real freshclam against the repository
#   openssl           test certificates (HTTPS for winget)
#   (shellcheck)      checks the sh agent
#   gpgv, gnupg       detached OpenPGP signatures, Debian's keyring
#   chromium          the status page in a real browser (driven by playwright-core)
#   iproute2, nftables  the UDP diode tests between network namespaces, with loss on purpose
#   nginx-light       the shipped edge-cache configuration, with the real clients through it
#   postgresql        the PostgreSQL inventory store, against a real server started per test file
#   osslsigncode      Authenticode: the verifier runs it, and the tests sign MSIs with it
#   msitools, wixl    reading the version inside an MSI; building real MSIs for the tests
#   dnsmasq-base      a real DNS server for ClamAV's TXT version record
#   xz-utils          MAR entries (xz with Mozilla's x86 BCJ filter): the build ID inside a complete MAR
#   slapd             a real OpenLDAP server started per test file: directory sign-in for the admin console
set -euo pipefail
packages=(clamav-freshclam openssl shellcheck gpgv gnupg chromium iproute2 nftables nginx-light postgresql osslsigncode msitools wixl dnsmasq-base xz-utils slapd)
missing=()
for package in "${packages[@]}"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "The tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them as root:  apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages for the tests: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
