/**
 * `sim calibrate`: the yargs command module. Three modes (docs/calibration.md §4–6):
 * - sweep (default): `sim calibrate --model NAME [--tp N] [--out FILE] [--quick] …` times the WGSL
 *   kernels on this machine's WebGPU adapter and writes a profile;
 * - `--import-vidur DIR [--model NAME] [--tp N] [--network FILE] [--attention FILE] [--out FILE]`
 *   turns a Vidur `mlp.csv` (and its attention and all-reduce tables) into a profile;
 * - `--validate PROFILE|analytical --against DIR [--json]` prints the cost model's error per operator
 *   against a Vidur table.
 */
import path from 'node:path';
import type { SingleBar } from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import { getModel } from '../sim/cost/models.ts';
import { InputError } from '../sim/errors.ts';
import { numberFlag, singleFlag } from '../sim/values.ts';
import { prepareOutputFile } from '../sim/files.ts';
import type { Logger } from '../sim/cost/profile.ts';
import type { KernelApi, SweepOptions } from './sweep.ts';
import type { GpuContext, KernelCase } from '../kernels/index.ts';
// The modes' code (./sweep.ts, ./vidur.ts with csv-parse, ./validate.ts, cli-progress) is imported
// by the handler that needs it, so that loading this module for `sim`'s option list costs nothing.

/** Streams the command writes to: results on `out`, warnings and progress on `err`. */
export interface CalibrateIo {
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean };
  /** Loads the kernels (default: `kernels/index.ts`, imported on first use). */
  loadKernels?: () => Promise<KernelApi>;
}

/** Options of `sim calibrate` as yargs parses them. */
interface CalibrateArgs {
  model?: string;
  tp: number;
  out?: string;
  quick: boolean;
  'max-tokens'?: number;
  'max-seq-len'?: number;
  'max-batch'?: number;
  'max-context'?: number;
  shrink: number;
  warmup?: number;
  repeats?: number;
  dtype: 'f32' | 'f16';
  backend?: string[];
  'import-vidur'?: string;
  network?: string;
  attention?: string;
  validate?: string;
  against?: string;
  gpu?: string;
  json: boolean;
}

/** Loads the WGSL kernels lazily, so that only sweeps load the GPU stack. */
async function defaultKernels(): Promise<KernelApi> {
  const api: KernelApi<GpuContext, KernelCase> = await import('../kernels/index.ts');
  return api as unknown as KernelApi;
}

/** Default profile path of a sweep: `calibrate/profiles/<model>[-shrinkN][-tpN]-<adapter>.json` (relative to the working directory). */
export function defaultSweepOut(model: string, shrink: number, tp: number, adapter: string): string {
  return path.join('calibrate', 'profiles', `${model}${shrink > 1 ? `-shrink${shrink}` : ''}${tp > 1 ? `-tp${tp}` : ''}-${adapter}.json`);
}

