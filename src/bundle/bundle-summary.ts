import type { Manifest, ProductSummary, Verification } from './manifest.ts';

/*
 * A plain-text summary of a bundle, for the approver of a file-sanitising transfer service
 * (ファイル無害化転送): such services pass text unchanged but hold archives for someone to
 * release as the original (原本). The summary says what they would let in. It is written
 * beside the bundle by the internet side and rendered again, from the verified manifest, by
 * `lgwan-mirror bundle inspect` on the LGWAN side: the same function, so the two are equal
 * byte for byte when nothing was changed on the way. It informs only: the importer never
 * reads it. Japanese first, then English, on every line.
 */

export interface SummarisedFile {
  name: string;
  size: number;
  sha256: string;
}

export interface BundleSummaryInput {
  manifest: Manifest;
  /** The whole bundle as written (joined, when it travels as parts). */
  bundle: SummarisedFile;
  /** Present when the bundle travels as parts: the signed table of contents, its signature, each part. */
  parts?: { toc: SummarisedFile; tocSignature: SummarisedFile; list: readonly SummarisedFile[] };
}

const versionsShownPerProduct = 50;
const fieldLength = 200;

/**
 * Text from the manifest is signed, but it comes from vendor feeds: control characters
 * (a terminal escape, a line break that forges a line) and bidirectional overrides are
 * shown as code points, and each field is cut to a bounded length.
 */
function plain(value: string): string {
  const cleaned = value.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, (character) => `\\u{${character.codePointAt(0)!.toString(16)}}`);
  return cleaned.length > fieldLength ? `${cleaned.slice(0, fieldLength)}…` : cleaned;
}

const bytes = (size: number): string => `${size.toLocaleString('en-US')} bytes`;

/** UTC, then Japan time: approvers read JST, logs are in UTC. */
function time(iso: string): string {
  const at = new Date(iso);
  const utc = at.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/u, ' UTC');
  const jst = new Date(at.getTime() + 9 * 3_600_000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/u, ' JST');
  return `${utc} (${jst})`;
}

const trustTexts: Record<ProductSummary['trust'], string> = {
  'vendor-signature': 'ベンダーの署名 / vendor signature',
  'signed-hash-list': 'ベンダーが署名したハッシュ一覧 / vendor-signed hash list',
  'vendor-hash-over-tls': 'TLS で示されたベンダーのハッシュ（署名なし） / vendor hash over TLS (not signed)',
  'tls-only': 'TLS のみ（ベンダーの署名もハッシュもなし） / TLS only (no vendor signature or hash)',
  'manually-confirmed': '管理者の手動確認 / confirmed by an administrator',
};

/** What the internet side checked for one file, in the words of its verification method. */
export function describeVerification(verification: Verification): string {
  switch (verification.method) {
    case 'openpgp-detached':
      return `OpenPGP 署名（鍵 ${plain(verification.key)}） / OpenPGP signature by pinned key ${plain(verification.key)}`;
    case 'signature-of':
      return '署名ファイル（対象のファイルとともに検証） / a signature file, checked with the file it signs';
    case 'hash-list-entry':
      return '署名付きハッシュ一覧の SHA-512 / SHA-512 listed in a signed hash list';
    case 'apt-inrelease':
      return `apt InRelease の OpenPGP 署名（鍵 ${plain(verification.key)}） / apt InRelease signed by pinned key ${plain(verification.key)}`;
    case 'apt-index':
      return '署名済み InRelease に載る SHA-256 / SHA-256 listed in the signed InRelease';
    case 'apt-package':
      return '検証済みの Packages 索引に載る SHA-256 / SHA-256 listed in the verified Packages index';
    case 'clamav-cvd':
      return 'ClamAV CVD ヘッダーの署名 / ClamAV CVD header signature';
    case 'clamav-sign':
      return 'ClamAV .sign（PKCS#7） / ClamAV .sign (PKCS#7)';
    case 'clamav-cdiff':
      return 'ClamAV 差分の .sign / ClamAV patch with its .sign';
    case 'authenticode':
      return `Authenticode 署名（署名者 ${plain(verification.signer)}） / Authenticode signature by pinned signer ${plain(verification.signer)}`;
    case 'vendor-hash-over-tls':
      return 'TLS で示されたベンダーの SHA-256（署名なし） / vendor SHA-256 over TLS (not signed)';
    case 'tls-only':
      return 'TLS のみ / TLS only';
    case 'manual-confirmation':
      return '管理者の手動確認 / confirmed by an administrator';
    case 'lgwan-mirror-release':
      return `lgwan-mirror のリリース鍵（Ed25519、鍵 ${plain(verification.key)}）で署名された SHA256SUMS / SHA256SUMS signed (Ed25519) by the pinned lgwan-mirror release key ${plain(verification.key)}`;
    case 'hash-file':
      return `文書の横に公開された ${verification.algorithm} ハッシュファイル（文書とともに検証） / the document's ${verification.algorithm} hash file, checked with the document`;
  }
}

function fileLine(file: SummarisedFile): string {
  return `  ${plain(file.name)}  ${bytes(file.size)}  SHA-256 ${file.sha256}`;
}

