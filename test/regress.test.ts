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
import { regress, loadScenarios, readBaseline, defaultBaselineFile, defaultScenariosFile, withinTolerance, formatDrifts, SUMMARY_METRICS } from '../app/regress/regress.ts';
import { normalizeOptions, resolveRun } from '../app/config.ts';
import { runResolved } from '../app/run.ts';
import { runSim } from './helpers.ts';
import { makeRegressCommand } from '../app/regress/command.ts';
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
    // Change one behaviour: ssjf's starvation guard after 0.5 s of waiting. (Turning the guard off
    // changes nothing once --max-model-len rejects the sample's 143 longest requests: it never fires.)
    for (const c of j.groups[0].cases) if (c.policy === 'ssjf') c['policy-opt'] = ['starvation-wait=0.5'];
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
    expect(() => loadScenarios(f)).toThrow(/s\.json:1: metrics\.e2e_s\.mean\.rel: must be a non-negative number/);
    await expect(regress({ baseline: path.join(dir, 'none.json') })).rejects.toThrow(/none\.json: no baseline/);
  });
});

/** The checked-in scenario set with its trace paths made absolute, for writing elsewhere. */
function shippedSet(): { metrics: Record<string, unknown>; groups: { name: string; options: Record<string, unknown>; seeds?: number[]; cases: Record<string, unknown>[] }[] } {
  const j = JSON.parse(fs.readFileSync(defaultScenariosFile(), 'utf8'));
  for (const g of j.groups) g.options.trace = path.resolve(path.dirname(defaultScenariosFile()), g.options.trace);
  return j;
}

/** A small scenario set (one group, two cases of the Azure sample's first 100 requests). */
function smallSet(): ReturnType<typeof shippedSet> {
  const j = shippedSet();
  return { metrics: j.metrics, groups: [{ name: 'small', options: { trace: j.groups[0].options.trace, limit: 100 }, seeds: [1], cases: [{ policy: 'fcfs' }, { policy: 'sjf', predictor: 'oracle' }] }] };
}

