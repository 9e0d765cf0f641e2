/**
 * The bad-input corpus (test/bad-input/README.md): every case exits 2 with one line on stderr that
 * names the file, line and field (or the option), no stack trace, nothing on stdout.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { runSim } from './helpers.ts';

const CORPUS = path.resolve('test/bad-input');

/** One case of a table (see the README). */
interface Case {
  name: string;
  args: string[];
  error: string | string[];
  setup?: ({ file: string; text: string } | { dir: string })[];
  stdin?: string;
  process?: boolean;
  root_skip?: boolean;
  /** Table file the case came from. */
  table: string;
}

function loadCases(): Case[] {
  const cases: Case[] = [];
  for (const f of fs.readdirSync(CORPUS).filter((n) => n.endsWith('.yaml')).sort()) {
    // The failsafe schema reads every scalar as text, as typed: `0o7` or `0x10` stay strings (the
    // YAML 1.2 core schema would turn them into numbers before sim ever saw them).
    const list = parse(fs.readFileSync(path.join(CORPUS, f), 'utf8'), { schema: 'failsafe' }) as Record<string, unknown>[];
    for (const c of list ?? []) {
      cases.push({ ...(c as unknown as Omit<Case, 'table'>), process: c.process === 'true', root_skip: c.root_skip === 'true', table: f });
    }
  }
  return cases;
}

const CASES = loadCases();
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Result of one sim invocation. */
interface Outcome {
  code: number | null;
  out: string;
  err: string;
}

function runProcess(args: string[], stdin: string | undefined): Outcome {
  const r = spawnSync(process.execPath, [path.resolve('bin/sim.js'), ...args], {
    input: stdin ?? '',
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bad-input corpus', () => {
  it('has at least 150 cases with unique names, each from a table and with an expected message', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150);
    const names = CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of CASES) {
      expect(Array.isArray(c.args), c.name).toBe(true);
      expect(c.error, c.name).toBeTruthy();
    }
  });

  it.each(CASES.map((c) => [`${c.table}: ${c.name}`, c] as const))('%s', async (_label, c) => {
    if (c.root_skip && isRoot) return;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-bad-'));
    const sub = (s: string) => s.replace(/@tmp(?=\/|$)/g, tmp).replace(/@(?=\/)/g, CORPUS);
    try {
      for (const step of c.setup ?? []) {
        if ('dir' in step) fs.mkdirSync(sub(step.dir), { recursive: true });
        else {
          fs.mkdirSync(path.dirname(sub(step.file)), { recursive: true });
          fs.writeFileSync(sub(step.file), sub(step.text));
        }
      }
      const args = c.args.map((a) => sub(String(a)));
      const r: Outcome = c.process || c.stdin !== undefined ? runProcess(args, c.stdin === undefined ? undefined : sub(c.stdin)) : await runSim(...args);
      const detail = `${c.name}: exit ${r.code}\nstdout: ${r.out.slice(0, 500)}\nstderr: ${r.err.slice(0, 2000)}`;
      expect(r.code, detail).toBe(2);
      expect(r.out, detail).toBe('');
      expect(r.err.endsWith('\n'), detail).toBe(true);
      const lines = r.err.slice(0, -1).split('\n');
      expect(lines, detail).toHaveLength(1);
      expect(lines[0].startsWith('sim: '), detail).toBe(true);
      // No stack frame, JS error class or leaked non-value; quoted echoes of the user's input ('NaN') aside.
      const own = lines[0].replace(/'[^']*'/g, "''");
      expect(own, detail).not.toMatch(/\bat .*:\d+:\d+\)?$|^\s+at |TypeError|RangeError|ReferenceError|SyntaxError: Unexpected|\bundefined\b|\bNaN\b|\[object /);
      for (const want of Array.isArray(c.error) ? c.error : [c.error]) expect(lines[0], detail).toContain(sub(want));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
