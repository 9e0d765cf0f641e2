/**
 * Vidur's trace CSV (`arrived_at,num_prefill_tokens,num_decode_tokens`, microsoft/vidur
 * data/processed_traces) as a trace format, and Vidur's `max_tokens` clipping on request
 * (`--vidur-max-tokens`): hand-worked rows, the same requests read as a generic CSV, and the errors.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTrace } from '../traces/index.ts';
import { runSim, inputErrorAsync } from './helpers.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-vidur-'));

/**
 * The first rows of Vidur's splitwise_conv.csv (absolute arrivals from 0.0), then rows over 4096
 * tokens: 3000 + 1200 (clipped to a 2896-token prompt), 4000 + 96 (exactly 4096: kept), and
 * 4500 + 10 (clipped to 4086), in a file whose arrivals start at 100 s and has an extra column.
 */
const ROWS = [
  ['100.0', '374', '44'],
  ['104.314579', '396', '109'],
  ['107.5', '3000', '1200'],
  ['108', '4000', '96'],
  ['110.25', '4500', '10'],
];

function vidurFile(dir: string, extra = false): string {
  const f = path.join(dir, 'trace.csv');
  const head = extra ? 'arrived_at,num_prefill_tokens,num_decode_tokens,session' : 'arrived_at,num_prefill_tokens,num_decode_tokens';
  fs.writeFileSync(f, [head, ...ROWS.map((r, i) => (extra ? [...r, `s${i}`] : r).join(','))].join('\n') + '\n');
  return f;
}

describe('Vidur trace CSV', () => {
  it('is detected by its header; arrivals relative to the first, lengths as written, extra columns kept', async () => {
    const t = await readTrace(vidurFile(tmp(), true));
    expect(t.format).toBe('vidur');
    // Relative to the first (plain seconds are subtracted as doubles).
    expect(Array.from(t.arrival_s)).toEqual(ROWS.map((r) => Number(r[0]) - 100));
    expect(Array.from(t.prompt_tokens)).toEqual([374, 396, 3000, 4000, 4500]);
    expect(Array.from(t.output_tokens)).toEqual([44, 109, 1200, 96, 10]);
    expect(t.extra.session).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(t.warnings).toEqual([]);
  });

  it("with --vidur-max-tokens, Vidur's trace-replay clipping: the prompt loses prompt + output − max_tokens, the output is kept", async () => {
    const f = vidurFile(tmp());
    const t = await readTrace(f, { vidurMaxTokens: 4096 });
    // 3000 + 1200 = 4200: prompt 3000 − 104 = 2896; 4000 + 96 = 4096: kept; 4500 + 10: 4500 − 414 = 4086.
    expect(Array.from(t.prompt_tokens)).toEqual([374, 396, 2896, 4000, 4086]);
    expect(Array.from(t.output_tokens)).toEqual([44, 109, 1200, 96, 10]);
    expect(t.warnings).toEqual([`${f}: 2 prompts shortened (first on line 4) so that prompt + output <= --vidur-max-tokens 4096, as Vidur's trace replay clips`]);
    // An output that leaves no prompt is refused, naming its row.
    const e = await inputErrorAsync(readTrace(f, { vidurMaxTokens: 1200 }));
    expect(e.message).toMatch(/trace\.csv:4: num_decode_tokens: num_decode_tokens 1200 leaves no prompt/);
  });

  it('runs exactly as the same requests in the generic format; the clipping option through the CLI', async () => {
    const dir = tmp();
    const vidur = vidurFile(dir);
    const generic = path.join(dir, 'generic.csv');
    fs.writeFileSync(generic, ['arrival_s,prompt_tokens,output_tokens', ...ROWS.map((r) => r.join(','))].join('\n') + '\n');
    const strip = (s: string) => ({ ...JSON.parse(s), sim: null });
    const a = await runSim('--trace', vidur, '--model', 'llama-3.1-8b', '--json');
    const b = await runSim('--trace', generic, '--model', 'llama-3.1-8b', '--json');
    expect(a.code).toBe(0);
    expect(strip(a.out)).toEqual(strip(b.out));
    // llama-2-7b's 4096-token context rejects the two longer requests unless they are clipped.
    const plain = JSON.parse((await runSim('--trace', vidur, '--json')).out);
    expect(plain.requests.rejected_too_long).toBe(2);
    const clipped = await runSim('--trace', vidur, '--vidur-max-tokens', '4096', '--json');
    expect(JSON.parse(clipped.out).requests).toMatchObject({ completed: 5, rejected: 0 });
    expect(clipped.err).toContain('2 prompts shortened');
  }, 60_000);
});
