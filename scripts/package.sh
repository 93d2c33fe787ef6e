#!/usr/bin/env bash
# npm run package: the offline release artifacts, from a checkout with `npm ci` done.
#   release/lgwan-mirror_<version>_amd64.deb         Debian 13 (Depends: nodejs >= 20.19)
#   release/lgwan-mirror-<version>-linux-x64.tar.gz  other Linux hosts with Node.js >= 20.19 (install.sh)
#   release/SHA256SUMS, release/SHA256SUMS.sig       the list, signed (Ed25519) with the release key
#   release/release-key.pub.pem                      the release public key (also inside the package)
# Everything the program needs is inside: compiled JavaScript (no runtime transpiler), the
# production node_modules with their linux-x64 native parts, assets, catalogs, units, docs.
# The build reads nothing from the network (npm ci --offline from the local npm cache).
#   LGWAN_MIRROR_RELEASE_KEY  Ed25519 private key (PEM) that signs SHA256SUMS. Without it a
#                             throwaway key is made in release/ and the output says so: such
#                             a package is for tests, never for the LGWAN side.
#   LGWAN_MIRROR_PACKAGE_VERSION  overrides the version from package.json (tests build upgrades)
#   LGWAN_MIRROR_RELEASE_DIR      where to write (default release/)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
started=$(date +%s)
version="${LGWAN_MIRROR_PACKAGE_VERSION:-$(node -p 'require("./package.json").version')}"
out="$(mkdir -p "${LGWAN_MIRROR_RELEASE_DIR:-$root/release}" && cd "${LGWAN_MIRROR_RELEASE_DIR:-$root/release}" && pwd)"
stage="$out/stage"
rm -rf "$stage" "$out"/*.deb "$out"/*.tar.gz "$out/SHA256SUMS" "$out/SHA256SUMS.sig"
mkdir -p "$stage"

echo "building lgwan-mirror $version" >&2
app="$stage/app"
mkdir -p "$app/bin"
# The same build as `npm run build` (modules, and the assets, openapi.json and SQL migrations
# they read beside themselves); the packaged launcher runs it without looking at any stamp.
bash scripts/build.sh "$app/dist"
rm -f "$app/dist/.build-stamp"
cp -a catalogs docs README.md "$app/"
mkdir -p "$app/deploy" "$app/test"
cp -a deploy/systemd deploy/nginx deploy/clients deploy/agent deploy/package deploy/lgwan-mirror.example.yaml deploy/README.md "$app/deploy/"
# The demo's vendor simulator serves these (real signed Debian and ClamAV data, a few hundred KiB).
cp -a test/fixtures "$app/test/fixtures"
node -e '
  const fs = require("node:fs");
  const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
  p.version = process.argv[1];
  delete p.devDependencies; delete p.ava;
  p.scripts = {};
  fs.writeFileSync(process.argv[2], JSON.stringify(p, null, 2) + "\n");
' "$version" "$app/package.json"
cp package-lock.json "$app/"
cat > "$app/bin/lgwan-mirror.js" <<'LAUNCHER'
#!/usr/bin/env node
// The installed command: compiled JavaScript only (no TypeScript loader in production).
import module from 'node:module';
// Node.js 22.1 and later keep compiled code between starts (start-up, issue 18); 20.x has none.
module.enableCompileCache?.();
await import('../dist/cli/main.js');
LAUNCHER
chmod 0755 "$app/bin/lgwan-mirror.js"
# Production dependencies only, from the npm cache this checkout's `npm ci` filled; the
# install scripts are not run: the native parts ship prebuilt (checked below).
(cd "$app" && npm ci --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error)
# @ronomon/reed-solomon is compiled at install (node-gyp); take the N-API binding this
# checkout's npm ci built, which any Node.js with N-API 8 loads.
install -m 0755 node_modules/@ronomon/reed-solomon/binding.node "$app/node_modules/@ronomon/reed-solomon/binding.node"
for native in node_modules/@napi-rs/lzma-linux-x64-gnu/lzma.linux-x64-gnu.node node_modules/@node-rs/argon2-linux-x64-gnu/argon2.linux-x64-gnu.node node_modules/@ronomon/reed-solomon/binding.node; do
  [ -f "$app/$native" ] || { echo "missing the linux-x64 native module $native" >&2; exit 1; }
  file -L "$app/$native" | grep -q 'x86-64' || { echo "$native is not for x86-64" >&2; exit 1; }
done
[ ! -e "$app/node_modules/tsx" ] || { echo "tsx must not be in the production tree" >&2; exit 1; }
rm -f "$app/package-lock.json"

# Release key: the LGWAN side pins its public part (the package carries it).
key="${LGWAN_MIRROR_RELEASE_KEY:-}"
if [ -z "$key" ]; then
  key="$out/test-release-key.pem"
  [ -f "$key" ] || node -e '
    const { generateKeyPairSync } = require("node:crypto"); const fs = require("node:fs");
    const { privateKey } = generateKeyPairSync("ed25519");
    fs.writeFileSync(process.argv[1], privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  ' "$key"
  echo "WARNING: signed with the throwaway test key $key (set LGWAN_MIRROR_RELEASE_KEY for a real release)" >&2
fi
node -e '
  const { createPrivateKey, createPublicKey } = require("node:crypto"); const fs = require("node:fs");
  fs.writeFileSync(process.argv[2], createPublicKey(createPrivateKey(fs.readFileSync(process.argv[1]))).export({ type: "spki", format: "pem" }));
' "$key" "$out/release-key.pub.pem"
cp "$out/release-key.pub.pem" "$app/release-key.pub.pem"
# Both sides verify lgwan-mirror's own releases (catalogs/lgwan-mirror.yaml) against the release
# key pinned under ed25519Keys in keys/pins.yaml by the SHA-256 of its DER: the package pins the
# key that signed it, which the admin checks once at installation (docs/operations.md). Where
# the checkout already pins a release key, only that key may sign.
node --input-type=module -e '
  import { createHash, createPublicKey } from "node:crypto";
  import fs from "node:fs";
  import { parseDocument } from "yaml";
  const [pinsFile, publicFile] = process.argv.slice(1);
  const fingerprint = createHash("sha256").update(createPublicKey(fs.readFileSync(publicFile)).export({ type: "spki", format: "der" })).digest("hex").toUpperCase();
  const document = parseDocument(fs.readFileSync(pinsFile, "utf8"));
  const pinned = document.getIn(["ed25519Keys", "lgwan-mirror-release", "fingerprints"]);
  if (pinned) {
    if (!pinned.toJSON().includes(fingerprint)) { console.error(`the release key ${fingerprint} is not the one pinned in catalogs/keys/pins.yaml (ed25519Keys.lgwan-mirror-release)`); process.exit(1); }
  } else {
    document.setIn(["ed25519Keys", "lgwan-mirror-release"], document.createNode({
      file: "lgwan-mirror-release.pub.pem",
      fingerprints: [fingerprint],
      description: "The lgwan-mirror release key (Ed25519) that signed this package: SHA256SUMS of every later release must be signed by it (lgwan-mirror upgrade). Pinned by scripts/package.sh.",
    }));
    fs.writeFileSync(pinsFile, document.toString());
  }
  console.error(`release key ${fingerprint} pinned in the packaged keys/pins.yaml`);
' "$app/catalogs/keys/pins.yaml" "$out/release-key.pub.pem"
[ -e "$app/catalogs/keys/lgwan-mirror-release.pub.pem" ] || cp "$out/release-key.pub.pem" "$app/catalogs/keys/lgwan-mirror-release.pub.pem"

# Debian package: the program in /usr/lib/lgwan-mirror, the command on PATH, the units, the
# config and catalogs as conffiles in /etc/lgwan-mirror.
deb="$stage/deb"
mkdir -p "$deb/DEBIAN" "$deb/usr/lib" "$deb/usr/bin" "$deb/usr/lib/systemd/system" "$deb/etc/lgwan-mirror" "$deb/usr/share/doc/lgwan-mirror"
cp -a "$app" "$deb/usr/lib/lgwan-mirror"
ln -s ../lib/lgwan-mirror/bin/lgwan-mirror.js "$deb/usr/bin/lgwan-mirror"
install -m 0644 deploy/systemd/*.service "$deb/usr/lib/systemd/system/"
install -m 0644 deploy/lgwan-mirror.example.yaml "$deb/etc/lgwan-mirror/lgwan-mirror.yaml"
cp -a "$app/catalogs" "$deb/etc/lgwan-mirror/catalogs"
printf 'lgwan-mirror (%s)\n\nSee /usr/lib/lgwan-mirror/docs/operations.md.\n' "$version" | gzip -9n > "$deb/usr/share/doc/lgwan-mirror/changelog.gz"
(cd "$deb" && find etc -type f | sed 's#^#/#' | sort) > "$deb/DEBIAN/conffiles"
for script in preinst postinst prerm; do
  sed "s/@VERSION@/$version/g" "deploy/package/$script" > "$deb/DEBIAN/$script"
  chmod 0755 "$deb/DEBIAN/$script"
done
installed_kib=$(du -sk --exclude=DEBIAN "$deb" | cut -f1)
cat > "$deb/DEBIAN/control" <<CONTROL
Package: lgwan-mirror
Version: $version
Architecture: amd64
Maintainer: lgwan-mirror maintainers <lgwan-mirror@localhost>
Depends: nodejs (>= 20.19), passwd, xz-utils
Recommends: gpgv, openssl
Suggests: osslsigncode, msitools, nginx-light, postgresql
Section: net
Priority: optional
Installed-Size: $installed_kib
Description: vendor updates across a one-way boundary into LGWAN networks
 Internet side: discovers, downloads and verifies vendor releases and writes
 signed, sequenced bundles into a spool. LGWAN side (no internet): verifies
 them again with its own pinned keys, publishes, and serves endpoints.
 Carries every dependency (linux-x64); needs no network to install.
CONTROL
(cd "$deb" && find usr etc -type f -print0 | sort -z | xargs -0 md5sum) > "$deb/DEBIAN/md5sums"
deb_file="$out/lgwan-mirror_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$deb" "$deb_file" >/dev/null

# Tarball for other hosts: the same program tree plus install.sh.
tar_dir="$stage/tar/lgwan-mirror-$version"
mkdir -p "$tar_dir"
cp -a "$app" "$tar_dir/lgwan-mirror"
install -m 0755 deploy/package/install.sh "$tar_dir/install.sh"
tar_file="$out/lgwan-mirror-$version-linux-x64.tar.gz"
tar --owner=0 --group=0 --sort=name -C "$stage/tar" -czf "$tar_file" "lgwan-mirror-$version"

(cd "$out" && sha256sum "$(basename "$deb_file")" "$(basename "$tar_file")" release-key.pub.pem > SHA256SUMS)
node -e '
  const { createPrivateKey, sign } = require("node:crypto"); const fs = require("node:fs");
  fs.writeFileSync(process.argv[3], sign(null, fs.readFileSync(process.argv[2]), createPrivateKey(fs.readFileSync(process.argv[1]))));
' "$key" "$out/SHA256SUMS" "$out/SHA256SUMS.sig"
rm -rf "$stage"
echo "built in $(( $(date +%s) - started )) s:" >&2
(cd "$out" && ls -l --block-size=K "$(basename "$deb_file")" "$(basename "$tar_file")" SHA256SUMS SHA256SUMS.sig) >&2
