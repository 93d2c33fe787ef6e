#!/bin/sh
# Host set-up shared by the Debian package (postinst) and the tarball's install.sh: the
# service users and the folders the systemd units name. Idempotent; touches no data.
#   /var/lib/lgwan-mirror                 data roots (internet/ and lgwan/), writable by the services
#   /var/spool/lgwan-mirror/outbox        internet side writes bundles here; the appliance carries them
#   /var/spool/lgwan-mirror/inbox         LGWAN side: where bundles arrive (read only for the service)
#   /var/lib/lgwan-mirror/releases        internet side: where an admin drops lgwan-mirror releases (root's; the service reads it)
set -eu
nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false
getent group lgwan-mirror >/dev/null || groupadd --system lgwan-mirror
getent passwd lgwan-mirror >/dev/null || useradd --system --gid lgwan-mirror --home-dir /var/lib/lgwan-mirror --no-create-home --shell "$nologin" lgwan-mirror
# The UDP diode receiver writes the inbox as a user of its own (the LGWAN service only reads it).
getent passwd lgwan-mirror-receiver >/dev/null || useradd --system --gid lgwan-mirror --home-dir /var/lib/lgwan-mirror --no-create-home --shell "$nologin" lgwan-mirror-receiver
install -d -m 0750 -o lgwan-mirror -g lgwan-mirror /var/lib/lgwan-mirror
[ -d /var/lib/lgwan-mirror/releases ] || install -d -m 0755 /var/lib/lgwan-mirror/releases
install -d -m 0755 /var/spool/lgwan-mirror
[ -d /var/spool/lgwan-mirror/outbox ] || install -d -m 0750 -o lgwan-mirror -g lgwan-mirror /var/spool/lgwan-mirror/outbox
[ -d /var/spool/lgwan-mirror/inbox ] || install -d -m 0750 -o lgwan-mirror-receiver -g lgwan-mirror /var/spool/lgwan-mirror/inbox
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
