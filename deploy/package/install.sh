#!/bin/sh
# Installs this tarball on a Linux host without dpkg (Node.js 20.19 or newer must be on PATH):
#   sudo sh install.sh
# The program goes to /opt/lgwan-mirror (replaced as a whole, the old one kept as .previous
# until the next install), the command to /usr/bin/lgwan-mirror, the units to
# /etc/systemd/system, and the example config to /etc/lgwan-mirror unless one is there.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "lgwan-mirror needs Node.js 20.19 or newer on PATH" >&2; exit 1; }
new_version="$(node -p 'require(process.argv[1]).version' "$here/lgwan-mirror/package.json")"
if [ -f /opt/lgwan-mirror/package.json ]; then
  old_version="$(node -p 'require(process.argv[1]).version' /opt/lgwan-mirror/package.json)"
  if [ "${LGWAN_MIRROR_ALLOW_DOWNGRADE:-}" != 1 ] && ! node -e 'const c=(v)=>v.split(/[.-]/).map(Number); const [a,b]=[c(process.argv[1]),c(process.argv[2])]; for (let i=0;i<3;i++){ if(a[i]!==b[i]) process.exit(a[i]>b[i]?1:0);} ' "$old_version" "$new_version"; then
    echo "lgwan-mirror: refusing to downgrade from $old_version to $new_version" >&2; exit 1
  fi
fi
rm -rf /opt/lgwan-mirror.new /opt/lgwan-mirror.previous
cp -a "$here/lgwan-mirror" /opt/lgwan-mirror.new
[ -d /opt/lgwan-mirror ] && mv /opt/lgwan-mirror /opt/lgwan-mirror.previous
mv /opt/lgwan-mirror.new /opt/lgwan-mirror
ln -sfn /opt/lgwan-mirror/bin/lgwan-mirror.js /usr/bin/lgwan-mirror
install -d /etc/systemd/system
install -m 0644 /opt/lgwan-mirror/deploy/systemd/*.service /etc/systemd/system/
install -d -m 0755 /etc/lgwan-mirror
[ -f /etc/lgwan-mirror/lgwan-mirror.yaml ] || install -m 0644 /opt/lgwan-mirror/deploy/lgwan-mirror.example.yaml /etc/lgwan-mirror/lgwan-mirror.yaml
[ -d /etc/lgwan-mirror/catalogs ] || cp -a /opt/lgwan-mirror/catalogs /etc/lgwan-mirror/catalogs
sh /opt/lgwan-mirror/deploy/package/setup-host.sh
echo "lgwan-mirror $new_version installed in /opt/lgwan-mirror"
