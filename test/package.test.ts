/**
 * The installable package: `npm pack` ships what an installed `llmsched` needs, and the installed
 * copy works as a command (`node_modules/.bin/sim`) and as a library (`import ... from 'llmsched'`,
 * typed), giving the same numbers both ways. docs/api.md.
 *
 * The tarball is packed with `--ignore-scripts`: `prepare` would rebuild dist/ under the other test
 * files that read it; dist/ is fresh here (test/global-setup.ts rebuilds it when stale; CI's
 * `npm ci` built it through `prepare`). It is installed with `npm install --offline` when the npm
 * cache holds every dependency; otherwise (no cache, as on a machine whose node_modules was not
 * installed by `npm ci`) the tarball is unpacked into node_modules/llmsched and its dependencies
 * are this repository's node_modules, linked as node_modules/llmsched/node_modules: the package's
 * own files are what is tested either way.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let tmp = '';
let inst = '';
let packed: string[] = [];

/** Runs a command; throws with its output when it fails. */
function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, npm_config_update_notifier: 'false', FORCE_COLOR: '0' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-pack-'));
  const info = JSON.parse(sh(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root)) as { filename: string; files: { path: string }[] }[];
  packed = info[0].files.map((f) => f.path);
  const tarball = path.join(tmp, info[0].filename);
  inst = path.join(tmp, 'consumer');
  fs.mkdirSync(inst);
  fs.writeFileSync(path.join(inst, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const offline = spawnSync(npm, ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: inst, encoding: 'utf8', timeout: 240_000 });
  if (offline.status !== 0) {
    const pkg = path.join(inst, 'node_modules', 'llmsched');
    fs.rmSync(path.join(inst, 'node_modules'), { recursive: true, force: true });
    fs.mkdirSync(pkg, { recursive: true });
    sh('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1'], inst);
    fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules')), path.join(pkg, 'node_modules'), 'dir');
    fs.mkdirSync(path.join(inst, 'node_modules', '.bin'));
    fs.symlinkSync('../llmsched/bin/sim.js', path.join(inst, 'node_modules', '.bin', 'sim'));
  }
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Data rows of the shipped sample trace, counted from the file itself. */
const SAMPLE_ROWS = fs.readFileSync(path.join(root, 'traces', 'azure-conv-2000.csv'), 'utf8').trim().split('\n').length - 1;

describe('npm pack', () => {
  it('ships the compiled code with declarations, the bin, the sample traces, profiles and examples, and no tests', () => {
    for (const f of ['package.json', 'bin/sim.js', 'dist/app/api.js', 'dist/app/api.d.ts', 'dist/app/cli.js', 'dist/app/sweep/worker.js', 'traces/azure-conv-2000.csv', 'traces/react-100.jsonl', 'calibrate/profiles/llama-2-7b-vidur-a100.json', 'examples/lpf.mjs', 'README.md', 'LICENSE', 'docs/api.md', 'docs/plugins.md']) {
      expect(packed, f).toContain(f);
    }
    expect(packed.filter((f) => f.startsWith('test/') || f.startsWith('node_modules/') || f.startsWith('dist/bench/') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs a `sim` that runs the shipped sample and a library whose run() gives the same numbers', () => {
    const sample = path.join('node_modules', 'llmsched', 'traces', 'azure-conv-2000.csv');
    const cli = spawnSync(path.join(inst, 'node_modules', '.bin', 'sim'), ['--trace', sample, '--rate-scale', '0.7', '--json'], { cwd: inst, encoding: 'utf8', timeout: 240_000 });
    expect(cli.status, cli.stderr).toBe(0);
    const s = JSON.parse(cli.stdout);
    expect(s.requests.total).toBe(SAMPLE_ROWS);
    expect(s.requests.completed + s.requests.rejected).toBe(SAMPLE_ROWS);
    for (const k of ['ttft_s', 'tpot_s', 'e2e_s', 'throughput', 'makespan_s', 'mfu']) expect(s, k).toHaveProperty(k);

    fs.writeFileSync(
      path.join(inst, 'use.mjs'),
      `import { run, readTrace, POLICIES, PREDICTORS, ROUTERS, REQUEST_COLUMNS } from 'llmsched';
const r = await run({ trace: ${JSON.stringify(sample)}, 'rate-scale': 0.7 });
const t = await readTrace(${JSON.stringify(sample)});
const lpf = await run({ trace: ${JSON.stringify(sample)}, policy: './node_modules/llmsched/examples/lpf.mjs', limit: 200 });
console.log(JSON.stringify({ summary: r.summary, rows: r.rows().length, columns: REQUEST_COLUMNS, n: t.n, cost: r.run.costDescription,
  registries: [POLICIES.length, PREDICTORS.length, ROUTERS.length], lpf: lpf.run.policies[0].name, lpfCompleted: lpf.summary.requests.completed }));
`,
    );
    const api = spawnSync(process.execPath, ['use.mjs'], { cwd: inst, encoding: 'utf8', timeout: 240_000 });
    expect(api.status, api.stderr).toBe(0);
    const a = JSON.parse(api.stdout);
    expect(a.n).toBe(SAMPLE_ROWS);
    expect(a.rows).toBe(SAMPLE_ROWS);
    expect(a.columns[0]).toBe('id');
    // The shipped measured profile was found inside the installed package.
    expect(a.cost).toContain('llama-2-7b-vidur-a100.json');
    expect(a.registries.every((n: number) => n > 0)).toBe(true);
    expect(a.lpf).toBe('LPF');
    expect(a.lpfCompleted).toBeGreaterThan(150);
    // Only the simulator's own wall time may differ between the two.
    const { sim: _x, ...fromCli } = s;
    const { sim: _y, ...fromApi } = a.summary;
    expect(fromApi).toEqual(fromCli);
  }, 300_000);

  it("type-checks a TypeScript consumer against the installed declarations (and catches a type error)", () => {
    fs.writeFileSync(
      path.join(inst, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
        files: ['use.ts'],
      }),
    );
    const good = `import { run, type PolicyEntry, type Summary, type RequestRow } from 'llmsched';
const lpf: PolicyEntry = { name: 'lpf', description: 'd', source: 's', predictor: 'none',
  create: () => ({ name: 'LPF', batching: { mode: 'admit' }, attach() {}, priority: () => 0 }) };
const r = await run({ trace: 'x.csv', policy: lpf.name, replicas: 2 });
const s: Summary = r.summary;
const row: RequestRow = r.rows()[0];
console.log(s.ttft_s.mean, row.ttft_s);
`;
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    fs.writeFileSync(path.join(inst, 'use.ts'), good);
    const ok = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: inst, encoding: 'utf8', timeout: 240_000 });
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    fs.writeFileSync(path.join(inst, 'use.ts'), good + 'const bad: string = r.summary.requests.total;\nconsole.log(bad);\n');
    const bad = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: inst, encoding: 'utf8', timeout: 240_000 });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain("Type 'number' is not assignable to type 'string'");
  }, 300_000);
});