describe('sim regress checks its files before running', () => {
  it('knows every metric path a summary has: the catalog equals the numeric fields of real runs', async () => {
    // Independent truth: the dotted paths of number or null leaves of actual summaries, with a
    // predictor, with programs and with SLOs (per-replica lists, names and wall time left out).
    const leaves = new Set<string>();
    const walk = (x: unknown, prefix: string) => {
      for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
        const key = prefix + k;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v, key + '.');
        else if (v === null || typeof v === 'number') leaves.add(key);
      }
    };
    const trace = path.join(path.dirname(defaultScenariosFile()), '..', '..', 'traces', 'azure-conv-2000.csv');
    const react = path.join(path.dirname(defaultScenariosFile()), '..', '..', 'traces', 'react-100.jsonl');
    for (const o of [
      { policy: 'ssjf', predictor: 'ssjf-buckets', trace, limit: 100, 'slo-ttft': 1, 'slo-tpot': 0.1 },
      { policy: 'plas', trace: react, model: 'llama-3-8b', replicas: 2 },
    ]) {
      walk(runResolved(await resolveRun(normalizeOptions(o))).summary, '');
    }
    leaves.delete('sim.wall_s');
    expect([...SUMMARY_METRICS].sort()).toEqual([...leaves].sort());
  });

  it('an unknown metric path in the set is an input error naming file, line and path; --update writes nothing', async () => {
    const dir = tmp();
    const scen = path.join(dir, 's.json');
    const j = smallSet();
    j.metrics['e2e_s.p999'] = { rel: 0, abs: 0 };
    fs.writeFileSync(scen, JSON.stringify(j, null, 2));
    const base = path.join(dir, 'b.json');
    let ran = 0;
    const err = await regress({ scenarios: scen, baseline: base, update: true, override: (s) => (ran++, s.options) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const e = err as InputError;
    expect([e.file, e.field]).toEqual([scen, 'metrics.e2e_s.p999']);
    expect(e.line).toBe(fs.readFileSync(scen, 'utf8').split('\n').findIndex((l) => l.includes('"e2e_s.p999"')) + 1);
    expect(e.message).toContain("unknown metric path 'e2e_s.p999' (did you mean 'e2e_s.p99'?)");
    expect(ran).toBe(0);
    expect(fs.existsSync(base)).toBe(false);
    // Wall time is a real path but never a regression metric.
    j.metrics = { 'sim.wall_s': { rel: 1, abs: 1 } };
    fs.writeFileSync(scen, JSON.stringify(j));
    expect(() => loadScenarios(scen)).toThrow(/sim\.wall_s.*wall-clock/);
  });

  it('an unknown metric path in the baseline is an input error naming the scenario and path, not a drift', async () => {
    const dir = tmp();
    const base = path.join(dir, 'b.json');
    const b = JSON.parse(fs.readFileSync(defaultBaselineFile(), 'utf8'));
    b.scenarios['azure-conv/fcfs/s2']['ttft_s.p99x'] = 1;
    fs.writeFileSync(base, JSON.stringify(b, null, 2));
    const e = (await regress({ baseline: base }).catch((x: unknown) => x)) as InputError;
    expect(e).toBeInstanceOf(InputError);
    expect([e.file, e.field]).toEqual([base, 'scenarios.azure-conv/fcfs/s2']);
    expect(e.line).toBe(fs.readFileSync(base, 'utf8').split('\n').findIndex((l) => l.includes('"ttft_s.p99x"')) + 1);
    expect(e.message).toContain("'ttft_s.p99x'");
    b.scenarios['azure-conv/fcfs/s2']['ttft_s.p99x'] = undefined;
    b.scenarios['azure-conv/fcfs/s2']['ttft_s.p99'] = 'fast';
    fs.writeFileSync(base, JSON.stringify(b, null, 2));
    expect(() => readBaseline(base)).toThrow(/scenarios\.azure-conv\/fcfs\/s2: metric 'ttft_s\.p99': expected a number or null/);
  });

  it.each([
    ['a bad policy-opt', (j: ReturnType<typeof smallSet>) => (j.groups[0].cases[1]['policy-opt'] = ['bogus=1']), 'groups[0].cases[1].policy-opt', 'scenario small/sjf+oracle/s1: --policy-opt: unknown sjf option bogus'],
    ['a hex number', (j: ReturnType<typeof smallSet>) => (j.groups[0].options['max-num-seqs'] = '0x10'), 'groups[0].options.max-num-seqs', 'written in decimal'],
    ['an unknown option', (j: ReturnType<typeof smallSet>) => (j.groups[0].cases[0]['polcy'] = 'fcfs'), 'groups[0].cases[0].polcy', 'unknown run option'],
    ['a seed in the options', (j: ReturnType<typeof smallSet>) => (j.groups[0].options.seed = 3), 'groups[0].options.seed', '"seeds" list'],
    ['a missing trace', (j: ReturnType<typeof smallSet>) => (j.groups[0].options.trace = 'nope.csv'), 'groups[0].options.trace', 'no such file'],
    ['a model that does not fit', (j: ReturnType<typeof smallSet>) => (j.groups[0].cases[0].model = 'llama-2-70b'), 'groups[0].cases[0]', 'scenario small/fcfs/s1: --gpu: model llama-2-70b'],
    ['a negative tolerance', (j: ReturnType<typeof smallSet>) => (j.metrics['e2e_s.mean'] = { rel: 0.1, abs: -1 }), 'metrics.e2e_s.mean.abs', 'non-negative'],
    ['a bad seed', (j: ReturnType<typeof smallSet>) => (j.groups[0].seeds = [1, 1.5]), 'groups[0].seeds[1]', 'integer'],
  ])('%s: one line with file, line, field and scenario, before anything runs', async (_what, edit, field, says) => {
    const dir = tmp();
    const scen = path.join(dir, 's.json');
    const j = smallSet();
    edit(j);
    fs.writeFileSync(scen, JSON.stringify(j, null, 2));
    const r = await runSim('regress', '--scenarios', scen, '--baseline', path.join(dir, 'b.json'), '--update');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    const lines = r.err.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^sim: ${scen.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: ${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(lines[0]).toContain(says);
    expect(fs.existsSync(path.join(dir, 'b.json'))).toBe(false);
  });

  it('--update checks the baseline is writable before running, and writes it atomically', async () => {
    const dir = tmp();
    const scen = path.join(dir, 's.json');
    fs.writeFileSync(scen, JSON.stringify(smallSet()));
    fs.writeFileSync(path.join(dir, 'a-file'), 'x');
    let ran = 0;
    const count = (s: { options: object }) => (ran++, s.options);
    for (const bad of [path.join(dir, 'a-file', 'b.json'), dir]) {
      const e = (await regress({ scenarios: scen, baseline: bad, update: true, override: count }).catch((x: unknown) => x)) as InputError;
      expect(e).toBeInstanceOf(InputError);
      expect(e.field).toBe('--baseline');
    }
    expect(ran).toBe(0);
    const base = path.join(dir, 'new', 'b.json');
    await regress({ scenarios: scen, baseline: base, update: true, override: count });
    expect(ran).toBe(2);
    expect(fs.readdirSync(path.dirname(base))).toEqual(['b.json']);
    expect(Object.keys(readBaseline(base).scenarios)).toEqual(['small/fcfs/s1', 'small/sjf+oracle/s1']);
    expect((await regress({ scenarios: scen, baseline: base })).drifts).toEqual([]);
    const twice = await runSim('regress', '--scenarios', scen, '--scenarios', scen);
    expect([twice.code, twice.err]).toEqual([2, 'sim: --scenarios: given 2 times; give it once\n']);
  });
});
