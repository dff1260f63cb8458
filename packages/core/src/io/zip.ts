/**
 * A strict, bounded ZIP reader for `.npz` archives (PKWARE APPNOTE 6.3: end of central directory, ZIP64 records and
 * extra fields, stored and deflated members). Nothing is trusted before it is checked against the bytes present:
 * the entry count must fit in the central directory's size (≥ 46 bytes per entry), every offset and length must
 * lie inside the archive, a declared uncompressed size must pass the decompression limits before anything is
 * allocated, the inflated size must equal the declared one, and every member's CRC-32 is verified (as numpy's
 * `zipfile` does: "Bad CRC-32").
 *
 * @example
 * ```ts
 * import { readZipMembers } from './zip.js';
 * const members = readZipMembers(bytes, 'arrays.npz', (name) => name.endsWith('.npy')); // { 'a.npy': Uint8Array }
 * ```
 */
import { FormatError } from '../errors.js';
import { crc32 } from './crc32.js';
import { inflateRawBounded } from './limits.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const CENTRAL_ENTRY_BYTES = 46;

interface Entry {
  name: string;
  /** The name's bytes as the directory stores them. */
  rawName: Uint8Array;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/**
 * The members of a ZIP archive whose names pass `wanted`, decompressed and CRC-checked, by name. Every problem raises
 * `FormatError(format, label, …)`.
 *
 * @param bytes - the whole archive.
 * @param label - the file named in errors.
 * @param wanted - which members to extract (others are listed and checked for bounds only).
 * @param format - the FormatError format (`'npz'`).
 * @example
 * ```ts
 * readZipMembers(bytes, 'x.npz', (n) => n === 'a.npy'); // { 'a.npy': Uint8Array(…) }
 * ```
 */
export function readZipMembers(bytes: Uint8Array, label: string, wanted: (name: string) => boolean, format = 'npz'): Record<string, Uint8Array> {
  const fail = (problem: string): never => {
    throw new FormatError(format, label, problem);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.length;
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number): number => {
    const value = view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a ZIP64 field at byte ${at} holds ${value}, beyond any file`);
    return Number(value);
  };

  // 1. The end-of-central-directory record: the last signature whose comment ends inside the file.
  let eocd = -1;
  for (let at = size - 22; at >= Math.max(0, size - 22 - 0xffff); at--) {
    if (u32(at) === EOCD && at + 22 + u16(at + 20) <= size) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail('not a readable ZIP archive (no end-of-central-directory record)');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  let cdLimit = eocd;
  // 2. ZIP64: the locator just before the EOCD points at the ZIP64 record with 64-bit counts and offsets.
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || u32(locator) !== ZIP64_LOCATOR) fail('ZIP64 fields without a ZIP64 end-of-central-directory locator');
    const record = u64(locator + 8);
    // Python's zipfile reads the record right before the locator, so must we (it is 56 bytes as every writer makes it).
    if (record + 56 !== locator || u32(record) !== ZIP64_EOCD) fail(`ZIP64 end-of-central-directory record missing at byte ${record}`);
    count = u64(record + 32);
    cdSize = u64(record + 40);
    cdOffset = u64(record + 48);
    cdLimit = record;
  }
  // 3. The directory ends where the end record begins (Python's zipfile takes a gap for data prepended to the whole
  // archive and shifts every offset by it, so numpy refuses such a file; a gap here means damage, not a valid layout),
  // and the counts must fit the bytes present (a lying count must not drive a loop).
  if (cdOffset + cdSize > cdLimit) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end at byte ${cdLimit}`);
  if (count * CENTRAL_ENTRY_BYTES > cdSize) fail(`${count} entries cannot fit in a central directory of ${cdSize} bytes`);
  if (cdOffset + cdSize !== cdLimit) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) does not end where the end record begins (byte ${cdLimit}): ${cdLimit - cdOffset - cdSize} stray bytes`);

  // 4. The central directory entries.
  const entries: Entry[] = [];
  const names = new Set<string>();
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_ENTRY_BYTES > cdOffset + cdSize || u32(at) !== CENTRAL) fail(`central directory entry ${i} is damaged (byte ${at})`);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    const end = at + CENTRAL_ENTRY_BYTES + nameLength + extraLength + commentLength;
    if (end > cdOffset + cdSize) fail(`central directory entry ${i} runs past the directory`);
    const flags = u16(at + 8);
    const rawName = bytes.subarray(at + 46, at + 46 + nameLength);
    // What Python's zipfile (numpy's reader) refuses, refused here too rather than read differently: a newer ZIP
    // version than 6.3, patched data and strong encryption (flag bits 5, 6), and a name that is not ASCII without the
    // UTF-8 flag (bit 11; zipfile decodes it as cp437, so the member would have another name there).
    if (bytes[at + 6]! > 63) fail(`central directory entry ${i} needs ZIP version ${(bytes[at + 6]! / 10).toFixed(1)} (at most 6.3 is read)`);
    if (flags & 0x60) fail(`central directory entry ${i} uses ${flags & 0x20 ? 'compressed patched data (flag bit 5)' : 'strong encryption (flag bit 6)'}`);
    if (!(flags & 0x800) && rawName.some((b) => b >= 0x80)) fail(`central directory entry ${i}: a non-ASCII name without the UTF-8 flag`);
    const name = Buffer.from(rawName).toString('utf8');
    const entry: Entry = {
      name,
      rawName,
      flags,
      method: u16(at + 10),
      crc: u32(at + 16),
      compressedSize: u32(at + 20),
      size: u32(at + 24),
      localOffset: u32(at + 42),
    };
    // ZIP64 extra field (id 1): 64-bit values for the 32-bit fields set to 0xFFFFFFFF, in this order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = u16(extra);
      const length = u16(extra + 2);
      if (extra + 4 + length > extraEnd) fail(`entry '${name.slice(0, 100)}': extra field runs past its entry`);
      if (id === 1) {
        let field = extra + 4;
        for (const key of ['size', 'compressedSize', 'localOffset'] as const) {
          if (entry[key] !== 0xffffffff) continue;
          if (field + 8 > extra + 4 + length) fail(`entry '${name.slice(0, 100)}': ZIP64 extra field too short`);
          entry[key] = u64(field);
          field += 8;
        }
      }
      extra += 4 + length;
    }
    if (names.has(name)) fail(`member '${name.slice(0, 100)}' appears twice`);
    names.add(name);
    entries.push(entry);
    at = end;
  }
  // The entries fill the directory exactly: zipfile reads entries until the directory's size is used up, so a count
  // that is too small would hide members from us that numpy sees.
  if (at !== cdOffset + cdSize) fail(`the central directory holds ${cdOffset + cdSize - at} bytes beyond its ${count} entries (a damaged entry count)`);

  // 5. Every member's local header holds the name the directory gives it (Python's zipfile checks the same: a
  // mismatch means a damaged archive, whose names cannot be trusted); then the wanted members: bounds, method, size
  // limits, CRC.
  const out = Object.create(null) as Record<string, Uint8Array>; // member names are data, '__proto__' included
  for (const e of entries) {
    const what = `member '${e.name.slice(0, 100)}'`;
    if (e.localOffset + 30 > size || u32(e.localOffset) !== LOCAL) fail(`${what}: local header missing at byte ${e.localOffset}`);
    const localName = bytes.subarray(e.localOffset + 30, Math.min(size, e.localOffset + 30 + u16(e.localOffset + 26)));
    if (!Buffer.from(localName).equals(Buffer.from(e.rawName))) fail(`${what}: its local header names it differently (the archive is damaged)`);
    if (!wanted(e.name)) continue;
    if (e.flags & 1) fail(`${what} is encrypted`);
    const start = e.localOffset + 30 + u16(e.localOffset + 26) + u16(e.localOffset + 28);
    if (start + e.compressedSize > size) fail(`${what}: data [${start}, ${start + e.compressedSize}) runs past the end of the archive`);
    const compressed = bytes.subarray(start, start + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.size !== e.compressedSize) fail(`${what} is stored but declares ${e.size} bytes in ${e.compressedSize}`);
      data = compressed.slice();
    } else if (e.method === 8) {
      data = inflateRawBounded(compressed, e.size, format, `${label}:${e.name.slice(0, 100)}`);
    } else {
      return fail(`${what} uses compression method ${e.method} (only stored and deflate are read)`);
    }
    if (crc32(data) !== e.crc) fail(`${what}: bad CRC-32 (the data is damaged)`);
    out[e.name] = data;
  }
  return out;
}
