#!/bin/sh
# lgwan-agent.sh — updates the products of an LGWAN-side Linux host from the LGWAN repository.
#
# For products whose own updater cannot be pointed at the repository. It reports the
# installed versions (a check-in), asks what to install, downloads with resume, verifies
# the SHA-256 the repository lists (the repository only serves files whose vendor signature
# it verified), installs with the command configured per product, and logs every step.
#
# Usage: lgwan-agent.sh [config file]   (default /etc/lgwan-agent.conf)
# Needs: POSIX sh, curl, sha256sum, openssl, od. Run from cron or a systemd timer, e.g. hourly.
#
# The config file is sourced and sets:
#   LGWAN_REPOSITORY=http://lgwan-mirror.example:8080
#   LGWAN_ENROLLMENT_TOKEN=…                       (issued by the admin: console "エージェント", or
#                                                   `lgwan-mirror agents token`; used once, at enrollment)
#   LGWAN_STATE_DIR=/var/lib/lgwan-agent          (agent id and secret, downloads, log)
#   LGWAN_TAGS="pilot"                             (optional: tags a ring may select this host by, space-separated)
#   LGWAN_AD_OU="OU=Servers,DC=city,DC=local"      (optional: the host's OU, for rings that select by AD OU)
#   LGWAN_AD_GROUPS="LGWAN-Pilot;Servers"          (optional: AD computer groups, ;-separated, for rings that select by group)
#   LGWAN_PRODUCTS — one product per line: id|platform|locale|detect command|install command
#     detect prints the installed version (nothing if not installed);
#     install runs with {file} replaced by the verified file and {version} by its version.
#
# What to install and when is the repository's decision: it answers only the updates to
# install now (no window set, inside a maintenance window, or past the approval's deadline)
# and names the ones that wait for the next window ("!wait"); this script obeys. The result
# of each install (installed/failed, exit code, the command's last output line) is reported
# in the next check-in, which is the one right after the installs.
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

# Shown on the repository's pages beside the id; characters the check-in refuses are left out.
host_name=$(hostname 2>/dev/null | tr -cd 'A-Za-z0-9._-' | cut -c1-253)
[ -n "$host_name" ] || host_name=unknown

# Enrollment, once: the admin's token buys this host an id and a secret of its own, kept in
# the state folder (readable by root only). Every check-in is signed with the secret.
id_file="$LGWAN_STATE_DIR/agent-id"
secret_file="$LGWAN_STATE_DIR/agent-secret"
if [ ! -s "$secret_file" ]; then
  : "${LGWAN_ENROLLMENT_TOKEN:?set LGWAN_ENROLLMENT_TOKEN in $config (the admin issues it), so that this host can enroll}"
  token=$(printf '%s' "$LGWAN_ENROLLMENT_TOKEN" | tr -cd 'A-Za-z0-9_-')
  enrollment=$(curl -fsS --max-time 60 -H 'Content-Type: application/json' -H 'Accept: text/tab-separated-values' \
    --data-binary "{\"token\":\"$token\",\"hostname\":\"$host_name\",\"os\":\"linux\"}" "$LGWAN_REPOSITORY/api/v1/agent/enroll") || {
    log "enrollment failed: $LGWAN_REPOSITORY refused the token or is unreachable (ask the admin for a current LGWAN_ENROLLMENT_TOKEN)"
    printf 'lgwan-agent: enrollment at %s failed; check LGWAN_ENROLLMENT_TOKEN in %s\n' "$LGWAN_REPOSITORY" "$config" >&2
    exit 1
  }
  new_id=$(printf '%s\n' "$enrollment" | sed -n 's/^agentId	//p' | tr -cd 'A-Za-z0-9-')
  new_secret=$(printf '%s\n' "$enrollment" | sed -n 's/^secret	//p' | tr -cd 'A-Za-z0-9_-')
  if [ -z "$new_id" ] || [ -z "$new_secret" ]; then log "enrollment answer malformed"; exit 1; fi
  (umask 077 && printf '%s\n' "$new_secret" >"$secret_file.new" && mv "$secret_file.new" "$secret_file")
  printf '%s\n' "$new_id" >"$id_file"
  log "enrolled as agent $new_id"