/** The summary text: deterministic for a given manifest and files, UTF-8, LF line ends. */
export function renderBundleSummary(input: BundleSummaryInput): string {
  const { manifest } = input;
  const lines: string[] = [];
  const section = (title: string) => lines.push('', title, '-'.repeat(60));
  lines.push(
    'lgwan-mirror 転送バンドル説明書 / transfer bundle summary',
    '='.repeat(60),
    'この説明書は確認のための情報です。これで何かを取り込むことはできません。',
    'LGWAN 側は署名されたバンドル本体（原本）だけを取り込み、すべてを検証し直します。',
    'This summary only informs: nothing can be imported with it. The LGWAN side imports only',
    'the signed bundle itself (the original, 原本) and verifies everything again.',
  );

  section('バンドル / Bundle');
  lines.push(
    `通番 / Sequence: ${manifest.sequence}`,
    `作成 / Created: ${time(manifest.createdAt)}`,
    `有効期限 / Expires: ${time(manifest.expiresAt)}`,
    `転送鍵 ID / Transfer key id: ${manifest.transferKeyId}`,
    `前のマニフェスト / Previous manifest SHA-256: ${manifest.previousManifestSha256 ?? 'なし / none (first bundle)'}`,
  );
  if (manifest.nextTransferKey) lines.push(`次の転送鍵の予告 / Next transfer key announced: ${manifest.nextTransferKey.keyId}`);

  section('境界を渡るファイル / Files that cross the boundary');
  if (input.parts) {
    lines.push(`分割して送ります（${input.parts.list.length} 個） / Sent as ${input.parts.list.length} part(s):`);
    for (const part of input.parts.list) lines.push(fileLine(part));
    lines.push('目次とその署名 / Table of contents and its signature:', fileLine(input.parts.toc), fileLine(input.parts.tocSignature));
    lines.push('結合したバンドル / The joined bundle:', fileLine(input.bundle));
  } else {
    lines.push(fileLine(input.bundle));
  }
  lines.push('この説明書 / This summary: 取り込みには使いません / never imported');

  section('製品と版（このバンドルで公開される状態） / Products and versions (the state this bundle publishes)');
  if (manifest.products.length === 0) lines.push('  なし / none');
  for (const product of manifest.products) {
    lines.push(`${plain(product.name)} — ${plain(product.vendor)} (id ${plain(product.id)})`, `  信頼の根拠 / Trust: ${trustTexts[product.trust]}`);
    const versions = new Map<string, { files: number; size: number; methods: Set<string> }>();
    for (const artifact of manifest.artifacts) {
      if (artifact.productId !== product.id) continue;
      const entry = versions.get(artifact.version) ?? { files: 0, size: 0, methods: new Set<string>() };
      entry.files += 1;
      entry.size += artifact.size;
      entry.methods.add(describeVerification(artifact.verification));
      versions.set(artifact.version, entry);
    }
    if (versions.size === 0) lines.push('  公開する版なし / no version published');
    let shown = 0;
    for (const [version, entry] of versions) {
      if (shown === versionsShownPerProduct) {
        lines.push(`  … ほか ${versions.size - shown} 版 / … and ${versions.size - shown} more version(s)`);
        break;
      }
      shown += 1;
      lines.push(`  ${plain(version)}: ${entry.files} ファイル / file(s), ${bytes(entry.size)}`);
      for (const method of entry.methods) lines.push(`    検証 / Verified by: ${method}`);
    }
  }

  const carried = manifest.blobs;
  const carriedBytes = carried.reduce((sum, blob) => sum + blob.size, 0);
  section(`このバンドルが運ぶファイルの中身 / File contents carried in this bundle: ${carried.length}, ${bytes(carriedBytes)}`);
  if (carried.length === 0) lines.push('  なし（前のバンドルで送り済み） / none (sent with earlier bundles)');
  const namesOf = new Map<string, Manifest['artifacts']>();
  for (const artifact of manifest.artifacts) {
    const list = namesOf.get(artifact.sha256) ?? [];
    list.push(artifact);
    namesOf.set(artifact.sha256, list);
  }
  for (const blob of carried) {
    const artifacts = namesOf.get(blob.sha256) ?? [];
    const first = artifacts[0];
    const label = first ? `${plain(first.productId)} ${plain(first.version)} ${plain(first.platform)}/${plain(first.locale)} ${plain(first.fileName)}` : '（名前なし / unnamed）';
    const more = artifacts.length > 1 ? ` (+${artifacts.length - 1})` : '';
    lines.push(`  ${bytes(blob.size)}  SHA-256 ${blob.sha256}  ${label}${more}`);
  }

  section('承認する方へ / For the approver');
  lines.push(
    '1. 届いたファイルの名前・大きさ・SHA-256 が上の「境界を渡るファイル」と同じか確かめてください',
    '   （Windows: certutil -hashfile <ファイル> SHA256、Linux: sha256sum <ファイル>）。',
    '2. 無害化（再構成）せず、名前も変えず、原本のまま渡してください。変わったファイルは LGWAN 側が必ず拒否します。',
    '3. LGWAN 側で lgwan-mirror bundle inspect <フォルダ> を実行すると、署名と中身を検証し、',
    '   取り込まれるかどうかを表示します（何も変更しません）。',
    '1. Check that each file that arrived has the name, size and SHA-256 listed under',
    '   "Files that cross the boundary" (Windows: certutil -hashfile <file> SHA256; Linux: sha256sum <file>).',
    '2. Release it as the original (原本): not sanitised (rebuilt), not renamed. The LGWAN side refuses any changed file.',
    '3. On the LGWAN side, lgwan-mirror bundle inspect <folder> verifies the signature and the contents',
    '   and tells whether the bundle would be imported (it changes nothing).',
  );
  return `${lines.join('\n')}\n`;
}