function builder(y: Argv): Argv<CalibrateArgs> {
  return y
    .usage(
      '$0 calibrate --model NAME [--tp N] [--out FILE] [--quick]\n' +
        '$0 calibrate --import-vidur DIR [--model NAME] [--tp N] [--network FILE] [--attention FILE] [--out FILE]\n' +
        '$0 calibrate --validate PROFILE|analytical --against DIR [--tp N] [--attention FILE] [--json]',
    )
    .option('model', { type: 'string', describe: 'model (sim models); for --import-vidur/--validate default: told from the Vidur folder' })
    .option('tp', { type: 'string', describe: 'tensor-parallel degree the shapes are cut for (per-GPU widths; default 1)' })
    .option('out', { type: 'string', describe: 'profile file to write (default calibrate/profiles/<model>-<adapter>.json)' })
    .option('quick', { type: 'boolean', default: false, describe: 'small sweep: powers of two, tokens to 64, prefill to 64, decode 8 x 64, 5 runs' })
    .option('max-tokens', { type: 'string', describe: 'largest token count of the linear layers and small ops (default 8192, quick 64)' })
    .option('max-seq-len', { type: 'string', describe: 'largest prefill length of prefill attention (default 8192 capped at the model context, quick 64)' })
    .option('max-batch', { type: 'string', describe: 'largest decode batch and lm_head batch (default 256, quick 8)' })
    .option('max-context', { type: 'string', describe: 'largest decode context (default 4096 capped at the model context, quick 64)' })
    .option('shrink', { type: 'string', describe: 'divide the model widths (heads, hidden, intermediate, vocab) by N: a scaled-down model for slow adapters (default 1)' })
    .option('warmup', { type: 'string', describe: 'untimed runs per shape (default 3, quick 1)' })
    .option('repeats', { type: 'string', describe: 'timed runs per shape (default 20, quick 5)' })
    .option('dtype', { type: 'string', choices: ['f32', 'f16'], default: 'f32', describe: 'element type of the matmuls (f16 needs shader-f16)' })
    .option('backend', { type: 'string', array: true, describe: 'WebGPU backends to try in order (default: vulkan, default, opengles)' })
    .option('import-vidur', { type: 'string', describe: 'import a Vidur model folder (compute/<gpu>/<org>/<model>/, its mlp.csv) as a profile' })
    .option('network', { type: 'string', describe: '--import-vidur at tp > 1: Vidur all_reduce.csv (default: found beside compute/)' })
    .option('attention', { type: 'string', describe: '--import-vidur, --validate: Vidur attention table (default: attention*.csv beside mlp.csv with rows for the model and tp)' })
    .option('validate', { type: 'string', describe: "profile file to check, or 'analytical' (efficiencies fitted on every third token count)" })
    .option('against', { type: 'string', describe: '--validate: Vidur model folder with the measured times' })
    .option('gpu', { type: 'string', describe: "--validate: GPU of the table (default from the Vidur device folder: a100 -> a100-80gb)" })
    .option('json', { type: 'boolean', default: false, describe: '--validate: print the report as JSON' })
    .example('$0 calibrate --model llama-2-7b --quick --shrink 16', 'a seconds-long sweep of a scaled-down Llama-2-7B')
    .example('$0 calibrate --import-vidur ../shared/reference/vidur-profiles/compute/a100/meta-llama/Llama-2-7b-hf', 'Vidur A100 table to a profile')
    .example('$0 calibrate --validate analytical --against ../shared/reference/vidur-profiles/compute/a100/meta-llama/Meta-Llama-3-8B', 'fitted analytical model vs Vidur') as unknown as Argv<CalibrateArgs>;
}

/**
 * The command's options read strictly from yargs' strings: decimal integers within bounds, each
 * flag at most once (sim/values.ts).
 * @throws InputError naming the flag.
 */
function readArgs(argv: Record<string, unknown>): CalibrateArgs {
  const int = (name: string, min: number, max: number, maxReason: string, dflt?: number) => numberFlag(argv, name, { integer: true, min, max, maxReason }, dflt);
  const str = (name: string) => singleFlag(argv, name) as string | undefined;
  return {
    model: str('model'),
    tp: int('tp', 1, 64, 'GPUs per replica', 1)!,
    out: str('out'),
    quick: argv.quick === true,
    'max-tokens': int('max-tokens', 1, 2 ** 20, 'tokens per kernel call'),
    'max-seq-len': int('max-seq-len', 1, 2 ** 20, 'tokens'),
    'max-batch': int('max-batch', 1, 2 ** 16, 'sequences'),
    'max-context': int('max-context', 1, 2 ** 20, 'tokens'),
    shrink: int('shrink', 1, 1024, 'width divisor', 1)!,
    warmup: int('warmup', 0, 10_000, 'runs per shape'),
    repeats: int('repeats', 1, 10_000, 'runs per shape'),
    dtype: str('dtype') as CalibrateArgs['dtype'],
    backend: argv.backend as string[] | undefined,
    'import-vidur': str('import-vidur'),
    network: str('network'),
    attention: str('attention'),
    validate: str('validate'),
    against: str('against'),
    gpu: str('gpu'),
    json: argv.json === true,
  };
}

