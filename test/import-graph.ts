/**
 * The project's import graph, read from the source files (no TypeScript compiler): relative
 * specifiers of `import … from`, `import type … from`, `export … from`, side-effect `import '…'`
 * and dynamic `import('…')` with a literal string, resolved to files. Used by test/layers.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Directed graph: node → the nodes it imports. */
export type Graph = Map<string, Set<string>>;

/**
 * `src` with only its code left readable, same length and same lines: each comment character
 * becomes a space, and each character inside a string, a template literal's text (its `${…}`
 * code, nested to any depth, stays) or a regular-expression literal becomes '_' (the quotes and
 * slashes stay). Newlines are kept, so line starts stay line starts.
 */
export function maskSource(src: string): string {
  const out = src.split('');
  const n = src.length;
  /** What each open `{` belongs to: plain code, or a template literal's `${`. */
  const braces: ('code' | 'template')[] = [];
  let prev = ''; // last significant character of code (not space, not comment)
  let word = ''; // last identifier of code, for `return /re/` and the like
  const blank = (from: number, to: number, by = ' ') => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = by;
  };
  const regexAfterWord = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'instanceof']);
  /** Skips a template literal's text from i (just after '`' or '}'); returns the index after its end or after `${`. */
  const template = (start: number): number => {
    let i = start;
    while (i < n) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        blank(start, i, '_');
        return i + 1;
      } else if (c === '$' && src[i + 1] === '{') {
        blank(start, i, '_');
        braces.push('template');
        return i + 2;
      } else i++;
    }
    blank(start, n, '_');
    return n;
  };
  let i = 0;
  while (i < n) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      const start = ++i;
      while (i < n && src[i] !== c && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
      blank(start, Math.min(i, n), '_');
      i++;
      prev = c;
      word = '';
    } else if (c === '`') {
      i = template(i + 1);
      prev = '`';
      word = '';
    } else if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev) || regexAfterWord.has(word))) {
      // A regular-expression literal: up to the closing '/' outside a character class.
      const start = ++i;
      let inClass = false;
      while (i < n && src[i] !== '\n') {
        const d = src[i];
        if (d === '\\') i++;
        else if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        i++;
      }
      blank(start, Math.min(i, n), '_');
      i++;
      prev = '/';
      word = '';
    } else if (c === '{') {
      braces.push('code');
      prev = c;
      word = '';
      i++;
    } else if (c === '}') {
      if (braces.pop() === 'template') {
        i = template(i + 1);
        prev = '`';
      } else {
        prev = c;
        i++;
      }
      word = '';
    } else if (/[A-Za-z0-9_$]/.test(c)) {
      let j = i;
      while (j < n && /[A-Za-z0-9_$]/.test(src[j])) j++;
      word = src.slice(i, j);
      prev = src[j - 1];
      i = j;
    } else {
      if (!/\s/.test(c)) {
        prev = c;
        word = '';
      }
      i++;
    }
  }
  return out.join('');
}

// Matched on the masked source (maskSource); group 2 is the specifier's place in the original.
const STATIC = /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\1/dgm;
const SIDE_EFFECT = /^[ \t]*import\s*(['"])([^'"\n]+)\1/dgm;
const DYNAMIC = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*[,)]/dg;

/** Every module specifier `src` imports or re-exports (relative or not), in order of appearance; none from comments, strings or templates. */
export function importSpecifiers(src: string): string[] {
  const code = maskSource(src);
  const found: [number, number][] = [];
  for (const re of [STATIC, SIDE_EFFECT, DYNAMIC]) {
    for (const m of code.matchAll(re)) found.push(m.indices![2]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([from, to]) => src.slice(from, to));
}

/** Source files (`.ts`, `.js`, `.mjs`; not `.d.ts`) under `root`, relative with '/' separators, skipping `skip` folders and dot folders. */
export function sourceFiles(root: string, skip: ReadonlySet<string>): string[] {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!e.name.startsWith('.') && !skip.has(p)) walk(p);
      } else if (/\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) files.push(p);
    }
  };
  walk('');
  return files.sort();
}

