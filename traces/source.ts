/**
 * Trace sources: where a reader gets its bytes. A trace is a file (plain or gzip-compressed),
 * standard input (`-`), a FIFO, a character device such as `/dev/stdin`, or a process substitution
 * `<(cmd)`. {@link openTraceSource} opens it once, recognises compressed and binary content, and
 * returns a {@link TraceSource} whose `open()` gives a fresh stream of the decoded text as many
 * times as a reader needs (format detection, then the reader itself).
 *
 * Memory: a regular file is streamed from disk on every `open()` (gzip decompressed on the fly), so
 * memory does not grow with it. Standard input, FIFOs, character devices and sockets can be read
 * only once, so their bytes (still compressed, for gzip) are buffered once in memory and every
 * `open()` replays that buffer.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { InputError } from '../sim/errors.ts';
import { fileProblem } from '../sim/files.ts';

/** Name used in messages (and as the trace's `source`) for standard input, given as `-`. */
export const STDIN_NAME = 'stdin';

/** Bytes of decoded text kept in {@link TraceSource.head} for format detection. */
export const HEAD_BYTES = 4096;

/**
 * Longest line (or CSV record) a reader accepts, in characters: 64 Mi. A longer one is refused with
 * an InputError instead of exhausting memory on, say, a binary file without line breaks.
 */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Most bytes read from standard input, a FIFO or a device, which are buffered in memory (they can
 * be read only once): 4 GiB (compressed size, for gzip). A regular file has no such limit.
 */
export const MAX_BUFFERED_BYTES = 4 * 1024 ** 3;

/** What llmsched reads, for messages about unreadable content. */
export const READABLE_FORMATS = 'llmsched reads CSV or JSONL traces, plain or gzip (.gz)';

/** A trace opened by {@link openTraceSource}. */
export interface TraceSource {
  /** The name shown in messages and kept as the trace's `source`: the path as given, or `stdin` for `-`. */
  readonly name: string;
  /** The path as given (`-` for standard input). */
  readonly path: string;
  /** How the bytes are stored: `gzip` when they start with the gzip magic bytes 1f 8b (whatever the extension). */
  readonly compression: 'none' | 'gzip';
  /**
   * The lower-case extension of the content, for format detection: the path's extension after
   * removing a trailing `.gz` (`x.jsonl.gz` → `.jsonl`); '' for standard input or no extension.
   */
  readonly extension: string;
  /**
   * The first {@link HEAD_BYTES} bytes (or fewer) of the decoded content as UTF-8 text (a UTF-8 BOM
   * kept; the last character may be cut).
   */
  readonly head: string;
  /** True when `head` holds the whole content (it is shorter than {@link HEAD_BYTES} bytes). */
  readonly headIsAll: boolean;
  /** True when the input could be read only once and was buffered in memory (stdin, FIFO, device). */
  readonly buffered: boolean;
  /** A fresh stream of the decoded content (gunzipped when compressed), from its first byte. */
  open(): Readable;
  /**
   * Turns an error met while streaming the content into the InputError to report: an InputError
   * as is; corrupt or truncated gzip data, a read error or a string too long, as one line naming
   * the source (`after line N` when `line` is given).
   */
  readError(e: unknown, line?: number): InputError;
}

/** Options of {@link openTraceSource}. */
export interface SourceOptions {
  /** The stream read for `-` (default `process.stdin`); tests pass their own. */
  stdin?: Readable;
  /** Most bytes buffered from input readable only once (default {@link MAX_BUFFERED_BYTES}); tests pass a small one. */
  maxBufferedBytes?: number;
}

/** A compressed or binary format recognised by its first bytes, with how to make it readable. */
interface Magic {
  name: string;
  bytes: number[];
  /** Offset of `bytes` in the file. */
  at?: number;
  /** How to make it readable, with `FILE` standing for the path. */
  fix: string;
  /** What to do before piping it to standard input. */
  verb: 'decompress' | 'extract' | 'convert';
}

