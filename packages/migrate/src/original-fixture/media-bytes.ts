import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

/**
 * Small deterministic media files standing in for downloaded provider output (research §6.3):
 * a real 2×2 PNG, an MP4-shaped `ftyp`/`mdat` pair, and an MP3-shaped ID3 header plus frames.
 * Bytes depend only on the content id.
 */

const crcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

function digest(contentId: string): Buffer {
  return createHash('sha256').update(contentId).digest();
}

export function pngBytes(contentId: string): Buffer {
  const colors = digest(contentId);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0); // width
  header.writeUInt32BE(2, 4); // height
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour RGB
  const rows: number[] = [];
  for (let y = 0; y < 2; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < 2; x++)
      for (let c = 0; c < 3; c++) rows.push(colors[(y * 2 + x) * 3 + c] ?? 0);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.from(rows), { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export function mp4Bytes(contentId: string): Buffer {
  const ftyp = Buffer.concat([
    Buffer.from([0, 0, 0, 0x18]),
    Buffer.from('ftypisom', 'ascii'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isomiso2', 'ascii'),
  ]);
  const payload = digest(contentId);
  const mdatSize = Buffer.alloc(4);
  mdatSize.writeUInt32BE(8 + payload.length);
  return Buffer.concat([ftyp, mdatSize, Buffer.from('mdat', 'ascii'), payload]);
}

export function mp3Bytes(contentId: string): Buffer {
  const id3 = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]);
  // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frame header, then the frame body (417 bytes).
  const frameHeader = Buffer.from([0xff, 0xfb, 0x90, 0x64]);
  const body = Buffer.alloc(413);
  digest(contentId).copy(body);
  return Buffer.concat([id3, frameHeader, body]);
}

export function mediaBytes(contentId: string, extension: 'png' | 'mp4' | 'mp3'): Buffer {
  if (extension === 'png') return pngBytes(contentId);
  if (extension === 'mp4') return mp4Bytes(contentId);
  return mp3Bytes(contentId);
}
