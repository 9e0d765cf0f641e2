/**
 * `sim` loads only what a command uses (app/cli.ts): a plain run and `--help` must not load the
 * plotting stack, the sweep's worker pool and YAML parser, the Parquet writer, the progress bar,
 * csv-parse (plain CSV is split by hand) or the ShareGPT tokenizer. Checked on the compiled CLI with a module loader hook
 * that records every module URL loaded; what a command costs in time is the bench's business.
 * The optional `webgpu` package (Dawn, ~130 MB) is loaded only by the kernel commands: with it made
 * unresolvable, a run still works and `sim calibrate`'s sweep fails with one line saying how to
 * install it.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const SAMPLE = path.resolve('traces/azure-conv-2000.csv');

/** Packages a run or `--help` must not load (each is used by one subcommand, or for odd input). */
const LAZY = ['jsdom', '@observablehq/plot', '@resvg/resvg-js', 'piscina', 'yaml', 'hyparquet-writer', 'cli-progress', 'csv-parse', 'gpt-tokenizer', 'pdfkit', 'svg-to-pdfkit', 'webgpu'];

// Preloaded: registers a loader hook that sends every loaded URL to the main thread, which prints
// them to stderr at exit.
const HOOK = `
import { register } from 'node:module';
const seen = new Set();
const { port1, port2 } = new MessageChannel();
const hook = 'let port; export function initialize(d) { port = d.port; } export async function load(u, c, next) { port.postMessage(u); return next(u, c); }';
register('data:text/javascript,' + encodeURIComponent(hook), { data: { port: port2 }, transferList: [port2] });
port1.on('message', (u) => seen.add(u));
port1.unref();
process.on('exit', () => process.stderr.write([...seen].map((u) => 'loaded ' + u + '\\n').join('')));
`;

/** The packages (under node_modules) that `sim ARGS` loads. */
function packagesLoaded(args: string[]): Set<string> {
  const r = spawnSync(process.execPath, ['--import', 'data:text/javascript,' + encodeURIComponent(HOOK), path.resolve('bin/sim.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const pkgs = new Set<string>();
  for (const m of r.stderr.matchAll(/^loaded .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) pkgs.add(m[1]);
  return pkgs;
}

describe('lazy subcommands', () => {
  it('a plain run loads yargs but none of the subcommands\' heavy packages', () => {
    const pkgs = packagesLoaded(['--trace', SAMPLE, '--limit', '100', '--json']);
    expect(pkgs.has('yargs')).toBe(true); // the hook works
    for (const p of LAZY) expect(pkgs.has(p), p).toBe(false);
  });

  it('--help loads none of them either', () => {
    const pkgs = packagesLoaded(['--help']);
    expect(pkgs.has('yargs')).toBe(true);
    for (const p of LAZY) expect(pkgs.has(p), p).toBe(false);
  });
});

// Preloaded: makes the bare specifier 'webgpu' unresolvable, as after `npm ci --omit=optional`.
const NO_WEBGPU = `
import { register } from 'node:module';
const hook = 'export async function resolve(s, c, next) { if (s === "webgpu" || s.startsWith("webgpu/")) { const e = new Error("Cannot find package \\'webgpu\\' imported from " + c.parentURL); e.code = "ERR_MODULE_NOT_FOUND"; throw e; } return next(s, c); }';
register('data:text/javascript,' + encodeURIComponent(hook));
`;

/** `sim ARGS` with the `webgpu` package unresolvable. */
function simWithoutWebgpu(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', 'data:text/javascript,' + encodeURIComponent(NO_WEBGPU), path.resolve('bin/sim.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('without the optional webgpu package', () => {
  it('a run works', () => {
    const r = simWithoutWebgpu(['--trace', SAMPLE, '--limit', '100', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).requests.total).toBe(100);
  });

  it('a calibration sweep fails with one line saying how to install it', () => {
    const out = path.join(os.tmpdir(), `llmsched-no-webgpu-${process.pid}.json`);
    const r = simWithoutWebgpu(['calibrate', '--model', 'llama-2-7b', '--quick', '--out', out]);
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull(); // exited, not killed by the timeout
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/npm install webgpu/);
    expect(lines[0]).toMatch(/docs\/webgpu\.md/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
