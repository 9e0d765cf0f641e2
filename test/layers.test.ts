/**
 * The import graph shows layers (README "Code layout"): no import loop between files or between
 * top-level folders, the core (`sim/`) imports nothing outside itself, `sim/errors.ts` imports
 * nothing, and the shell (`app/`) is imported only by what runs it (bench/, test/, bin/). Reads
 * the source files only (test/import-graph.ts), so it takes well under a second.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycles, folderGraph, importGraph, importSpecifiers, maskSource, sourceFiles, topFolder, type Graph } from './import-graph.ts';

const root = path.resolve(import.meta.dirname, '..');

/** Every source file of the project but the tests (bench/ and bin/ included). */
const files = sourceFiles(root, new Set(['node_modules', 'dist', 'test', 'docs']));
const { graph, unresolved } = importGraph(root, files);
const edges = [...graph].flatMap(([a, bs]) => [...bs].map((b) => [a, b] as const));

/**
 * Layer of each top-level folder, lowest first: a folder imports only from lower layers. Within
 * one layer folders do not import each other. A new top-level folder needs a line here.
 */
const LAYER: Readonly<Record<string, number>> = {
  sim: 0,
  policies: 1,
  traces: 1,
  kernels: 1,
  calibrate: 2,
  notebooks: 2,
  app: 3,
  bench: 4,
  bin: 4,
  examples: 4, // plugin examples (docs/plugins.md): they import nothing of the project
  '.': 4, // vitest.config.ts
};

const graphOf = (pairs: [string, string][]): Graph => {
  const g: Graph = new Map();
  for (const [a, b] of pairs) {
    if (!g.has(a)) g.set(a, new Set());
    if (!g.has(b)) g.set(b, new Set());
    g.get(a)!.add(b);
  }
  return g;
};
const show = (cycles: string[][]) => cycles.map((c) => c.join(' -> ')).join('\n');

describe('the cycle finder', () => {
  it('reports a cycle of a small graph as its path, and none in a DAG', () => {
    const g = graphOf([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd'], ['d', 'e'], ['x', 'x']]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c', 'a'], ['x', 'x']]);
    expect(findCycles(graphOf([['a', 'b'], ['b', 'c'], ['a', 'c'], ['c', 'd']]))).toEqual([]);
  });

  it('gives the shortest way back inside a component, and one cycle per component', () => {
    const g = graphOf([['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'a'], ['b', 'a'], ['p', 'q'], ['q', 'p'], ['d', 'p']]);
    expect(findCycles(g)).toEqual([['p', 'q', 'p'], ['a', 'b', 'a']]);
  });

  it('finds the folder loop of files that form no file loop', () => {
    const g = graphOf([['sim/a.ts', 'policies/b.ts'], ['policies/c.ts', 'sim/d.ts']]);
    expect(findCycles(g)).toEqual([]);
    expect(findCycles(folderGraph(g))).toEqual([['policies', 'sim', 'policies']]);
  });
});

describe('reading imports', () => {
  it('finds static, type-only, re-export, side-effect and dynamic imports, not those in comments or strings', () => {
    const src = [
      "import fs from 'node:fs';",
      "import { a,",
      "  b } from './a.ts';",
      "import type { T } from '../sim/t.ts';",
      "export { c } from './c.ts';",
      "export * from './d.ts';",
      "import './e.ts';",
      "const m = await import('./f.ts');",
      "// import { x } from './comment.ts';",
      "/* import('./block.ts') */",
      "/** e.g. `import { y } from './doc.ts'` */",
      "const s = 'import(\"./string.ts\")'; const re = /['\"]/g; const u = 'http://x'; const g = 'dist/*';",
      "const t = `${import.meta.url} ${'`'}`;",
      "export const late = () => import('./g.ts');",
    ].join('\n');
    expect(importSpecifiers(src)).toEqual(['node:fs', './a.ts', '../sim/t.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
  });

  it('masks comments, and the insides of strings, regular expressions and template text', () => {
    const src = "a = '//x'; // c\nb = /\\/\\*/; /* d */ c = `t${'/*' + f(`u`)}v`; d = x / 2 / y;";
    expect(maskSource(src)).toBe("a = '___';     \nb = /____/;         c = `_${'__' + f(`_`)}_`; d = x / 2 / y;");
  });
});

describe('the import graph of the project', () => {
  it('reads every source folder and resolves every relative import', () => {
    for (const folder of ['sim', 'policies', 'traces', 'kernels', 'calibrate', 'notebooks', 'app', 'bench', 'bin']) {
      expect(files.some((f) => f.startsWith(`${folder}/`)), folder).toBe(true);
    }
    expect(unresolved, 'relative imports that resolve to no source file').toEqual([]);
    expect(edges.length).toBeGreaterThan(300);
  });

  it('has no import loop between files', () => {
    const cycles = findCycles(graph);
    expect(cycles, `import loops:\n${show(cycles)}`).toEqual([]);
  });

  it('has no import loop between top-level folders', () => {
    const cycles = findCycles(folderGraph(graph));
    const why = cycles.map((c) => c.slice(1).map((to, k) => {
      const from = c[k];
      const e = edges.find(([a, b]) => topFolder(a) === from && topFolder(b) === to)!;
      return `${from} -> ${to} (${e[0]} imports ${e[1]})`;
    }).join('\n'));
    expect(cycles, `folder loops:\n${why.join('\n\n')}`).toEqual([]);
  });

  it('keeps each folder in its layer: imports go only to lower layers', () => {
    const unknown = [...new Set(files.map(topFolder))].filter((f) => LAYER[f] === undefined);
    expect(unknown, 'top-level folders without a layer in LAYER').toEqual([]);
    const up = edges.filter(([a, b]) => topFolder(a) !== topFolder(b) && LAYER[topFolder(b)] >= LAYER[topFolder(a)]).map(([a, b]) => `${a} -> ${b}`);
    expect(up, 'imports into the same or a higher layer').toEqual([]);
  });

  it('sim/ (the core) imports nothing outside sim/, types included', () => {
    const out = edges.filter(([a, b]) => topFolder(a) === 'sim' && topFolder(b) !== 'sim').map(([a, b]) => `${a} -> ${b}`);
    expect(out).toEqual([]);
  });

  it('sim/errors.ts imports nothing at all', () => {
    expect(importSpecifiers(fs.readFileSync(path.join(root, 'sim', 'errors.ts'), 'utf8'))).toEqual([]);
  });

  it('app/ (the shell) is imported only by bench/, test/ and bin/', () => {
    const users = new Set(['app', 'bench', 'test', 'bin']);
    const bad = edges.filter(([a, b]) => topFolder(b) === 'app' && !users.has(topFolder(a))).map(([a, b]) => `${a} -> ${b}`);
    expect(bad).toEqual([]);
    expect(graph.get('bin/sim.js')).toEqual(new Set(['app/cli.ts']));
  });
});
