import type { Alarm } from './status-model.ts';
import type { TrustLevel } from '../catalog/schema.ts';

export type Language = 'ja' | 'en';

export function languageOf(query: unknown): Language {
  return query === 'en' ? 'en' : 'ja';
}

const ja = {
  title: 'LGWAN パッチミラー 状況',
  products: '製品',
  product: '製品',
  vendorLatest: 'ベンダー最新版 (インターネット側で確認)',
  published: 'LGWAN 公開版',
  since: '公開日時',
  trust: '検証の強さ',
  state: '状態',
  upToDate: '最新',
  behind: '未反映',
  notSeen: '未確認',
  none: 'なし',
  transfer: '転送',
  sequence: '最新バンドル番号',
  lastImport: '最終取り込み',
  lastBundle: '最終バンドル',
  bundleCreated: 'バンドル作成',
  refusals: '拒否したバンドル',
  alarms: '警報',
  noAlarms: '警報はありません。',
  sourceHealth: '取得元の状態',
  failures: '連続失敗',
  switchLanguage: 'English',
  generated: '表示時刻',
  api: 'JSON API',
  reason: '理由',
  action: '対処',
} as const;

type Dictionary = { [K in keyof typeof ja]: string };

const en: Dictionary = {
  title: 'LGWAN patch mirror status',
  products: 'Products',
  product: 'Product',
  vendorLatest: 'Vendor latest (seen by the internet side)',
  published: 'Published on LGWAN',
  since: 'Since',
  trust: 'Trust',
  state: 'State',
  upToDate: 'up to date',
  behind: 'behind',
  notSeen: 'not seen',
  none: 'none',
  transfer: 'Transfer',
  sequence: 'Latest bundle sequence',
  lastImport: 'Last import',
  lastBundle: 'Last bundle',
  bundleCreated: 'Bundle created',
  refusals: 'Refused bundles',
  alarms: 'Alarms',
  noAlarms: 'No alarms.',
  sourceHealth: 'Source health',
  failures: 'consecutive failures',
  switchLanguage: '日本語',
  generated: 'Generated',
  api: 'JSON API',
  reason: 'Reason',
  action: 'Action',
};

export const dictionaries: Record<Language, Dictionary> = { ja, en };

export const trustLabels: Record<Language, Record<TrustLevel, string>> = {
  ja: {
    'vendor-signature': 'ベンダー署名',
    'signed-hash-list': '署名付きハッシュ一覧',
    'vendor-hash-over-tls': 'ベンダー提供ハッシュ (TLS)',
    'tls-only': 'TLS のみ',
    'manually-confirmed': '手動確認済み',
  },
  en: {
    'vendor-signature': 'vendor signature',
    'signed-hash-list': 'signed hash list',
    'vendor-hash-over-tls': 'vendor hash over TLS',
    'tls-only': 'TLS only',
    'manually-confirmed': 'manually confirmed',
  },
};

/** What each alarm means and what the admin should do about it. */
export const alarmTexts: Record<Language, Record<Alarm['kind'], { title: string; action: string }>> = {
  ja: {
    'refused-bundle': { title: 'バンドルを拒否しました', action: '隔離フォルダの理由を確認し、インターネット側の鍵と送信元を調べてください。公開中の内容は変わっていません。' },
    'sequence-gap': { title: 'バンドル番号に欠番があります', action: '転送装置のログを確認してください。次のバンドルは全状態を含むため、公開は続きます。' },
    'waiting-for-blobs': { title: 'ファイルの到着待ち', action: '欠けたファイルは次回の全量送信で届きます。長く続く場合は転送経路を確認してください。' },
    'source-failing': { title: '取得元で失敗が続いています', action: 'インターネット側のログとベンダー URL を確認してください。' },
    'not-yet-published': { title: 'ベンダーの新版が未反映です', action: '次の転送を待つか、転送経路と取り込みの警報を確認してください。' },
    'no-bundle-yet': { title: 'まだバンドルを取り込んでいません', action: 'インターネット側の fetch と転送フォルダの設定を確認してください。' },
    'apt-valid-until': { title: 'apt リポジトリの有効期限 (Valid-Until) が近づいています', action: '期限後は apt が更新を拒否します。インターネット側で新しい InRelease を取得し、転送してください。' },
  },
  en: {
    'refused-bundle': { title: 'A bundle was refused', action: 'Read the reason in the quarantine folder and check the internet side\'s key and sender. Published content is unchanged.' },
    'sequence-gap': { title: 'Bundle sequence has a gap', action: 'Check the transfer appliance log. Later bundles carry the whole state, so publishing continues.' },
    'waiting-for-blobs': { title: 'Waiting for files', action: 'Missing files arrive with the next full re-send. If this persists, check the transfer path.' },
    'source-failing': { title: 'A vendor source keeps failing', action: 'Check the internet side log and the vendor URL.' },
    'not-yet-published': { title: 'A vendor release is not on LGWAN yet', action: 'Wait for the next transfer, or check the transfer and import alarms.' },
    'no-bundle-yet': { title: 'No bundle imported yet', action: 'Check the internet side fetch and the spool folder settings.' },
    'apt-valid-until': { title: "An apt suite's Valid-Until is near", action: 'After it, apt refuses the mirror. Fetch a fresh InRelease on the internet side and transfer it.' },
  },
};
