import * as z from 'zod';

/*
 * Transfer appliances cap file sizes (often 100 MB–2 GB). A larger bundle is cut into
 * parts; a small table of contents, signed with the transfer key, names each part with
 * its size and sha256 and the whole bundle's sha256. The receiver trusts no file name,
 * order or completeness: only what the signed TOC says. See docs/transfer.md.
 */
export const partsFormat = 'lgwan-mirror-parts/1';
export const maxTocBytes = 1024 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/u, '64 lower-case hex digits');

export const tocSchema = z.strictObject({
  format: z.literal(partsFormat),
  sequence: z.int().min(1),
  transferKeyId: sha256Hex,
  createdAt: z.iso.datetime(),
  bundleSize: z.int().min(1),
  bundleSha256: sha256Hex,
  parts: z
    .array(z.strictObject({ index: z.int().min(1).max(9999), name: z.string().regex(/^bundle-\d{10}\.part-\d{4}(\.[A-Za-z0-9]{1,15})?$/u, 'a part file name'), size: z.int().min(1), sha256: sha256Hex }))
    .min(1)
    .max(9999),
});
export type PartsToc = z.infer<typeof tocSchema>;