fi
agent_id=$(tr -cd 'A-Za-z0-9-' <"$id_file")
agent_secret=$(tr -cd 'A-Za-z0-9_-' <"$secret_file")

# Only characters the check-in accepts; anything else makes a product's version unknown.
clean() { printf '%s' "$1" | tr -cd 'A-Za-z0-9._+~:-'; }

# A JSON string of at most $2 bytes of $1: control characters dropped, cut before escaping
# (so no escape is ever cut in half), then \ and " escaped.
json_string() {
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037\177' | cut -c1-"$2" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# Where this host is in Active Directory, from the config (a Linux host rarely asks AD itself).
directory_json() {
  ou_json=''
  # An OU the check-in would refuse (it must look like OU=…,DC=…) is left out rather than sent.
  case "${LGWAN_AD_OU:-}" in
    [A-Za-z]*=*) ou_json="\"ou\":$(json_string "$LGWAN_AD_OU" 1024)" ;;
  esac
  groups_json=''
  group_count=0
  old_ifs=$IFS
  IFS=';'
  for group in ${LGWAN_AD_GROUPS:-}; do
    if [ -z "$group" ] || [ "$group_count" -ge 100 ]; then continue; fi
    group_count=$((group_count + 1))
    groups_json="$groups_json${groups_json:+,}$(json_string "$group" 256)"
  done
  IFS=$old_ifs
  [ -n "$ou_json" ] || [ -n "$groups_json" ] || return 0
  members=$ou_json
  if [ -n "$groups_json" ]; then members="$members${members:+,}\"groups\":[$groups_json]"; fi
  printf ',"directory":{%s}' "$members"
}

# Install results waiting to be reported: product, version, outcome, exit code, message (one per line, tab-separated).
results_file="$LGWAN_STATE_DIR/results.tsv"
results_json() {
  [ -s "$results_file" ] || return 0
  printf ',"results":['
  tab=$(printf '\t')
  # The newest 50 (the check-in takes no more).
  first_result=1
  tail -n 50 "$results_file" | while IFS="$tab" read -r r_product r_version r_outcome r_code r_message; do
    [ "$first_result" = 1 ] || printf ','
    first_result=0
    case "$r_code" in '' | *[!0-9-]*) r_code=-1 ;; esac
    printf '{"product":"%s","version":"%s","outcome":"%s","exitCode":%s,"message":%s}' "$(clean "$r_product")" "$(clean "$r_version")" "$r_outcome" "$r_code" "$(json_string "$r_message" 300)"
  done
  printf ']'
}

# Remembers the outcome of one install for the next check-in.
record_result() {
  message=$(printf '%s' "$5" | tr '\t\n\r' '   ' | cut -c1-300)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$message" >>"$results_file"
}

