import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { IntegrityError, SignatureError } from '../core/errors.ts';

/*
 * ClamAV's legacy CVD signature: the 512-byte header carries the MD5 of the body and
 * `dsig`, the MD5 "encrypted" with ClamAV's private RSA key. The public modulus and
 * exponent are compiled into every ClamAV (libclamav/dsig.c); checking them here is the
 * same check `freshclam` and `sigtool` make.
 */
const clamavModulus = BigInt(
  '118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060640655844749760788890022283424922762488917565551002467771109669598189410434699034532232228621591089508178591428456220796841621637175567590476666928698770143328137383952820383197532047771780196576957695822641224262693037',
);
const clamavExponent = 100001027n;
const signatureAlphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/';
export const cvdHeaderLength = 512;

export interface CvdHeader {
  /** Build time as written by the vendor, e.g. `20 Aug 2015 10-50 -0400`. */
  buildTime: string;
  version: number;
  signatures: number;
  functionalityLevel: number;
  md5: string;
  digitalSignature: string;
  builder: string;
  /** Build time in seconds since the epoch (the field freshclam compares with If-Modified-Since). */
  buildTimeSeconds: number;
}

export function parseCvdHeader(header: Uint8Array, what: string): CvdHeader {
  if (header.length < cvdHeaderLength) throw new IntegrityError(`${what}: shorter than the 512-byte CVD header`, { what });
  const text = Buffer.from(header.subarray(0, cvdHeaderLength)).toString('latin1').trimEnd();
  const fields = text.split(':');
  if (fields[0] !== 'ClamAV-VDB' || fields.length < 9) throw new IntegrityError(`${what}: not a CVD header (expected "ClamAV-VDB:…" with 9 fields)`, { what });
  const [, buildTime, version, signatures, functionalityLevel, md5, digitalSignature, builder, buildTimeSeconds] = fields;
  const numbers = [version, signatures, functionalityLevel, buildTimeSeconds].map((field) => Number(field));
  if (numbers.some((value) => !Number.isSafeInteger(value) || value < 0) || !/^[0-9a-f]{32}$/u.test(md5!)) {
    throw new IntegrityError(`${what}: malformed CVD header fields`, { what });
  }
  return {
    buildTime: buildTime!,
    version: numbers[0]!,
    signatures: numbers[1]!,
    functionalityLevel: numbers[2]!,
    md5: md5!,
    digitalSignature: digitalSignature!,
    builder: builder!,
    buildTimeSeconds: numbers[3]!,
  };
}

function decodeSignature(digitalSignature: string, what: string): string {
  let cipher = 0n;
  for (let index = digitalSignature.length - 1; index >= 0; index -= 1) {
    const digit = signatureAlphabet.indexOf(digitalSignature[index]!);
    if (digit < 0) throw new SignatureError(`${what}: CVD signature has a character outside its alphabet`, { what });
    // Little-endian base 64: the first character holds the lowest six bits.
    cipher = (cipher << 6n) | BigInt(digit);
  }
  let plain = modularPower(cipher, clamavExponent, clamavModulus);
  const bytes = new Uint8Array(16);
  for (let index = 15; index >= 0; index -= 1) {
    bytes[index] = Number(plain & 0xffn);
    plain >>= 8n;
  }
  return Buffer.from(bytes).toString('hex');
}

function modularPower(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let factor = base % modulus;
  for (let rest = exponent; rest > 0n; rest >>= 1n) {
    if (rest & 1n) result = (result * factor) % modulus;
    factor = (factor * factor) % modulus;
  }
  return result;
}

/** Checks the header signature over the body's MD5, streaming the file once. Returns the parsed header. */
export async function verifyCvdFile(file: string, what: string): Promise<CvdHeader> {
  const body = createHash('md5');
  let header = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    if (header.length < cvdHeaderLength) {
      const needed = cvdHeaderLength - header.length;
      header = Buffer.concat([header, chunk.subarray(0, needed)]);
      body.update(chunk.subarray(needed));
    } else {
      body.update(chunk);
    }
  }
  const parsed = parseCvdHeader(header, what);
  const bodyMd5 = body.digest('hex');
  if (bodyMd5 !== parsed.md5) throw new IntegrityError(`${what}: body MD5 ${bodyMd5} differs from the header's ${parsed.md5}`, { what });
  verifyCvdHeaderSignature(parsed, what);
  return parsed;
}

/**
 * The header's signature covers the MD5 the header states; alone it proves the header is
 * ClamAV's, not that a body matches it (verifyCvdFile checks both).
 */
export function verifyCvdHeaderSignature(header: CvdHeader, what: string): void {
  if (decodeSignature(header.digitalSignature, what) !== header.md5) {
    throw new SignatureError(`${what}: the CVD header signature does not match ClamAV's built-in key`, { what });
  }
}
