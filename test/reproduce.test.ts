/**
 * `sim reproduce` (app/reproduce/): the verdict rules on hand-made factors, the document's
 * sections and their merge (rerunning one reproduction keeps the others byte for byte), the
 * searches and the TBT approximation on hand-made records, SkipPredict's SOAP formulas against
 * docs/spec.md §12's exact values, SSJF's arrival process and throughput metric, one small
 * reproduction end to end through the CLI, and the regression traces against what
 * `sim reproduce NAME --export` writes.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verdict, improvement, factorFromChange } from '../app/reproduce/verdict.ts';
import { renderSection, parseSections, mergeDocument, buildDocument, anchor } from '../app/reproduce/doc.ts';
import type { Reproduction, ReproductionResult } from '../app/reproduce/reproduction.ts';
import { largestRate, crossing } from '../app/reproduce/search.ts';
import { skipPredictMean, longFraction } from '../app/reproduce/skippredict.ts';
import { geometricLattice, fcfsOracle, latticeMoments } from '../app/reproduce/lattice.ts';
import { ssjfExperiment, throughputAt25 } from '../app/reproduce/ssjf.ts';
import { hasSharedReference, readSsjfPredictions, blockTrace, checkDrained, runOn } from '../app/reproduce/workloads.ts';
import { exportWorkloads, defaultShared } from '../app/reproduce/reproduce.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import { InputError } from '../sim/errors.ts';
import { runSim } from './helpers.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-reproduce-'));
const shared = defaultShared();
const haveShared = hasSharedReference(shared);

describe('verdict', () => {
  // SSJF's paper range −30.5% .. −39.6% is factors 1.4388 .. 1.6556, gains 0.4388 .. 0.6556.
  const ssjf = { lo: factorFromChange(-30.5), hi: factorFromChange(-39.6) };

  it('turns a percentage change and two measurements into factors', () => {
    expect(factorFromChange(-30.5)).toBeCloseTo(1 / 0.695, 12);
    expect(factorFromChange(50)).toBeCloseTo(1 / 1.5, 12);
    expect(improvement(10, 4, 'lower')).toBe(2.5);
    expect(improvement(2, 5, 'higher')).toBe(2.5);
    expect(() => factorFromChange(-100)).toThrow();
    expect(() => improvement(0, 1, 'lower')).toThrow();
  });

  it('agrees inside [half the smallest gain, twice the largest], boundaries included', () => {
    expect(verdict(ssjf, 1 / (1 - 0.26)).label).toBe('agrees'); // −26%: gain 0.351
    expect(verdict({ lo: 2.8, hi: 2.8 }, 2.09)).toMatchObject({ direction: true, withinTwoX: true, label: 'agrees' });
    expect(verdict({ lo: 3, hi: 3 }, 2).label).toBe('agrees'); // gain 1 = half of 2
    expect(verdict({ lo: 3, hi: 3 }, 5).label).toBe('agrees'); // gain 4 = twice 2
    expect(verdict({ lo: 3, hi: 3 }, 2).text).toBe("agrees: gain 1.00 vs the paper's 2.00");
  });

  it('is "direction only" when the size is outside that band, saying which way', () => {
    const small = verdict({ lo: 3, hi: 3 }, 1.99);
    expect(small).toMatchObject({ direction: true, withinTwoX: false, label: 'direction only' });
    expect(small.text).toMatch(/under half/);
    const big = verdict(ssjf, 2.5); // gain 1.5 > 2 × 0.656
    expect(big.label).toBe('direction only');
    expect(big.text).toMatch(/over twice the paper's 0.44–0.66/);
  });

  it('disagrees when the sign differs, or there is no effect', () => {
    expect(verdict(ssjf, 0.99)).toMatchObject({ direction: false, withinTwoX: false, label: 'disagrees' });
    expect(verdict(ssjf, 1).label).toBe('disagrees');
  });

  it('compares losses like gains when the paper reports a loss', () => {
    const loss = { lo: 0.8, hi: 0.8 }; // a loss of 1/0.8 − 1 = 0.25
    expect(verdict(loss, 0.85).label).toBe('agrees'); // loss 0.176
    expect(verdict(loss, 0.9).label).toBe('direction only'); // loss 0.111 < 0.125
    expect(verdict(loss, 0.5).label).toBe('direction only'); // loss 1 > 0.5
    expect(verdict(loss, 1.1).label).toBe('disagrees');
    expect(verdict(loss, 0.85).text).toMatch(/^agrees: loss 0.18/);
  });

  it('refuses paper ranges that straddle or touch 1, or run backwards', () => {
    expect(() => verdict({ lo: 0.9, hi: 1.2 }, 1.1)).toThrow();
    expect(() => verdict({ lo: 1, hi: 1 }, 1.1)).toThrow();
    expect(() => verdict({ lo: 2, hi: 1.5 }, 1.1)).toThrow();
    expect(() => verdict({ lo: 1.5, hi: 2 }, NaN)).toThrow();
  });
});

/** A fake reproduction and its result, with a marker word in every field. */
function fake(name: string, word: string, factor: number): { rep: Reproduction; result: ReproductionResult } {
  const setting = { model: word, gpu: word, engine: word, workload: word, rate: word, metric: word };
  const paper = { lo: 2, hi: 2 };
  return {
    rep: { name, title: `${word.toUpperCase()} — Someone et al., arXiv 0000.0000${name.length}`, command: `npx sim reproduce ${name}`, run: async () => fake(name, word, factor).result },
    result: {
      claim: `${word} claims a | pipe`,
      paper: setting,
      ours: setting,
      deviations: [`${word} deviates`],
      claims: [{ what: `${word} metric`, paperText: '2×', paper, oursText: `${factor}×`, ours: factor, verdict: verdict(paper, factor) }],
      tables: [{ title: `${word} table:`, header: ['a', 'b'], rows: [['1', '2']] }],
      notes: [`${word} note`],
    },
  };
}