/** The import graph of `files` (paths relative to `root`) and the relative specifiers that resolve to none of them. */
export function importGraph(root: string, files: readonly string[]): { graph: Graph; unresolved: string[] } {
  const known = new Set(files);
  const graph: Graph = new Map(files.map((f) => [f, new Set<string>()]));
  const unresolved: string[] = [];
  for (const f of files) {
    for (const spec of importSpecifiers(fs.readFileSync(path.join(root, f), 'utf8'))) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) continue;
      let target = path.posix.normalize(path.posix.join(path.posix.dirname(f), spec));
      // bin/ loads the compiled modules: dist/X.js is built from X.ts.
      if (target.startsWith('dist/')) target = target.slice('dist/'.length);
      const candidates = [target, target.replace(/\.js$/, '.ts'), `${target}.ts`, `${target}/index.ts`];
      const hit = candidates.find((c) => known.has(c));
      if (hit) graph.get(f)!.add(hit);
      else unresolved.push(`${f}: '${spec}'`);
    }
  }
  return { graph, unresolved };
}

/** Top-level folder of a relative path ('.' for a file at the root). */
export const topFolder = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

/** The graph between top-level folders (edges inside one folder dropped). */
export function folderGraph(g: Graph): Graph {
  const out: Graph = new Map();
  for (const [a, bs] of g) {
    const fa = topFolder(a);
    if (!out.has(fa)) out.set(fa, new Set());
    for (const b of bs) if (topFolder(b) !== fa) out.get(fa)!.add(topFolder(b));
  }
  return out;
}

/**
 * One cycle per strongly connected component that has one (Tarjan's algorithm), each as a path
 * that starts and ends at the same node, e.g. `['a', 'b', 'c', 'a']`; a self-import is `['a', 'a']`.
 * Empty when the graph is acyclic. Deterministic for a given graph.
 */
export function findCycles(g: Graph): string[][] {
  const nodes = new Set<string>(g.keys());
  for (const bs of g.values()) for (const b of bs) nodes.add(b);
  const next = (v: string) => [...(g.get(v) ?? [])].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  // Iterative Tarjan: frames of (node, its successors, position in them).
  for (const root of [...nodes].sort()) {
    if (index.has(root)) continue;
    const frames: { v: string; succ: string[]; k: number }[] = [];
    const enter = (v: string) => {
      index.set(v, counter);
      low.set(v, counter++);
      stack.push(v);
      onStack.add(v);
      frames.push({ v, succ: next(v), k: 0 });
    };
    enter(root);
    while (frames.length > 0) {
      const top = frames[frames.length - 1];
      if (top.k < top.succ.length) {
        const w = top.succ[top.k++];
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      frames.pop();
      if (frames.length > 0) {
        const parent = frames[frames.length - 1].v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.v);
        components.push(comp);
      }
    }
  }
  const cycles: string[][] = [];
  for (const comp of components) {
    const members = new Set(comp);
    const start = [...comp].sort()[0];
    if (comp.length === 1 && !(g.get(start)?.has(start) ?? false)) continue;
    // Shortest path from start back to start inside the component (breadth first).
    const from = new Map<string, string>();
    const queue = [start];
    let found = false;
    for (let q = 0; q < queue.length && !found; q++) {
      for (const w of next(queue[q])) {
        if (!members.has(w)) continue;
        if (w === start) {
          from.set(start, queue[q]);
          found = true;
          break;
        }
        if (!from.has(w)) {
          from.set(w, queue[q]);
          queue.push(w);
        }
      }
    }
    const back: string[] = []; // the cycle's nodes after start, last first
    for (let v = from.get(start)!; v !== start; v = from.get(v)!) back.push(v);
    cycles.push([start, ...back.reverse(), start]);
  }
  return cycles;
}
