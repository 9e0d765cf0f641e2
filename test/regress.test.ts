/**
 * `sim regress`: the checked-in baseline passes; an injected behaviour change (a policy swapped in
 * process, a scenario modified on disk) fails with exit 1 and a table naming the scenario's policy;
 * `--update` into a temporary baseline makes it pass again. The checked-in baseline is never written.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import yargs from 'yargs';
import { regress, loadScenarios, defaultBaselineFile, defaultScenariosFile, withinTolerance, formatDrifts } from '../sim/regress/regress.ts';
import { makeRegressCommand } from '../sim/regress/command.ts';
import { InputError } from '../sim/errors.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-regress-'));

/** Runs the `regress` command module in process; returns exit code and output. */
async function cmd(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  let code = 0;
  const sink = (f: (s: string) => void) => new Writable({ write(chunk, _e, cb) { f(String(chunk)); cb(); } });
  await yargs(['regress', ...args])
    .command(makeRegressCommand({ out: sink((s) => (out += s)), err: sink((s) => (err += s)), exit: (c) => (code = c) }))
    .strict()
    .exitProcess(false)
    .fail((msg, e) => { throw e ?? new Error(msg); })
    .parseAsync();
  return { code, out, err };
}

describe('sim regress', () => {
  const checkedIn = fs.readFileSync(defaultBaselineFile(), 'utf8');

  it('passes on the checked-in baseline with a one-line summary', async () => {
    const set = loadScenarios(defaultScenariosFile());
    const nMetrics = Object.keys(set.metrics).length;
    const { code, out } = await cmd();
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(out).toMatch(new RegExp(`^${set.scenarios.length} scenarios, ${set.scenarios.length * nMetrics} metrics within tolerance`));
    expect(set.scenarios.length).toBeGreaterThanOrEqual(20);
    for (const p of ['fcfs', 'sjf', 'ssjf', 'ltr', 'trail', 'srpt']) expect(set.scenarios.some((s) => s.options.policy === p)).toBe(true);
    expect(set.scenarios.some((s) => s.options['chunked-prefill'] === true)).toBe(true);
  });

  it('fails when a policy is swapped in process, naming the scenario and metric', async () => {
    const report = await regress({
      override: (s) => (s.options.policy === 'sjf' ? { ...s.options, policy: 'srpt' } : s.options),
    });
    expect(report.drifts.length).toBeGreaterThan(0);
    const moved = new Set(report.drifts.map((d) => d.scenario));
    expect([...moved].every((n) => n.includes('/sjf+'))).toBe(true);
    expect(moved.size).toBe(2); // both seeds
    const table = formatDrifts(report.drifts);
    expect(table.split('\n')[0]).toMatch(/scenario\s+metric\s+baseline\s+now\s+change\s+tolerance/);
    expect(table).toContain('azure-conv/sjf+oracle/s1');
    expect(table).toMatch(/e2e_s\.mean/);
    expect(table).toMatch(/[+-]\d+\.\d\d%/);
  });

  it('exits 1 on a modified scenario, then passes after --update into a temp baseline', async () => {
    const dir = tmp();
    const scen = path.join(dir, 'scenarios.json');
    const base = path.join(dir, 'baseline.json');
    // Same scenarios (paths made absolute), baseline copied from the checked-in one.
    const j = JSON.parse(fs.readFileSync(defaultScenariosFile(), 'utf8'));
    for (const g of j.groups) g.options.trace = path.resolve(path.dirname(defaultScenariosFile()), g.options.trace);
    fs.writeFileSync(scen, JSON.stringify(j));
    fs.copyFileSync(defaultBaselineFile(), base);
    expect((await cmd('--scenarios', scen, '--baseline', base)).code).toBe(0);
    // Change one behaviour: ssjf without its starvation guard.
    for (const c of j.groups[0].cases) if (c.policy === 'ssjf') c['policy-opt'] = ['starvation=off'];
    fs.writeFileSync(scen, JSON.stringify(j));
    const bad = await cmd('--scenarios', scen, '--baseline', base);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('azure-conv/ssjf+ssjf-buckets/s1');
    expect(bad.out).not.toContain('fcfs');
    expect(bad.out).toMatch(/out of tolerance/);
    const json = JSON.parse((await cmd('--scenarios', scen, '--baseline', base, '--json')).out);
    expect(json.ok).toBe(false);
    expect(json.drifts[0]).toHaveProperty('changePct');
    const up = await cmd('--scenarios', scen, '--baseline', base, '--update');
    expect(up.code).toBe(0);
    expect(up.out).toMatch(/baseline updated/);
    const again = await cmd('--scenarios', scen, '--baseline', base);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/within tolerance/);
    expect(fs.readFileSync(defaultBaselineFile(), 'utf8')).toBe(checkedIn);
  });

  it('is deterministic: two runs write byte-identical baselines', async () => {
    const dir = tmp();
    await regress({ update: true, baseline: path.join(dir, 'a.json') });
    await regress({ update: true, baseline: path.join(dir, 'b.json') });
    expect(fs.readFileSync(path.join(dir, 'a.json'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'b.json'), 'utf8'));
  });

  it('tolerance: passes within max(abs, rel·|baseline|), null only equals null', () => {
    expect(withinTolerance(100, 100.09, { rel: 0.001, abs: 0 })).toBe(true);
    expect(withinTolerance(100, 100.11, { rel: 0.001, abs: 0 })).toBe(false);
    expect(withinTolerance(0, 0.5, { rel: 0.5, abs: 1 })).toBe(true);
    expect(withinTolerance(null, null, { rel: 0, abs: 0 })).toBe(true);
    expect(withinTolerance(null, 0, { rel: 1, abs: 1 })).toBe(false);
  });

  it('bad input: InputError naming the file and field', async () => {
    const dir = tmp();
    const f = path.join(dir, 's.json');
    fs.writeFileSync(f, JSON.stringify({ metrics: { 'e2e_s.mean': { rel: -1, abs: 0 } }, groups: [] }));
    expect(() => loadScenarios(f)).toThrow(InputError);
    expect(() => loadScenarios(f)).toThrow(/s\.json: metrics\.e2e_s\.mean/);
    await expect(regress({ baseline: path.join(dir, 'none.json') })).rejects.toThrow(/none\.json: no baseline/);
  });
});
