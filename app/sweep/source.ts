/**
 * Structured input files of `sim sweep` and `sim regress` (grids, scenario sets, baselines): YAML
 * or JSON parsed into plain values, with the line of every key and item kept for error messages.
 *
 * YAML is read with its 1.2 core schema, with two guards: a number written other than in decimal
 * (`0x10`, `0o17`, `.inf`, `.nan`) stays the string it was written as, so the strict readers of
 * sim/values.ts refuse it as they refuse `--max-num-seqs 0x10`; and aliases are expanded at most
 * {@link MAX_YAML_ALIASES} times relative to the document's size (yaml's `maxAliasCount`), so a
 * "billion laughs" file is one error line instead of an exhausted heap. JSON is read by
 * `JSON.parse` (its own strict grammar) and located by the same YAML parser, which reads JSON too.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Yaml from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';
import { InputError } from '../../sim/errors.ts';
import { parseDecimal } from '../../sim/values.ts';
import { fileProblem, readTextFile } from '../../sim/files.ts';

/** A path into a structured value: map keys and list indices. */
export type KeyPath = readonly (string | number)[];

/** A parsed file: its value and the 1-based line of any key path in it. */
export interface Structured {
  /** The file, as given. */
  file: string;
  /** The parsed value (plain objects, arrays, strings, numbers, booleans, null). */
  value: unknown;
  /**
   * 1-based line of the deepest node along `keys` that exists (a map entry's key, a list's item),
   * or undefined when not even the first key is found (or the file could not be located).
   */
  lineOf(keys: KeyPath): number | undefined;
}

/**
 * yaml's `maxAliasCount`: how many times aliases may be expanded, counting the nodes each brings
 * in, before the file is refused as a resource-exhaustion attack (yaml's own default).
 */
export const MAX_YAML_ALIASES = 100;

/**
 * The dotted name of a key path, as errors name fields: `engine.limit`, `policies[1].opts.mae`.
 */
export function fieldName(keys: KeyPath): string {
  let s = '';
  for (const k of keys) s += typeof k === 'number' ? `[${k}]` : s === '' ? k : `.${k}`;
  return s;
}

let yamlModule: typeof Yaml | undefined;

/**
 * The yaml package, loaded on first use (its CommonJS build, so synchronously): `sim` imports this
 * module with the sweep and regress commands' option lists on every run, and a YAML parser is
 * needed only when a grid or scenario file is read.
 */
function yaml(): typeof Yaml {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}

/** Line lookup over a yaml Document (also a JSON one). */
function locator(doc: Document, lc: LineCounter): (keys: KeyPath) => number | undefined {
  const { isMap, isSeq, isScalar } = yaml();
  const lineAt = (n: Node | null | undefined): number | undefined => (n?.range ? lc.linePos(n.range[0]).line : undefined);
  return (keys) => {
    let node: unknown = doc.contents;
    let line: number | undefined = keys.length === 0 ? lineAt(node as Node) : undefined;
    for (const k of keys) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(k));
        if (!pair) break;
        line = lineAt(pair.key as Node) ?? lineAt(pair.value as Node) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof k === 'number') {
        const item = node.items[k];
        if (item === undefined) break;
        line = lineAt(item as Node) ?? line;
        node = item;
      } else break;
    }
    return line;
  };
}

/**
 * The line of a JSON.parse error: from its `position N` when the message has one, else where the
 * YAML parser (which reads JSON too) finds its first error, if it does.
 */
function jsonErrorLine(text: string, message: string): number | undefined {
  const m = /position (\d+)/.exec(message);
  if (m) return text.slice(0, Number(m[1])).split('\n').length;
  try {
    const doc = yaml().parseDocument(text, { prettyErrors: true });
    return doc.errors[0]?.linePos?.[0].line;
  } catch {
    return undefined;
  }
}