describe('the document', () => {
  const a = fake('alpha', 'alpha', 1.8);
  const b = fake('beta', 'beta', 1.1);
  const order = ['alpha', 'beta'];
  const file = 'docs/reproductions.md';
  const secA = renderSection(a.rep, a.result);
  const secB = renderSection(b.rep, b.result);

  it('renders a section between its markers, with settings side by side, verdicts and the command', () => {
    const lines = secA.split('\n');
    expect(lines[0]).toBe('<!-- reproduction:alpha -->');
    expect(lines[lines.length - 1]).toBe('<!-- /reproduction:alpha -->');
    expect(secA).toContain('## ALPHA — Someone et al.');
    expect(secA).toContain('| model | alpha | alpha |');
    expect(secA).toContain('| alpha metric | 2× | 1.8× | **agrees** (gain 0.80 vs the paper\'s 1.00) |');
    expect(secA).toContain('alpha claims a | pipe'); // free text is not a table cell
    expect(secA).toContain('Regenerate: `npx sim reproduce alpha`');
    expect(parseSections(secA, file).get('alpha')).toBe(secA);
  });

  it('rebuilds the summary from the sections, in registry order', () => {
    const doc = buildDocument(new Map([['beta', secB], ['alpha', secA]]), order, file);
    const summary = doc.slice(doc.indexOf('## Summary'), doc.indexOf('<!-- reproduction:alpha -->'));
    expect(summary).toContain(`| [ALPHA](#${anchor(a.rep.title)}) | alpha metric | 2× | 1.8× | **agrees** |`);
    expect(summary).toContain('| beta metric | 2× | 1.1× | **direction only** |');
    expect(summary.indexOf('alpha metric')).toBeLessThan(summary.indexOf('beta metric'));
    expect(doc.indexOf('<!-- reproduction:alpha -->')).toBeLessThan(doc.indexOf('<!-- reproduction:beta -->'));
    expect(anchor('SSJF — Qiu et al., arXiv 2404.08509')).toBe('ssjf--qiu-et-al-arxiv-240408509');
  });

  it('rerunning one reproduction replaces its section and keeps the others byte for byte', () => {
    const before = mergeDocument(undefined, new Map([['alpha', secA], ['beta', secB]]), order, file);
    const b2 = fake('beta', 'gamma', 2.5);
    const after = mergeDocument(before, new Map([['beta', renderSection(b.rep, b2.result)]]), order, file);
    expect(after).toContain(secA);
    expect(after).not.toContain('beta deviates');
    expect(after).toContain('gamma deviates');
    expect(after).toMatch(/\| gamma metric \| 2× \| 2.5× \| \*\*agrees\*\* \|/); // summary follows the new section
    expect(after).not.toMatch(/\| beta metric \|/);
    // Rerunning with the same result changes nothing.
    expect(mergeDocument(before, new Map([['alpha', secA]]), order, file)).toBe(before);
    // A section for a name no longer registered is dropped; a new one lands in order.
    expect(mergeDocument(before, new Map(), ['beta'], file)).not.toContain('<!-- reproduction:alpha -->');
  });

  it('refuses a malformed document, naming the file and line', () => {
    const unclosed = `x\n<!-- reproduction:alpha -->\ntext`;
    expect(() => parseSections(unclosed, file)).toThrow(InputError);
    expect(() => parseSections(unclosed, file)).toThrow(/docs\/reproductions.md:2: section 'alpha' is not closed/);
    expect(() => parseSections(`${secA}\n${secA}`, file)).toThrow(/appears twice/);
    expect(() => parseSections(`<!-- reproduction:alpha -->\n${secB}`, file)).toThrow(/:2: section 'beta' opens inside section 'alpha'/);
    expect(() => parseSections(`<!-- reproduction:alpha -->\n<!-- /reproduction:alpha -->`, file)).toThrow(/no verdicts line/);
    expect(() => parseSections(`<!-- /reproduction:alpha -->`, file)).toThrow(/without its opening marker/);
  });
});

