/*
 * Names of the files a transfer writes. Names only help the receiver find candidates: what a
 * file is, and whether it is intact, is decided by the signed manifest or table of contents.
 *
 * Some transfer services (ファイル無害化転送 among them) accept only listed file extensions,
 * so every transfer file can be given one (`transferFileExtension`, e.g. `.bin`): the whole
 * bundle is then `bundle-<n>.bin` instead of `bundle-<n>.tar`, and the extension is appended
 * to the others (`bundle-<n>.part-0001.bin`, `bundle-<n>.toc.bin`, `bundle-<n>.toc.sig.bin`).
 * The summary for the approver is always plain text (`bundle-<n>.summary.txt`): sanitisers
 * pass text unchanged, and it is never imported.
 */

/** A file extension a transfer may use: a dot and 1–15 letters or digits. */
export const transferFileExtensionPattern = /^\.[A-Za-z0-9]{1,15}$/u;

const padded = (sequence: number): string => String(sequence).padStart(10, '0');
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');

export type TransferFileKind = 'bundle' | 'toc' | 'toc-signature' | 'part' | 'summary';

export interface ParsedTransferName {
  kind: TransferFileKind;
  sequence: number;
  /** The part number, for kind `part`. */
  index?: number;
}

/** The names of one spool's transfer files, with or without a configured extension. */
export class TransferFileNames {
  readonly extension: string | undefined;
  readonly #patterns: [TransferFileKind, RegExp][];

  constructor(extension?: string) {
    if (extension !== undefined && !transferFileExtensionPattern.test(extension)) {
      throw new RangeError(`transferFileExtension ${JSON.stringify(extension)}: expected a dot and 1–15 letters or digits, e.g. ".bin"`);
    }
    this.extension = extension;
    const suffix = extension === undefined ? '' : escape(extension);
    this.#patterns = [
      ['bundle', new RegExp(`^bundle-(\\d{10})${extension === undefined ? '\\.tar' : suffix}$`, 'u')],
      ['toc', new RegExp(`^bundle-(\\d{10})\\.toc${suffix}$`, 'u')],
      ['toc-signature', new RegExp(`^bundle-(\\d{10})\\.toc\\.sig${suffix}$`, 'u')],
      ['part', new RegExp(`^bundle-(\\d{10})\\.part-(\\d{4})${suffix}$`, 'u')],
      ['summary', /^bundle-(\d{10})\.summary\.txt$/u],
    ];
  }

  bundle(sequence: number): string {
    return `bundle-${padded(sequence)}${this.extension ?? '.tar'}`;
  }

  toc(sequence: number): string {
    return `bundle-${padded(sequence)}.toc${this.extension ?? ''}`;
  }

  tocSignature(sequence: number): string {
    return `bundle-${padded(sequence)}.toc.sig${this.extension ?? ''}`;
  }

  part(sequence: number, index: number): string {
    return `bundle-${padded(sequence)}.part-${String(index).padStart(4, '0')}${this.extension ?? ''}`;
  }

  summary(sequence: number): string {
    return `bundle-${padded(sequence)}.summary.txt`;
  }

  /** What a name is in this spool, or undefined for any other name. */
  parse(name: string): ParsedTransferName | undefined {
    for (const [kind, pattern] of this.#patterns) {
      const match = pattern.exec(name);
      if (match) return kind === 'part' ? { kind, sequence: Number(match[1]), index: Number(match[2]) } : { kind, sequence: Number(match[1]) };
    }
    return undefined;
  }
}

/**
 * A name that mentions a bundle but is none of this spool's transfer names: the file was
 * renamed on the way (a sanitising service's own naming rule, a copy made by hand), or the two
 * sides disagree on `transferFileExtension`. Hidden names are a sender's temporary files.
 */
export function looksRenamed(name: string, names: TransferFileNames): boolean {
  return !name.startsWith('.') && /bundle-\d{10}/u.test(name) && names.parse(name) === undefined;
}

const defaultNames = new TransferFileNames();

/** Zero-padded so that a plain directory listing sorts bundles by sequence. */
export function bundleFileName(sequence: number): string {
  return defaultNames.bundle(sequence);
}

/** A bundle too large for the appliance travels as parts plus a signed table of contents. */
export function partFileName(sequence: number, index: number): string {
  return defaultNames.part(sequence, index);
}

export function tocFileName(sequence: number): string {
  return defaultNames.toc(sequence);
}