async function sweep(a: CalibrateArgs, io: CalibrateIo, log: Logger): Promise<void> {
  if (a.model === undefined) throw new InputError('a sweep needs --model NAME (sim models)', { field: '--model' });
  const [{ adapterSlug, planSweep, runSweep, shrinkArchitecture, sweepDefaults }, { writeProfile }] = await Promise.all([import('./sweep.ts'), import('./profile.ts')]);
  const model = getModel(a.model);
  const arch = shrinkArchitecture(model, a.shrink);
  const name = a.shrink > 1 ? `${model.name}/${a.shrink}` : model.name;
  const d = sweepDefaults(a.quick);
  const o: SweepOptions = {
    ...d,
    maxTokens: a['max-tokens'] ?? d.maxTokens,
    maxSeqLen: a['max-seq-len'] ?? Math.min(d.maxSeqLen, model.maxContext),
    maxBatch: a['max-batch'] ?? d.maxBatch,
    maxContext: a['max-context'] ?? Math.min(d.maxContext, model.maxContext),
    warmup: a.warmup ?? d.warmup,
    repeats: a.repeats ?? d.repeats,
    dtype: a.dtype,
  };
  const api = await (io.loadKernels ?? defaultKernels)();
  const ctx = await api.createGpu(a.backend ? { backends: a.backend } : {});
  try {
    if (o.dtype === 'f16' && !ctx.features.shaderF16) throw new InputError(`the adapter (${ctx.adapter.description}) has no shader-f16`, { field: '--dtype' });
    const out = a.out ?? defaultSweepOut(model.name, a.shrink, a.tp, adapterSlug(ctx.adapter));
    prepareOutputFile(out, '--out');
    const limits = ctx.device.limits;
    const plan = planSweep(arch, name, a.tp, o, Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize));
    for (const s of plan.skipped) log(`calibrate: ${s}`);
    let bar: SingleBar | undefined;
    if (io.err.isTTY) {
      const { default: cliProgress } = await import('cli-progress');
      bar = new cliProgress.SingleBar(
        { stream: io.err as NodeJS.WritableStream as NodeJS.WriteStream, format: 'calibrating [{bar}] {value}/{total} | {label} | ETA {eta}s', etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      );
      bar.start(plan.points.length, 0, { label: '' });
    }
    const t0 = performance.now();
    let profile;
    try {
      profile = await runSweep(api, ctx, plan, o, { onProgress: (done, _total, label) => bar?.update(done, { label }) });
    } finally {
      bar?.stop();
    }
    writeProfile(out, profile);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    io.out.write(`wrote ${out}: ${Object.keys(profile.operators).length} operators, ${plan.points.length} shapes in ${secs} s on ${ctx.adapter.description || ctx.adapter.backend} (${profile.timer})\n`);
  } finally {
    ctx.destroy();
  }
}

async function handle(argv: Record<string, unknown>, io: CalibrateIo): Promise<void> {
  const a = readArgs(argv);
  const log: Logger = (m) => {
    io.err.write(`sim: warning: ${m}\n`);
  };
  if (a.out !== undefined) prepareOutputFile(a.out, '--out');
  const modes = [a['import-vidur'] !== undefined && '--import-vidur', a.validate !== undefined && '--validate'].filter(Boolean);
  if (modes.length > 1) throw new InputError('--import-vidur and --validate are exclusive', { field: '--validate' });
  if (a.against !== undefined && a.validate === undefined) throw new InputError('--against goes with --validate PROFILE', { field: '--against' });
  if (a.attention !== undefined && modes.length === 0) throw new InputError('--attention goes with --import-vidur or --validate', { field: '--attention' });
  if (a['import-vidur'] !== undefined) {
    const [{ importVidur }, { writeProfile }] = await Promise.all([import('./vidur.ts'), import('./profile.ts')]);
    const profile = importVidur(a['import-vidur'], { model: a.model, tp: a.tp, network: a.network, attention: a.attention, log });
    const device = /vidur:compute\/([^/]+)\//.exec(profile.source)?.[1] ?? 'gpu';
    const out = a.out ?? path.join('calibrate', 'profiles', `${profile.model}-vidur-${device}${profile.tp > 1 ? `-tp${profile.tp}` : ''}.json`);
    writeProfile(out, profile);
    io.out.write(`wrote ${out}: ${Object.keys(profile.operators).join(', ')} (${profile.model}, tp=${profile.tp})\n`);
    return;
  }
  if (a.validate !== undefined) {
    if (a.against === undefined) throw new InputError('--validate needs --against DIR (a Vidur model folder)', { field: '--against' });
    const { formatValidation, validateAgainstVidur } = await import('./validate.ts');
    const report = validateAgainstVidur(a.validate, a.against, { model: a.model, gpu: a.gpu, tp: a.tp, attention: a.attention, log });
    io.out.write(a.json ? JSON.stringify(report) + '\n' : formatValidation(report));
    return;
  }
  await sweep(a, io, log);
}

/**
 * Builds the `sim calibrate` command writing to the given streams (app/cli.ts passes its own
 * `out` and `err`). Errors are thrown as InputError (exit 2 through `sim`), the
 * kernels' NoAdapterError included.
 */
export function makeCalibrateCommand(io: CalibrateIo): CommandModule<object, CalibrateArgs> {
  return {
    command: 'calibrate',
    describe: 'time kernels into a profile, import Vidur tables, or validate a profile',
    builder,
    handler: (argv) => handle(argv as unknown as Record<string, unknown>, io),
  };
}