inventory_json() {
  first=1
  # Only what the check-in accepts: up to 32 tags of letters, digits and . _ - (starting with a letter or digit).
  tags_json=''
  tag_count=0
  for tag in ${LGWAN_TAGS:-}; do
    tag=$(printf '%s' "$tag" | tr -cd 'A-Za-z0-9._-' | sed 's/^[._-]*//' | cut -c1-64)
    if [ -z "$tag" ] || [ "$tag_count" -ge 32 ]; then continue; fi
    tag_count=$((tag_count + 1))
    tags_json="$tags_json${tags_json:+,}\"$tag\""
  done
  printf '{"agentId":"%s","agentVersion":"1.1.0","os":"linux","hostname":"%s","tags":[%s]' "$agent_id" "$host_name" "$tags_json"
  directory_json
  results_json
  printf ',"installed":['
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

# HMAC-SHA256 with the agent's secret over "lgwan-checkin-v1", the id, the time, a nonce and the body's SHA-256.
signature_of() {
  body_sha256=$(sha256sum "$1" | cut -c1-64)
  printf 'lgwan-checkin-v1\n%s\n%s\n%s\n%s' "$agent_id" "$2" "$3" "$body_sha256" | openssl dgst -sha256 -hmac "$agent_secret" -r | cut -c1-64
}

check_in() {
  inventory_json >"$LGWAN_STATE_DIR/checkin.json"
  timestamp=$(date +%s)
  nonce=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  signature=$(signature_of "$LGWAN_STATE_DIR/checkin.json" "$timestamp" "$nonce")
  # Results are sent once: kept aside while the check-in runs, dropped once it was answered.
  [ ! -s "$results_file" ] || mv "$results_file" "$results_file.sending"
  if curl -fsS --max-time 60 -H 'Content-Type: application/json' -H 'Accept: text/tab-separated-values' \
    -H "X-Lgwan-Agent: $agent_id" -H "X-Lgwan-Timestamp: $timestamp" -H "X-Lgwan-Nonce: $nonce" -H "X-Lgwan-Signature: $signature" \
    --data-binary "@$LGWAN_STATE_DIR/checkin.json" "$LGWAN_REPOSITORY/api/v1/agent/checkin"; then
    rm -f "$results_file.sending"
  else
    status=$?
    # Not answered: report them next time (with any newer ones).
    if [ -e "$results_file.sending" ]; then cat "$results_file" >>"$results_file.sending" 2>/dev/null || true; mv "$results_file.sending" "$results_file"; fi
    return "$status"
  fi
}

install_command_of() {
  printf '%s\n' "$LGWAN_PRODUCTS" | while IFS='|' read -r product platform locale detect install; do
    if [ "$product" = "$1" ]; then printf '%s\n' "$install"; break; fi
  done
}

actions=$(check_in) || { log "check-in failed: $LGWAN_REPOSITORY unreachable or refused (a revoked agent is refused: the admin re-enrolls it by removing $secret_file)"; exit 1; }
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
  if [ "$product" = '!install' ]; then
    # product, version, why now (no-window, in-window, deadline-passed), deadline or -.
    case "$sha256" in '-' | '') deadline_note='' ;; *) deadline_note=", deadline $sha256" ;; esac
    log "$installed: installing $version now ($file$deadline_note)"
    continue
  fi
  if [ "$product" = '!wait' ]; then
    # product, version, not before, why, deadline or -: the repository says not yet.
    case "$size" in '-' | '') deadline_note='' ;; *) deadline_note=", deadline $size" ;; esac
    log "$installed: $version waits for the next maintenance window, not before $file ($sha256$deadline_note)"
    continue
  fi
  case "$product" in '!'*) continue ;; esac
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
    record_result "$product" "$version" failed -1 "SHA-256 mismatch for $file; nothing installed"
    rm -f "$part"
    continue
  fi
  mv "$part" "$target"
  command=$(install_command_of "$product")
  command=$(printf '%s' "$command" | sed -e "s|{file}|$target|g" -e "s|{version}|$version|g")
  output_file="$LGWAN_STATE_DIR/install-output"
  if sh -c "$command" >"$output_file" 2>&1; then
    code=0
  else
    code=$?
  fi
  cat "$output_file" >>"$log_file"
  last_line=$(tail -n 1 "$output_file")
  rm -f "$output_file"
  if [ "$code" -eq 0 ]; then
    log "$product: installed $version"
    record_result "$product" "$version" installed 0 "$last_line"
    rm -f "$target"
  else
    log "$product: install command failed for $version (exit code $code)"
    record_result "$product" "$version" failed "$code" "$last_line"
  fi
done

# Report what is installed now, so coverage sees the update without waiting an hour.
check_in >/dev/null || log "second check-in failed"
# Exit 2: the run worked, but the config names a product the repository does not know.
if [ -e "$unknown_flag" ]; then rm -f "$unknown_flag"; exit 2; fi
exit 0