/** A JSON.parse message on one line, without the excerpt of the text V8 may quote. */
function jsonMessage(message: string): string {
  return message.replace(/, (\.\.\.)?".*$/s, '').replace(/\s+/g, ' ').trim();
}

/**
 * Parses `text`, the content of `file`, as YAML or JSON.
 * @param kind `yaml` or `json`
 * @param what what the file is, for messages ('grid', 'scenario set')
 * @throws InputError naming the file and line for a syntax error, several documents, a duplicate
 *   key, or too many aliases (a YAML alias bomb).
 */
export function parseStructured(text: string, file: string, kind: 'yaml' | 'json', what: string): Structured {
  const { parseDocument, visit } = yaml();
  const lc = new (yaml().LineCounter)();
  if (kind === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      const msg = (e as Error).message;
      throw new InputError(`invalid JSON ${what}: ${jsonMessage(msg)}`, { file, line: jsonErrorLine(text, msg) });
    }
    let lineOf: (keys: KeyPath) => number | undefined = () => undefined;
    try {
      const doc = parseDocument(text, { lineCounter: lc });
      if (doc.errors.length === 0) lineOf = locator(doc, lc);
    } catch {
      // Lines are a courtesy for JSON: the value came from JSON.parse.
    }
    return { file, value, lineOf };
  }
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lc });
  } catch (e) {
    throw new InputError(`invalid YAML ${what}: ${(e as Error).message.split('\n')[0]}`, { file });
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new InputError(`invalid YAML ${what}: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`, { file, line: e.linePos?.[0].line });
  }
  let firstAlias: number | undefined;
  visit(doc, {
    Scalar(_key, node) {
      // `0x10`, `0o17`, `.inf`: keep the text, for the strict number readers to refuse.
      if (typeof node.value === 'number' && node.source !== undefined && Number.isNaN(parseDecimal(node.source))) node.value = node.source;
    },
    Alias(_key, node) {
      if (firstAlias === undefined && node.range) firstAlias = lc.linePos(node.range[0]).line;
    },
  });
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    const msg = (e as Error).message;
    if (/alias/i.test(msg)) {
      throw new InputError(`invalid YAML ${what}: its aliases expand to too many nodes (more than ${MAX_YAML_ALIASES} alias expansions for its size: a resource-exhaustion attack, or write the values out)`, { file, line: firstAlias });
    }
    throw new InputError(`invalid YAML ${what}: ${msg.split('\n')[0]}`, { file });
  }
  return { file, value, lineOf: locator(doc, lc) };
}

/**
 * Reads a structured file: YAML (`.yaml`, `.yml`) or JSON (`.json`), by extension.
 * @param what what the file is, for messages
 * @throws InputError naming the file for another extension, an unreadable or empty file, or any
 *   error of {@link parseStructured}.
 */
export function loadStructured(file: string, what: string, text?: string): Structured {
  const ext = path.extname(file).toLowerCase();
  const kind = ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
  if (kind === undefined) throw new InputError(`a ${what} must be .yaml, .yml or .json (got '${ext || 'no extension'}')`, { file });
  if (text === undefined) text = readTextFile(file, what, true);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new InputError(`empty ${what} file`, { file, line: 1 });
  return parseStructured(text, file, kind, what);
}

/**
 * Checks that `file` exists, is a regular file (not a folder, pipe or device) and can be opened
 * for reading, without reading it.
 * @param what what the file is ('trace', 'profile'), for the message
 * @param where the file, line and field that named it (a grid's `traces[1]`)
 * @throws InputError at `where`: `cannot read trace /abs/t.csv: no such file`.
 */
export function checkReadableFile(file: string, what: string, where: { file?: string; line?: number; field?: string }): void {
  let problem: string | undefined;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) problem = 'is a folder, not a file';
    else if (!st.isFile()) problem = 'is not a regular file (a pipe or device cannot be shared by the tasks)';
    else fs.closeSync(fs.openSync(file, 'r'));
  } catch (e) {
    problem = fileProblem(e);
  }
  if (problem !== undefined) throw new InputError(`cannot read ${what} ${file}: ${problem}`, where);
}
