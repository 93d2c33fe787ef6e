#!/bin/sh
# lgwan-agent.sh — updates the products of an LGWAN-side Linux host from the LGWAN repository.
#
# For products whose own updater cannot be pointed at the repository. It reports the
# installed versions (a check-in), asks what to install, downloads with resume, verifies
# the SHA-256 the repository lists (the repository only serves files whose vendor signature
# it verified), installs with the command configured per product, and logs every step.
#
# Usage: lgwan-agent.sh [config file]   (default /etc/lgwan-agent.conf)
# Needs: POSIX sh, curl, sha256sum. Run from cron or a systemd timer, e.g. hourly.
#
# The config file is sourced and sets:
#   LGWAN_REPOSITORY=http://lgwan-mirror.example:8080
#   LGWAN_STATE_DIR=/var/lib/lgwan-agent          (agent id, downloads, log)
#   LGWAN_PRODUCTS — one product per line: id|platform|locale|detect command|install command
#     detect prints the installed version (nothing if not installed);
#     install runs with {file} replaced by the verified file and {version} by its version.
set -eu

config=${1:-/etc/lgwan-agent.conf}
# shellcheck disable=SC1090
. "$config"
: "${LGWAN_REPOSITORY:?set LGWAN_REPOSITORY in $config}"
: "${LGWAN_STATE_DIR:=/var/lib/lgwan-agent}"
: "${LGWAN_PRODUCTS:?set LGWAN_PRODUCTS in $config}"

downloads="$LGWAN_STATE_DIR/downloads"
log_file="$LGWAN_STATE_DIR/agent.log"
mkdir -p "$downloads"

log() {
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$log_file"
  if command -v logger >/dev/null 2>&1; then logger -t lgwan-agent -- "$*" 2>/dev/null || true; fi
}

# A stable id per host, kept in the state folder.
id_file="$LGWAN_STATE_DIR/agent-id"
if [ ! -s "$id_file" ]; then
  if [ -r /proc/sys/kernel/random/uuid ]; then cat /proc/sys/kernel/random/uuid >"$id_file"; else printf '%s-%s\n' "$(hostname)" "$(date +%s)" >"$id_file"; fi
fi
agent_id=$(tr -cd 'A-Za-z0-9._:-' <"$id_file")
# Shown on the repository's pages beside the id; characters the check-in refuses are left out.
host_name=$(hostname 2>/dev/null | tr -cd 'A-Za-z0-9._-' | cut -c1-253)
[ -n "$host_name" ] || host_name=unknown

# Only characters the check-in accepts; anything else makes a product's version unknown.
clean() { printf '%s' "$1" | tr -cd 'A-Za-z0-9._+~:-'; }

inventory_json() {
  first=1
  printf '{"agentId":"%s","agentVersion":"1.0.0","os":"linux","hostname":"%s","installed":[' "$agent_id" "$host_name"
  printf '%s\n' "$LGWAN_PRODUCTS" | while IFS='|' read -r product platform locale detect install; do
    [ -n "$product" ] || continue
    version=$(clean "$(sh -c "$detect" 2>/dev/null | head -n 1)")
    [ -n "$version" ] || continue
    [ "$first" = 1 ] || printf ','
    first=0
    printf '{"product":"%s","version":"%s","platform":"%s","locale":"%s"}' "$(clean "$product")" "$version" "$(clean "$platform")" "$(clean "$locale")"
  done
  printf ']}'
}

check_in() {
  inventory_json >"$LGWAN_STATE_DIR/checkin.json"
  curl -fsS --max-time 60 -H 'Content-Type: application/json' -H 'Accept: text/tab-separated-values' \
    --data-binary "@$LGWAN_STATE_DIR/checkin.json" "$LGWAN_REPOSITORY/api/v1/agent/checkin"
}

install_command_of() {
  printf '%s\n' "$LGWAN_PRODUCTS" | while IFS='|' read -r product platform locale detect install; do
    if [ "$product" = "$1" ]; then printf '%s\n' "$install"; break; fi
  done
}

actions=$(check_in) || { log "check-in failed: $LGWAN_REPOSITORY unreachable or refused"; exit 1; }
tab=$(printf '\t')
unknown_flag="$LGWAN_STATE_DIR/unknown-products"
rm -f "$unknown_flag"
printf '%s\n' "$actions" | while IFS="$tab" read -r product installed version file sha256 size url; do
  [ -n "$product" ] || continue
  if [ "$product" = '!unknown-product' ]; then
    # The repository does not know this id: a typo in LGWAN_PRODUCTS, or a product not in its catalog.
    log "$installed: the repository has no product with this id; check LGWAN_PRODUCTS in $config (ids are listed on the repository's catalog page)"
    printf 'lgwan-agent: unknown product id "%s" in %s\n' "$installed" "$config" >&2
    : >"$unknown_flag"
    continue
  fi
  case "$sha256" in *[!0-9a-f]* | "") log "$product: malformed answer, skipped"; continue ;; esac
  target="$downloads/$sha256"
  part="$target.part"
  log "$product: $installed -> $version, downloading $file ($size bytes)"
  # -C - resumes a partial download left by an earlier run.
  if ! curl -fsS --max-time 3600 -C - -o "$part" "$LGWAN_REPOSITORY$url"; then
    log "$product: download of $file failed; will resume next run"
    continue
  fi
  actual=$(sha256sum "$part" | cut -d' ' -f1)
  if [ "$actual" != "$sha256" ]; then
    log "$product: SHA-256 mismatch for $file (got $actual, expected $sha256); file discarded, nothing installed"
    rm -f "$part"
    continue
  fi
  mv "$part" "$target"
  command=$(install_command_of "$product")
  command=$(printf '%s' "$command" | sed -e "s|{file}|$target|g" -e "s|{version}|$version|g")
  if sh -c "$command" >>"$log_file" 2>&1; then
    log "$product: installed $version"
    rm -f "$target"
  else
    log "$product: install command failed for $version"
  fi
done

# Report what is installed now, so coverage sees the update without waiting an hour.
check_in >/dev/null || log "second check-in failed"
# Exit 2: the run worked, but the config names a product the repository does not know.
if [ -e "$unknown_flag" ]; then rm -f "$unknown_flag"; exit 2; fi
exit 0