describe('searches', () => {
  it('largestRate finds the edge of a threshold to its precision, and its limits', () => {
    let calls = 0;
    const r = largestRate((x) => (calls++, x <= 3.7), { lo: 0.25, hi: 0.5, tol: 0.02, max: 1000 });
    expect(r).toBeLessThanOrEqual(3.7);
    expect(r).toBeGreaterThan(3.7 / 1.02);
    expect(calls).toBeLessThan(20);
    expect(largestRate(() => false, { lo: 1, hi: 2, tol: 0.02, max: 100 })).toBe(0);
    expect(largestRate(() => true, { lo: 1, hi: 2, tol: 0.02, max: 100 })).toBe(Infinity);
  });

  it('crossing interpolates where a curve first exceeds a limit', () => {
    expect(crossing([[1, 1], [2, 3], [3, 1]], 2)).toBe(1.5);
    expect(crossing([[1, 5], [2, 6]], 2)).toBe(0);
    expect(crossing([[1, 1], [2, 1.5]], 2)).toBe(Infinity);
  });
});

describe('SkipPredict formulas (SOAP on a lattice)', () => {
  // Exp(1) sizes on a fine lattice at ρ = 0.7 approach docs/spec.md §12's exact continuous values.
  const d = geometricLattice(1000, 0.001);
  const lam = 0.7 / latticeMoments(d).EX;

  it('with no predicted-short job SkipPredict is SRPT: 1.8746 (§12.5); FCFS is 3.3333 (§12.1)', () => {
    expect(skipPredictMean(d, lam, 0)).toBeCloseTo(1.8746, 2);
    expect(fcfsOracle(d, lam)).toBeCloseTo(3.3333, 2);
  });

  it('with every job predicted short it is FCFS exactly (Pollaczek–Khinchine)', () => {
    const g = geometricLattice(100, 0.01);
    const l = 0.9 / latticeMoments(g).EX;
    expect(skipPredictMean(g, l, g.p.length + 5)).toBeCloseTo(fcfsOracle(g, l), 10);
    expect(longFraction(g, g.p.length + 5)).toBeCloseTo(0, 12);
    expect(longFraction(g, 0)).toBeCloseTo(1, 12);
  });

  it('at the median threshold it lies between SRPT and FCFS', () => {
    const t = skipPredictMean(d, lam, 693); // median of Exp(1) = ln 2 ≈ 693 steps of 0.001
    expect(t).toBeGreaterThan(1.8746);
    expect(t).toBeLessThan(3.3333);
    expect(longFraction(d, 694)).toBeCloseTo(0.5, 2);
  });
});

