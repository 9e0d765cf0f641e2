/**
 * Files in and out, safely: reading a whole text file with a one-line error (every whole-file
 * read of the project goes through {@link tryReadTextFile}; only traces are streamed), creating an output
 * folder (without Node 20's `mkdirSync({recursive})`, which loops forever under `/proc`), checking
 * it is writable before any work starts, and writing files atomically (a temporary name in the
 * same folder, then rename), also in streamed chunks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from './errors.ts';

/** A one-line reason for a file-system error (`no such file`, `permission denied`, ...); falls back to the error's own first line. */
export function fileProblem(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a folder, not a file';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'ENAMETOOLONG':
      return 'file name too long';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'EEXIST':
      return 'already exists';
    default:
      return (err?.message ?? String(e)).split('\n')[0];
  }
}

/**
 * Reads a whole UTF-8 text file (a leading BOM is dropped), for a caller that does not stop at an
 * unreadable file (a sweep re-runs the task; a plot falls back to a folder's name). The one place
 * a whole text file is read; {@link readTextFile} throws instead.
 * @param file the path.
 * @returns `{ text }`, or `{ problem }`: a one-line reason from {@link fileProblem} (`no such
 *   file`, `is a folder, not a file`, `permission denied`, ...).
 */
export function tryReadTextFile(file: string): { text: string } | { problem: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { problem: fileProblem(e) };
  }
  return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
}

/**
 * Reads a whole UTF-8 text file (a leading BOM is dropped): a config, profile, grid, scenario or
 * baseline file, a Vidur table, a sweep result, a table to plot. Trace files are streamed instead
 * (traces/source.ts).
 * @param file the path.
 * @param what what the file is, for the message (e.g. 'grid', 'profile').
 * @param allowEmpty whether an empty (or blank) file is returned rather than refused.
 * @returns the text.
 * @throws InputError naming the file: `cannot read WHAT: no such file` (any reason of
 *   {@link fileProblem}) for a missing, unreadable or folder path; `empty WHAT file` when the file
 *   is blank and `allowEmpty` is false.
 */
export function readTextFile(file: string, what: string, allowEmpty = false): string {
  const r = tryReadTextFile(file);
  if ('problem' in r) throw new InputError(`cannot read ${what}: ${r.problem}`, { file });
  if (!allowEmpty && r.text.trim() === '') throw new InputError(`empty ${what} file`, { file });
  return r.text;
}

/** A JSON file read whole: its text, the parsed value, and where a key first appears. */
export interface JsonFile {
  text: string;
  value: unknown;
  /** 1-based line of the first occurrence of `"key"` in the text, or undefined (for messages). */
  lineOf(key: string): number | undefined;
}

/**
 * Reads and parses a whole JSON file (a config, a benchmark result, a summary).
 * @param what what the file is, for the message (e.g. 'config').
 * @throws InputError naming the file: as {@link readTextFile} for a missing, unreadable or empty
 *   file; `not valid JSON: ...` with the line of the syntax error when the parser reports its position.
 */
export function readJsonFile(file: string, what: string): JsonFile {
  const text = readTextFile(file, what);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    const pos = /position (\d+)/.exec(msg);
    throw new InputError(`not valid JSON: ${msg}`, { file, line: pos ? text.slice(0, Number(pos[1])).split('\n').length : undefined });
  }
  const lineOf = (key: string): number | undefined => {
    const i = text.indexOf(JSON.stringify(key));
    return i < 0 ? undefined : text.slice(0, i).split('\n').length;
  };
  return { text, value, lineOf };
}

/**
 * Creates folder `dir` and its missing parents, one level at a time.
 * @param field the option that named it (e.g. '--out'), for the message
 * @throws InputError naming the folder and the option when a part of the path is a file, or a
 *   folder cannot be created (permission, read-only or virtual file system).
 */
