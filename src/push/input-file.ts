/**
 * How input files are opened and read: only regular files, never something that looks binary, bytes
 * pulled in fixed chunks (so memory stays flat whatever the file's size), UTF-8 checked as it is read
 * and every problem named by line and byte offset.
 */
import { isUtf8 } from 'node:buffer';
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/** An input file ashpipe refuses to read, or stops reading: the message names the file and the place. */
export class InputFileError extends Error {
  override name = 'InputFileError';
}

/** Bytes read at once. */
const CHUNK_BYTES = 64 * 1024;
/** Bytes looked at to tell text from binary data. */
const SNIFF_BYTES = 8 * 1024;

/**
 * Largest record read from a file, in bytes: a CSV record, a JSONL line or an element of a JSON array.
 * Anything longer is reported as a bad row (CSV, JSONL) or stops the read (JSON) instead of being held in
 * memory.
 */
export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isFIFO()) return 'a named pipe';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens an input file for reading. Refuses anything but a regular file (a device like `/dev/zero`, a
 * pipe, a directory) and a file whose first bytes hold a NUL byte (binary data, or UTF-16 text).
 */
export async function openInputFile(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a named pipe must not wait for a writer; regular files ignore the flag.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFileError(
      code === 'ENOENT'
        ? `${file} does not exist`
        : `cannot open ${file}: ${code ?? (error as Error).message}`,
    );
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile())
      throw new InputFileError(`${file} is ${kindOf(stat)}, not a regular file: give the records as a file`);
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, stat.size));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const nul = head.subarray(0, bytesRead).indexOf(0);
    if (nul >= 0)
      throw new InputFileError(
        `${file} looks binary (a NUL byte at byte offset ${nul}): records are read as UTF-8 text (save UTF-16 files as UTF-8)`,
      );
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The file's bytes from the start, in chunks of at most 64 KiB; each chunk is a fresh buffer. */
export async function* byteChunks(handle: FileHandle): AsyncGenerator<Buffer> {
  let position = 0;
  for (;;) {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === CHUNK_BYTES ? buffer : buffer.subarray(0, bytesRead);
  }
}

/** Index of the first byte of `bytes` that is not part of valid UTF-8, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const c = bytes[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i;
    const c1 = bytes[i + 1] as number;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const ck = bytes[i + k] as number;
      if (ck < 0x80 || ck > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** Bytes at the end of `bytes` that start a UTF-8 sequence the chunk does not finish (0 to 3). */
export function incompleteTail(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const c = bytes[n - back] as number;
    if (c < 0x80) return 0;
    if (c >= 0xc0) {
      const length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return length > back ? back : 0;
    }
  }
  return 0;
}

/** One physical line of a text file. */
export interface PhysicalLine {
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  /** The line without its end of line; only its first `maxLineBytes` when it is longer. */
  text: string;
  /** The line's length in bytes, without its end of line. */
  bytes: number;
  /** The end of line as read: `'\n'`, `'\r\n'` or `''` (the last line, without one). */
  eol: string;
  /** Byte offset in the file of the line's first byte that is not valid UTF-8 (`text` shows U+FFFD there). */
  invalidAt?: number;
  /** The line was longer than `maxLineBytes`: `text` holds its start only. */
  truncated: boolean;
}

/**
 * The file's physical lines (split at LF; a CR before it belongs to the end of line). A line longer than
 * `maxLineBytes` is reported with its start only, so no line is ever held whole in memory beyond the
 * limit. A UTF-8 byte order mark at the start of the file is dropped.
 */
export async function* physicalLines(
  chunks: AsyncIterable<Buffer>,
  maxLineBytes: number,
): AsyncGenerator<PhysicalLine> {
  let parts: Buffer[] = [];
  let kept = 0;
  let length = 0;
  let lineStart = 0;
  let offset = 0;
  let line = 0;
  let first = true;
  const take = (piece: Buffer) => {
    length += piece.length;
    if (kept >= maxLineBytes) return;
    const room = maxLineBytes - kept;
    const part = piece.length > room ? piece.subarray(0, room) : piece;
    parts.push(part);
    kept += part.length;
  };
  const finish = (hasEol: boolean): PhysicalLine => {
    line += 1;
    let bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, kept);
    let total = length;
    let eol = hasEol ? '\n' : '';
    const truncated = total > maxLineBytes;
    if (!truncated && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d && hasEol) {
      bytes = bytes.subarray(0, bytes.length - 1);
      total -= 1;
      eol = '\r\n';
    }
    let start = lineStart;
    if (line === 1 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      bytes = bytes.subarray(3);
      total -= 3;
      start += 3;
    }
    // A truncated line may end inside a character: only whole characters are checked and shown.
    const checked = truncated ? bytes.subarray(0, bytes.length - incompleteTail(bytes)) : bytes;
    const bad = isUtf8(checked) ? -1 : firstInvalidUtf8(checked);
    const out: PhysicalLine = {
      line,
      offset: start,
      text: checked.toString('utf8'),
      bytes: total,
      eol,
      truncated,
      ...(bad >= 0 ? { invalidAt: start + bad } : {}),
    };
    parts = [];
    kept = 0;
    length = 0;
    return out;
  };
  for await (const chunk of chunks) {
    first = false;
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) {
        if (pos < chunk.length) take(chunk.subarray(pos));
        offset += chunk.length - pos;
        break;
      }
      take(chunk.subarray(pos, nl));
      offset += nl - pos + 1;
      yield finish(true);
      lineStart = offset;
      pos = nl + 1;
    }
  }
  if (!first && length > 0) yield finish(false);
}

/** Counts LF bytes in `bytes` before `end`. */
export function countNewlines(bytes: Uint8Array, end = bytes.length): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 0x0a) n++;
  return n;
}
