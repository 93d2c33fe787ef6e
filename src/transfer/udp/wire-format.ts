import { crc32 } from 'node:zlib';

/*
 * One datagram of the UDP diode transport (version 1), big-endian:
 *
 *   0  magic "LGWD"          4   version (1)        5  type (1 data, 2 heartbeat, 3 announcement)
 *   6  k data shards          7  m parity shards     8  session id (8 bytes)
 *  16  file id (4)           20  file size (8)      28  shard size (4)
 *  32  block index (4)       36  shard index (1)    37  reserved (1)
 *  38  name length (2)       40  name (48 bytes, ASCII)
 *  88  sha256 of the whole file (32)
 * 120  payload length (4)   124  CRC-32 of bytes 0–123 and the payload (4)
 * 128  payload
 *
 * The CRC catches damage on the wire, the file's sha256 any mistake in reassembly; trust
 * comes from the bundle's own signature, which the importer checks. Names are only labels:
 * the receiver accepts a fixed set of shapes.
 */
export const magic = Buffer.from('LGWD');
export const headerLength = 128;
export const wireVersion = 1;

export const datagramTypes = { data: 1, heartbeat: 2, announcement: 3 } as const;

export interface DataHeader {
  type: 1;
  k: number;
  m: number;
  session: bigint;
  fileId: number;
  fileSize: number;
  shardSize: number;
  blockIndex: number;
  shardIndex: number;
  name: string;
  fileSha256: Buffer;
}

export interface HeartbeatHeader {
  type: 2;
  session: bigint;
}

/**
 * Type 3, a file announcement: the payload is signed JSON `{session, fileId, name, size, sha256}`
 * (2-byte length, JSON, 64-byte Ed25519 signature by the transfer key), sent before a file's
 * first block and again with every group of blocks. The receiver stages a file only once its
 * announcement verifies: any host that can reach the port could otherwise put files into the spool.
 */
export interface AnnouncementHeader {
  type: 3;
  session: bigint;
}

export interface FileAnnouncement {
  session: string;
  fileId: number;
  name: string;
  size: number;
  sha256: string;
}

/** Signed JSON as heartbeats and announcements carry it: 2-byte length, the JSON, its 64-byte signature. */
export function signedPayload(body: Buffer, signature: Buffer): Buffer {
  const payload = Buffer.alloc(2 + body.length + 64);
  payload.writeUInt16BE(body.length, 0);
  body.copy(payload, 2);
  signature.copy(payload, 2 + body.length);
  return payload;
}

export function splitSignedPayload(payload: Buffer): { body: Buffer; signature: Buffer } | undefined {
  if (payload.length < 2 + 64) return undefined;
  const length = payload.readUInt16BE(0);
  if (payload.length !== 2 + length + 64) return undefined;
  return { body: payload.subarray(2, 2 + length), signature: payload.subarray(2 + length) };
}

/** Files the transport carries: bundles, parts, their TOCs and signatures. Nothing else is written. */
/**
 * The shapes of spool file names the link carries: bundles, parts, tables of contents and
 * their signatures (each optionally with a configured transferFileExtension), and the plain
 * text summaries for approvers. The receiving spool's own names decide what is imported.
 */
export const transferableName = /^bundle-\d{10}(?:\.(?:tar|toc|toc\.sig|part-\d{4})(?:\.[A-Za-z0-9]{1,15})?|\.[A-Za-z0-9]{1,15}|\.summary\.txt)$/u;

export function encodeDatagram(header: DataHeader | HeartbeatHeader | AnnouncementHeader, payload: Buffer): Buffer {
  const datagram = Buffer.alloc(headerLength + payload.length);
  magic.copy(datagram, 0);
  datagram.writeUInt8(wireVersion, 4);
  datagram.writeUInt8(header.type, 5);
  datagram.writeBigUInt64BE(header.session, 8);
  if (header.type === datagramTypes.data) {
    datagram.writeUInt8(header.k, 6);
    datagram.writeUInt8(header.m, 7);
    datagram.writeUInt32BE(header.fileId, 16);
    datagram.writeBigUInt64BE(BigInt(header.fileSize), 20);
    datagram.writeUInt32BE(header.shardSize, 28);
    datagram.writeUInt32BE(header.blockIndex, 32);
    datagram.writeUInt8(header.shardIndex, 36);
    const name = Buffer.from(header.name, 'ascii');
    datagram.writeUInt16BE(name.length, 38);
    name.copy(datagram, 40, 0, 48);
    header.fileSha256.copy(datagram, 88, 0, 32);
  }
  datagram.writeUInt32BE(payload.length, 120);
  payload.copy(datagram, headerLength);
  datagram.writeUInt32BE(crc32(payload, crc32(datagram.subarray(0, 124))), 124);
  return datagram;
}

export type Decoded = { header: DataHeader; payload: Buffer } | { header: HeartbeatHeader; payload: Buffer } | { header: AnnouncementHeader; payload: Buffer } | { error: string };

/** Parses and checks a datagram; anything malformed is reported, never half-used. */
export function decodeDatagram(datagram: Buffer): Decoded {
  if (datagram.length < headerLength || !datagram.subarray(0, 4).equals(magic)) return { error: 'not a transfer datagram' };
  if (datagram.readUInt8(4) !== wireVersion) return { error: `wire version ${datagram.readUInt8(4)}` };
  const payloadLength = datagram.readUInt32BE(120);
  if (payloadLength !== datagram.length - headerLength) return { error: 'length mismatch' };
  const payload = datagram.subarray(headerLength);
  if (crc32(payload, crc32(datagram.subarray(0, 124))) !== datagram.readUInt32BE(124)) return { error: 'CRC mismatch' };
  const type = datagram.readUInt8(5);
  const session = datagram.readBigUInt64BE(8);
  if (type === datagramTypes.heartbeat) return { header: { type: 2, session }, payload };
  if (type === datagramTypes.announcement) return { header: { type: 3, session }, payload };
  if (type !== datagramTypes.data) return { error: `type ${type}` };
  const nameLength = datagram.readUInt16BE(38);
  if (nameLength > 48) return { error: 'name too long' };
  const name = datagram.toString('ascii', 40, 40 + nameLength);
  if (!transferableName.test(name)) return { error: `name ${JSON.stringify(name)} is not a transferable file` };
  const header: DataHeader = {
    type: 1,
    k: datagram.readUInt8(6),
    m: datagram.readUInt8(7),
    session,
    fileId: datagram.readUInt32BE(16),
    fileSize: Number(datagram.readBigUInt64BE(20)),
    shardSize: datagram.readUInt32BE(28),
    blockIndex: datagram.readUInt32BE(32),
    shardIndex: datagram.readUInt8(36),
    name,
    fileSha256: Buffer.from(datagram.subarray(88, 120)),
  };
  if (header.k < 1 || header.shardIndex >= header.k + header.m || payload.length !== header.shardSize || header.shardSize % 8 !== 0) return { error: 'inconsistent shard header' };
  if (!Number.isSafeInteger(header.fileSize) || header.blockIndex * header.k * header.shardSize >= Math.max(header.fileSize, 1)) return { error: 'block outside the file' };
  return { header, payload };
}