export function makeDir(dir: string, field: string): void {
  const abs = path.resolve(dir);
  const parts: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    parts.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of parts) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new InputError(`cannot use ${p}: ${fileProblem(e)}`, { file: dir, field });
    }
    if (st !== undefined) {
      if (!st.isDirectory()) throw new InputError(p === abs ? 'is a file, not a folder' : `${p} is a file, not a folder`, { file: dir, field });
      continue;
    }
    try {
      fs.mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(p).isDirectory()) continue;
      throw new InputError(p === abs ? `cannot create this folder: ${fileProblem(e)}` : `cannot create its parent folder ${p}: ${fileProblem(e)}`, { file: dir, field });
    }
  }
}

/**
 * Makes sure `dir` exists (created if needed) and that files can be created in it, by creating
 * and removing a probe file. Call before any long work, so a bad `--out` fails in a second.
 * @throws InputError naming the folder and `field` otherwise.
 */
export function prepareOutputDir(dir: string, field: string): void {
  makeDir(dir, field);
  const probe = path.join(dir, `.llmsched-probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (e) {
    throw new InputError(`cannot write into output folder: ${fileProblem(e)}`, { file: dir, field });
  }
}

/**
 * Checks that `file` can be written: its folder exists or is created ({@link prepareOutputDir}),
 * and `file` itself is not a folder.
 * @throws InputError naming the file and `field`.
 */
export function prepareOutputFile(file: string, field: string): void {
  prepareOutputDir(path.dirname(path.resolve(file)), field);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    return;
  }
  if (st.isDirectory()) throw new InputError('is a folder, not a file', { file, field });
}

/** Temporary name of `file` while it is being written (same folder, so rename is atomic). */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same folder, then rename. A reader
 * sees the old file or the new one, never a half-written one.
 * @throws InputError naming the file when it cannot be written.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const w = new AtomicWriter(file);
  w.write(data);
  w.commit();
}

/**
 * A file written in chunks under a temporary name and renamed to `file` by {@link commit};
 * {@link abort} removes the temporary file. Chunks are buffered up to `bufferBytes` (default
 * 1 MiB) and written synchronously, so memory stays bounded whatever the file's size.
 */
export class AtomicWriter {
  /** The final path. */
  readonly file: string;
  private readonly tmp: string;
  private fd: number;
  private parts: string[] = [];
  private pending = 0;
  private readonly bufferBytes: number;

  /** @throws InputError naming the file when its temporary file cannot be created. */
  constructor(file: string, bufferBytes = 1 << 20) {
    this.file = file;
    this.tmp = tempName(file);
    this.bufferBytes = bufferBytes;
    try {
      this.fd = fs.openSync(this.tmp, 'w');
    } catch (e) {
      throw new InputError(`cannot write: ${fileProblem(e)}`, { file });
    }
  }

  /** Appends `data` (a string is written as UTF-8). */
  write(data: string | Uint8Array): void {
    if (typeof data !== 'string') {
      this.flush();
      this.writeRaw(data);
      return;
    }
    this.parts.push(data);
    this.pending += data.length;
    if (this.pending >= this.bufferBytes) this.flush();
  }

  /** Writes the buffered chunks to the temporary file. */
  flush(): void {
    if (this.parts.length === 0) return;
    const s = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    this.writeRaw(s);
  }

  private writeRaw(data: string | Uint8Array): void {
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let off = 0; off < buf.length; ) off += fs.writeSync(this.fd, buf, off);
    } catch (e) {
      this.abort();
      throw new InputError(`cannot write: ${fileProblem(e)}`, { file: this.file });
    }
  }

  /** Flushes, closes and renames the temporary file to the final name. */
  commit(): void {
    this.flush();
    try {
      fs.closeSync(this.fd);
      this.fd = -1;
      fs.renameSync(this.tmp, this.file);
    } catch (e) {
      this.abort();
      throw new InputError(`cannot write: ${fileProblem(e)}`, { file: this.file });
    }
  }

  /** Closes and removes the temporary file (idempotent); the final file is left as it was. */
  abort(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = -1;
    }
    try {
      fs.unlinkSync(this.tmp);
    } catch {
      /* already gone */
    }
  }
}