/** Formats recognised by their magic bytes (gzip is read, the rest refused with a hint). */
const MAGICS: readonly Magic[] = [
  { name: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd], fix: "decompress with 'zstd -d FILE'", verb: 'decompress' },
  { name: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], fix: "decompress with 'xz -d FILE'", verb: 'decompress' },
  { name: 'bzip2', bytes: [0x42, 0x5a, 0x68], fix: "decompress with 'bzip2 -d FILE'", verb: 'decompress' },
  { name: 'zip', bytes: [0x50, 0x4b, 0x03, 0x04], fix: "extract it with 'unzip FILE'", verb: 'extract' },
  { name: 'zip', bytes: [0x50, 0x4b, 0x05, 0x06], fix: "extract it with 'unzip FILE'", verb: 'extract' },
  { name: '7z', bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], fix: "extract it with '7z x FILE'", verb: 'extract' },
  { name: 'lz4', bytes: [0x04, 0x22, 0x4d, 0x18], fix: "decompress with 'lz4 -d FILE'", verb: 'decompress' },
  { name: 'Parquet', bytes: [0x50, 0x41, 0x52, 0x31], fix: 'convert it to CSV (e.g. with DuckDB or pandas)', verb: 'convert' },
];

function startsWith(buf: Buffer, bytes: readonly number[], at = 0): boolean {
  if (buf.length < at + bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

/** bzip2: `BZh` + a block size digit 1–9 + the block magic (pi) or the end-of-stream magic (sqrt pi). */
function isBzip2(buf: Buffer): boolean {
  if (!startsWith(buf, [0x42, 0x5a, 0x68]) || buf.length < 10 || buf[3] < 0x31 || buf[3] > 0x39) return false;
  return startsWith(buf, [0x31, 0x41, 0x59, 0x26, 0x53, 0x59], 4) || startsWith(buf, [0x17, 0x72, 0x45, 0x38, 0x50, 0x90], 4);
}

/** The compressed or binary format `buf` starts with, if any (gzip excluded). */
function magicOf(buf: Buffer): Magic | undefined {
  for (const m of MAGICS) {
    if (m.name === 'bzip2' ? isBzip2(buf) : startsWith(buf, m.bytes, m.at)) return m;
  }
  return undefined;
}

/** True when `buf` starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Why `buf` (the first bytes of the decoded content) is not UTF-8 text, or undefined when it is:
 * a UTF-16 byte-order mark, a NUL byte, or an invalid UTF-8 sequence (a sequence cut by the end of
 * `buf` is allowed when `partial`).
 */
export function notTextReason(buf: Buffer, partial: boolean): string | undefined {
  if (startsWith(buf, [0xff, 0xfe]) || startsWith(buf, [0xfe, 0xff])) {
    return "UTF-16 text (byte-order mark); convert it to UTF-8, e.g. with 'iconv -f UTF-16 -t UTF-8'";
  }
  const nul = buf.indexOf(0);
  if (nul >= 0) return `binary content (a NUL byte at offset ${nul})`;
  try {
    new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf, { stream: partial });
  } catch {
    return 'binary content (not valid UTF-8 text)';
  }
  return undefined;
}

/** Maps a file-system error of `path` to an InputError naming `name`. */
function fsError(e: unknown, name: string): InputError {
  return new InputError((e as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a folder, not a trace file' : fileProblem(e), { file: name });
}

/** True for zlib's errors (corrupt data, unexpected end of file). */
function isZlibError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Reads a stream to the end as a list of buffers, calling `onHead` with its first
 * {@link HEAD_BYTES} bytes as soon as they have arrived (or with all of it, `ended`, when it is
 * shorter), so that binary content is refused without reading it all (e.g. `/dev/zero`).
 * @throws InputError naming `name` beyond `max` bytes; whatever `onHead` throws;
 *   the stream's errors, as they are
 */
async function collect(stream: Readable, name: string, max: number, onHead: (head: Buffer, ended: boolean) => void): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let total = 0;
  let checked = false;
  try {
    for await (const c of stream) {
      const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
      chunks.push(b);
      total += b.length;
      if (!checked && total >= HEAD_BYTES) {
        checked = true;
        onHead(firstBytes(chunks, HEAD_BYTES), false);
      }
      if (total > max) {
        throw new InputError(
          `more than ${max >= 1024 ** 3 ? `${max / 1024 ** 3} GiB` : `${max} bytes`}: input that can be read only once is buffered in memory, up to that limit; save the trace to a file and read that`,
          { file: name },
        );
      }
    }
  } finally {
    stream.destroy();
  }
  if (!checked) onHead(Buffer.concat(chunks), true);
  return chunks;
}

/** The first `max` bytes of `chunks`. */
function firstBytes(chunks: readonly Buffer[], max: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (const c of chunks) {
    if (n >= max) break;
    parts.push(c.subarray(0, max - n));
    n += parts[parts.length - 1].length;
  }
  return Buffer.concat(parts);
}

/** Reads the first `max` bytes of a stream (fewer at its end), then destroys it. */
async function readHead(stream: Readable, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      parts.push(c as Buffer);
      n += (c as Buffer).length;
      if (n >= max) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, max);
}

/**
 * `input` piped through a gunzip stream; an error of `input` is passed on to the result, and
 * destroying the result destroys `input`.
 */
function gunzip(input: Readable): Readable {
  const gz = createGunzip();
  input.on('error', (e) => gz.destroy(e));
  gz.on('close', () => input.destroy());
  return input.pipe(gz);
}

/** The lower-case extension of `path` after removing a trailing `.gz`. */
function contentExtension(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const inner = base.endsWith('.gz') ? base.slice(0, -3) : base;
  const dot = inner.lastIndexOf('.');
  return dot > 0 ? inner.slice(dot) : '';
}

/**
 * Opens a trace: a path, or `-` for standard input. Reads the first bytes once to recognise the
 * content: gzip (magic bytes 1f 8b, whatever the file is called) is decompressed transparently;
 * other compressions (zstd, xz, bzip2, zip, 7z, lz4), Parquet, UTF-16 text and other binary
 * content (a NUL byte or invalid UTF-8 in the first 4 KiB, after gunzip for gzip) are refused.
 * A regular file is streamed anew on each `open()`; standard input, a FIFO (e.g. `<(cat x)`), a
 * character device or a socket is buffered once in memory (still compressed), as it can be read
 * only once, up to {@link MAX_BUFFERED_BYTES} (its first bytes are checked as soon as they arrive,
 * so `/dev/zero` is refused at once).
 * @param file  the path as given, or `-` for standard input (named `stdin` in messages)
 * @throws InputError naming the file: no such file, a directory, permission denied, any other
 *   read error (`cannot read: ...`); `compressed with zstd; llmsched reads CSV or JSONL traces,
 *   plain or gzip (.gz): decompress with 'zstd -d FILE'` and the like; `binary content (...)`;
 *   `corrupt gzip data (...)` when the start of a gzip stream cannot be decompressed; more than
 *   4 GiB of buffered input; `-` when standard input is a terminal (nothing piped in)
 */
export async function openTraceSource(file: string, opts: SourceOptions = {}): Promise<TraceSource> {
  const stdin = file === '-';
  const name = stdin ? STDIN_NAME : file;
  let raw: () => Readable;
  let rawHead: Buffer;
  let buffered: boolean;
  // Refuses other compressions and (unless gzip) binary content from the first raw bytes.
  const checkRaw = (head: Buffer, ended: boolean): void => {
    const magic = magicOf(head);
    if (magic !== undefined) {
      const what = magic.name === 'Parquet' ? 'a Parquet file' : magic.name === 'zip' || magic.name === '7z' ? `a ${magic.name} archive` : `compressed with ${magic.name}`;
      const fix = stdin ? `${magic.verb} it before piping it in` : magic.fix.replace('FILE', file);
      throw new InputError(`${what}; ${READABLE_FORMATS}: ${fix}`, { file: name });
    }
    if (isGzip(head)) return; // checked once decompressed
    const why = notTextReason(head, !ended);
    if (why !== undefined) throw new InputError(`${why}; ${READABLE_FORMATS}`, { file: name });
  };
  const buffer = async (stream: Readable): Promise<Buffer[]> => {
    try {
      return await collect(stream, name, opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES, checkRaw);
    } catch (e) {
      throw e instanceof InputError ? e : fsError(e, name);
    }
  };
  if (stdin) {
    if (opts.stdin === undefined && process.stdin.isTTY) {
      throw new InputError("standard input is a terminal: pipe a trace in, e.g. 'zcat trace.csv.gz | sim --trace -'", { file: name });
    }
    const chunks = await buffer(opts.stdin ?? process.stdin);
    raw = () => Readable.from(chunks, { objectMode: false });
    rawHead = firstBytes(chunks, HEAD_BYTES);
    buffered = true;
  } else {
    let st;
    try {
      st = await fsp.stat(file);
    } catch (e) {
      throw fsError(e, name);
    }
    if (st.isDirectory()) throw new InputError('is a folder, not a trace file', { file: name });
    if (st.isFile()) {
      let fh;
      try {
        fh = await fsp.open(file, 'r');
        const buf = Buffer.alloc(HEAD_BYTES);
        const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
        rawHead = buf.subarray(0, bytesRead);
      } catch (e) {
        throw fsError(e, name);
      } finally {
        await fh?.close();
      }
      raw = () => createReadStream(file);
      buffered = false;
      checkRaw(rawHead, rawHead.length < HEAD_BYTES);
    } else {
      // A FIFO, character device or socket: readable once, so buffered.
      const chunks = await buffer(createReadStream(file));
      raw = () => Readable.from(chunks, { objectMode: false });
      rawHead = firstBytes(chunks, HEAD_BYTES);
      buffered = true;
    }
  }

  const gzip = isGzip(rawHead);
  let head = rawHead;
  if (gzip) {
    try {
      head = await readHead(gunzip(raw()), HEAD_BYTES);
    } catch (e) {
      if (isZlibError(e)) throw new InputError(`corrupt gzip data (${(e as Error).message})`, { file: name });
      throw fsError(e, name);
    }
    const why = notTextReason(head, true);
    if (why !== undefined) throw new InputError(`gzip-compressed ${why}; ${READABLE_FORMATS}`, { file: name });
  }
  const decoder = new StringDecoder('utf8');
  const headText = decoder.write(head);
  return {
    name,
    path: file,
    compression: gzip ? 'gzip' : 'none',
    extension: stdin ? '' : contentExtension(file),
    head: headText,
    headIsAll: head.length < HEAD_BYTES,
    buffered,
    open: gzip ? () => gunzip(raw()) : raw,
    readError(e: unknown, line?: number): InputError {
      if (e instanceof InputError) return e;
      const after = line !== undefined && line > 0 ? ` after line ${line}` : '';
      if (isZlibError(e)) {
        return new InputError(`corrupt or truncated gzip data${after} (${(e as Error).message})`, { file: name });
      }
      if ((e as NodeJS.ErrnoException | null)?.code === 'ERR_STRING_TOO_LONG' || (e instanceof RangeError && e.message.includes('Invalid string length'))) {
        return new InputError(`a line${after} is too long to read (more than ${MAX_LINE_CHARS} characters)`, { file: name });
      }
      if ((e as NodeJS.ErrnoException | null)?.code !== undefined) return fsError(e, name);
      return new InputError(`cannot read${after}: ${(e as Error)?.message ?? String(e)}`, { file: name });
    },
  };
}

/**
 * A source given as a path (opened with {@link openTraceSource}) or already opened, for readers
 * that accept either.
 * @throws InputError as {@link openTraceSource}
 */
export async function asTraceSource(file: string | TraceSource): Promise<TraceSource> {
  return typeof file === 'string' ? openTraceSource(file) : file;
}