describe('SSJF workload', () => {
  const p = { output: Int32Array.from({ length: 500 }, (_, i) => 1 + i), predictedClass: Int32Array.from({ length: 500 }, (_, i) => i % 5) };

  it("draws 50 jobs at whole seconds, a Poisson count per second, without repeating a row, seeded", () => {
    const a = ssjfExperiment(p, 3, 0);
    expect(a).toHaveLength(50);
    expect(a.every((r) => Number.isInteger(r.arrival_s) && r.prompt === 1)).toBe(true);
    expect(a.every((r, i) => i === 0 || r.arrival_s >= a[i - 1].arrival_s)).toBe(true);
    expect(new Set(a.map((r) => r.output)).size).toBe(50); // 500 distinct rows, none drawn twice
    expect(a.every((r) => r.predicted === [21, 91.5, 217.5, 398.5, 507][(r.output - 1) % 5])).toBe(true); // the row's class midpoint
    expect(ssjfExperiment(p, 3, 0)).toEqual(a);
    expect(ssjfExperiment(p, 3, 1)).not.toEqual(a);
    // About rate × span jobs arrive: 50 jobs at 3/s take about 17 s.
    expect(a[49].arrival_s).toBeGreaterThan(8);
    expect(a[49].arrival_s).toBeLessThan(30);
  });

  it('throughput at 25% completion is pos / time of the (pos+1)-th completion, pos = ⌊0.25 (n − 1)⌋', () => {
    expect(throughputAt25(Array.from({ length: 50 }, (_, i) => 50 - i))).toBe(12 / 13);
    expect(throughputAt25([4, 1, 2, 3])).toBe(0);
  });

  it('experiments laid end to end stay independent, and a gap too short is caught', () => {
    const rows = [{ arrival_s: 0, prompt: 1, output: 11 }, { arrival_s: 0, prompt: 1, output: 11 }];
    const opts = { 'cost-model': 'linear:base=0,prefill=0,decode=1,kv=0', 'max-num-seqs': 1, 'kv-tokens': 'unlimited' as const, 'prefix-caching': 'off' };
    const ok = blockTrace('two', [rows, rows], 100);
    expect(ok.start).toEqual([0, 2, 4]);
    const out = runOn(ok.trace, { ...opts, policy: 'fcfs' });
    expect(() => checkDrained(out, ok)).not.toThrow();
    expect(Array.from(out.result.requests.completion)).toEqual([10, 20, 110, 120]);
    const tight = blockTrace('two', [rows, rows], 15);
    expect(() => checkDrained(runOn(tight.trace, { ...opts, policy: 'fcfs' }), tight)).toThrow(/block 0 finished at 20 s, after the next block's origin 15 s/);
  });
});

describe('sim reproduce', () => {
  it('runs one reproduction end to end into its section, keeping the other sections, deterministically', { timeout: 120_000 }, async () => {
    const dir = tmp();
    const doc = path.join(dir, 'reproductions.md');
    // An existing document with another reproduction's section.
    const other = fake('ssjf', 'other', 1.5);
    const otherSec = renderSection({ ...other.rep, name: 'ssjf' }, other.result);
    fs.writeFileSync(doc, mergeDocument(undefined, new Map([['ssjf', otherSec]]), ['ssjf', 'sarathi'], doc));
    const r = await runSim('reproduce', 'sarathi', '--out', doc);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^sarathi: capacity under the strict P99 TBT SLO .*: (agrees|direction only|disagrees)/m);
    const text = fs.readFileSync(doc, 'utf8');
    expect(text).toContain(otherSec);
    expect(text).toContain('<!-- reproduction:sarathi -->');
    expect(text).toMatch(/\| \[Sarathi-Serve\]\(#sarathi-serve--agrawal-et-al-arxiv-240302310\) \| capacity under the strict/);
    expect(text.indexOf('<!-- reproduction:ssjf -->')).toBeLessThan(text.indexOf('<!-- reproduction:sarathi -->'));
    await runSim('reproduce', 'sarathi', '--out', doc);
    expect(fs.readFileSync(doc, 'utf8')).toBe(text);
  });

  it('refuses bad input before running anything: an unknown name, a malformed document, --export with --out', async () => {
    const dir = tmp();
    let r = await runSim('reproduce', 'nope', '--out', path.join(dir, 'x.md'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^sim: reproduction: unknown reproduction 'nope'; valid: ssjf, trail, ltr, skippredict, sarathi, autellix, jain, disagg, llumnix\n$/);
    const bad = path.join(dir, 'bad.md');
    fs.writeFileSync(bad, '# x\n\n<!-- reproduction:ssjf -->\nno end\n');
    r = await runSim('reproduce', 'sarathi', '--out', bad);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`sim: ${bad}:3: section 'ssjf' is not closed (<!-- /reproduction:ssjf -->)\n`);
    r = await runSim('reproduce', 'ssjf', '--export', dir, '--out', bad);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out: --export writes workloads/);
    r = await runSim('reproduce', 'ltr', '--export', dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ltr has no request traces to export/);
    r = await runSim('reproduce', '--list');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual(['ssjf', 'trail', 'ltr', 'skippredict', 'sarathi', 'autellix', 'jain', 'disagg', 'llumnix']);
  });

  it('names the missing shared file', async () => {
    const r = await runSim('reproduce', 'ssjf', '--shared', path.join(tmp(), 'none'), '--out', path.join(tmp(), 'r.md'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/predictions_warmup_multi_cls_1000K.csv: .*give --shared DIR/);
  });

  it.skipIf(!haveShared)('the regression traces are exactly what `sim reproduce NAME --export` writes', { timeout: 60_000 }, () => {
    const dir = tmp();
    for (const name of ['ssjf', 'trail']) {
      const [f] = exportWorkloads({ name, dir, shared });
      expect(fs.readFileSync(f, 'utf8')).toBe(fs.readFileSync(path.resolve('app/regress/repro', `${name}.csv`), 'utf8'));
    }
    expect(readSsjfPredictions(shared).output.length).toBe(85_482);
  });
});
