/** Gzip files laid out member by member for the gzip tests (gunzip.test.ts, gzip-log.test.ts). */
import { gzipSync } from 'node:zlib';

/** A gzip member of `text` with the BC subfield, laid out by hand from the BGZF specification (not memhp's writer). */
export function bcMember(text: Uint8Array): Buffer {
  const gz = gzipSync(text);
  const extra = Buffer.from([6, 0, 0x42, 0x43, 2, 0, 0, 0]);
  extra.writeUInt16LE(gz.length + 8 - 1, 6);
  const head = Buffer.from(gz.subarray(0, 10));
  head[3] = head[3]! | 0x04;
  return Buffer.concat([head, extra, gz.subarray(10)]);
}

/** Where `text` is cut into members: 0, each of `cuts` (taken modulo the length + 1) and the end, sorted, once each. */
export function cutPoints(text: Uint8Array, cuts: readonly number[]): number[] {
  return [...new Set([0, ...cuts.map((c) => c % (text.length + 1)), text.length])].sort((a, b) => a - b);
}
