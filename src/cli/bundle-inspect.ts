import path from 'node:path';
import { loadTransferPublicKey } from '../bundle/transfer-key.ts';
import type { LgwanConfig } from '../config/config.ts';
import { UserFacingError } from '../core/errors.ts';
import { inspectBundles, type InspectedBundle, type InspectVerdict } from '../importer/inspect-bundle.ts';
import { readLgwanState } from '../importer/lgwan-state.ts';
import { TransferFileNames } from '../transfer/spool-names.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';

/** Reads the LGWAN side's keys and state (never its lock: safe beside the running service). */
export async function inspectFromConfig(config: LgwanConfig, target: string, scratchParent?: string): Promise<InspectedBundle[]> {
  const [pinnedKey, keyring, state] = await Promise.all([loadTransferPublicKey(config.transferPublicKey), PinnedKeyring.load(config.keys), readLgwanState(path.join(config.storage, 'state.json'))]);
  const results = await inspectBundles({
    target,
    state,
    pinnedKey,
    keyring,
    blobsRoot: path.join(config.storage, 'blobs'),
    names: new TransferFileNames(config.transferFileExtension),
    stagingQuotaBytes: config.stagingQuotaBytes,
    scratchParent,
  }).catch((error: unknown) => {
    if (error instanceof Error && (error as { code?: string }).code === 'E_USAGE') throw new UserFacingError('E_USAGE', error.message);
    throw error;
  });
  if (results.length === 0) throw new UserFacingError('E_USAGE', `${target}: no bundle or table of contents found (names like bundle-0000000012.tar or bundle-0000000012.toc)`);
  return results;
}

const verdictTexts: Record<InspectVerdict, string> = {
  publish: '取り込んで公開します / would be imported and published',
  duplicate: '取り込み済みです（何もしません） / already imported (nothing to do)',
  'wait-for-files': '受け入れますが、まだ届いていないファイルを待ちます / would be accepted, then wait for files still to come',
  incomplete: '分割ファイルがそろっていません / parts are still missing',
  refuse: '拒否します（取り込みません） / would be refused (not imported)',
};

const besideTexts: Record<InspectedBundle['summaryBeside'], string> = {
  identical: '同一 / identical',
  different: '異なります（途中で変わったか、別のバンドルのもの） / different (changed on the way, or of another bundle)',
  absent: 'ありません / none',
  'lists-this-file': 'このファイルの大きさと SHA-256 が載っています / lists this file\'s size and SHA-256',
  'does-not-list-this-file': 'このファイルの SHA-256 は載っていません（途中で変わっています） / does not list this file\'s SHA-256 (it changed on the way)',
};

/** The summary exactly as the internet side wrote it, then what the importer would do. */
export function formatInspection(result: InspectedBundle): string {
  return [
    result.summary ?? '',
    '='.repeat(60),
    `bundle inspect: ${result.file}`,
    `判定 / Verdict: ${verdictTexts[result.verdict]}`,
    `理由 / Why: ${result.reason}`,
    `横にある説明書 / Summary beside it: ${besideTexts[result.summaryBeside]}`,
    '',
  ].join('\n');
}

/** 0: every bundle would be accepted; 1: one would be refused; 3: parts still missing (look again later). */
export function inspectExitCode(results: readonly InspectedBundle[]): number {
  if (results.some((result) => result.verdict === 'refuse')) return 1;
  if (results.some((result) => result.verdict === 'incomplete')) return 3;
  return 0;
}
