/**
 * ShareGPT conversations (the JSON file vLLM's serving benchmark takes, e.g.
 * `ShareGPT_V3_unfiltered_cleaned_split.json`): one JSON array of `{"id", "conversations":
 * [{"from": "human" | "gpt" | ..., "value": TEXT}, ...]}`. There are no timestamps and no token
 * counts: lengths are counted with a tokenizer, and arrivals are drawn as a seeded Poisson process
 * at a given rate (vLLM's `--request-rate`).
 *
 * Tokenizer: OpenAI's `cl100k_base` BPE through the `gpt-tokenizer` package (pure JavaScript, its
 * merge tables ship inside the package, so nothing is fetched at run time). vLLM counts with the
 * served model's own tokenizer; Llama 3's 128,256-token vocabulary is tiktoken's 100k BPE plus
 * 28k tokens, so counts are close for Llama 3 and typically lower than Llama 2's 32k
 * SentencePiece vocabulary gives (not measured here). Special-token text such as `<|endoftext|>` in
 * a message is counted as plain text. No BOS token is added (vLLM's `tokenizer(prompt).input_ids`
 * adds Llama's one).
 *
 * Modes (docs/traces.md, "ShareGPT"):
 * - `first-turn` (vLLM benchmark_dataset.py `ShareGPTDataset`): entries with at least 2 messages;
 *   prompt = message 0, output = message 1's token count, whatever their roles; entries with a
 *   prompt or output under 4 tokens, a prompt over 1,024 or prompt + output over 2,048 are
 *   skipped as vLLM's `is_valid_sequence` does. vLLM shuffles the entries with its seed and takes
 *   `--num-prompts`; here they stay in file order (take the first N with `--limit`).
 * - `conversation` (the default): each conversation is a program (docs/programs.md), one call per
 *   assistant reply: the call's prompt is every message before the reply (the conversation so
 *   far), its output the reply, and its prompt begins with the previous call's whole context
 *   (`prefix_from` the previous call), as `sim generate --kind multi-turn` does. The next turn is
 *   submitted as soon as the reply ends (no think time is known: `delay_s` 0).
 */
import { randomExponential } from 'd3-random';
import seedrandom from 'seedrandom';
import { InputError } from '../sim/errors.ts';
import type { Trace } from '../sim/trace.ts';
import { TraceBuilder } from './builder.ts';
import { describeJson, MAX_SPAN_S, MAX_SPAN_TEXT, MAX_TOKENS } from './fields.ts';
import { forEachJsonArrayElement } from './json-array.ts';
import { buildProgramTrace, type ProgramCall } from './programs.ts';
import { asTraceSource, type TraceSource } from './source.ts';

/** How ShareGPT conversations become requests. */
export type ShareGptMode = 'first-turn' | 'conversation';

/** The modes, default first. */
export const SHAREGPT_MODES: readonly ShareGptMode[] = ['conversation', 'first-turn'];

/** `from` values that mark an assistant reply; every other role's text is input. */
export const SHAREGPT_ASSISTANT_ROLES: readonly string[] = ['gpt', 'chatgpt', 'assistant', 'bard', 'bing', 'model'];

/** vLLM's `is_valid_sequence` defaults (benchmark_dataset.py): min 4 tokens, prompt <= 1024, total <= 2048. */
export const VLLM_SHAREGPT_LIMITS = { minTokens: 4, maxPrompt: 1024, maxTotal: 2048 } as const;

/** What a ShareGPT file must look like, for messages. */
export const SHAREGPT_EXPECTED = 'ShareGPT JSON: an array of {"id", "conversations": [{"from": "human"|"gpt", "value": TEXT}, ...]} (needs --rate)';

/** Options of {@link readShareGpt}. */
export interface ShareGptOptions {
  /** Mean arrival rate, requests (first-turn) or conversations (conversation) per second: Poisson arrivals. Required. */
  rate?: number;
  /** Seed of the arrival process (default 1, as `sim run`'s `--seed`). */
  seed?: number | string;
  /** Default `conversation`. */
  mode?: ShareGptMode;
}

/** Counts the tokens of a text (cl100k_base). */
type Counter = (text: string) => number;

/** Loads the tokenizer on first use (the package holds about 30 MB of tables). */
async function loadCounter(): Promise<Counter> {
  const { encode } = await import('gpt-tokenizer/encoding/cl100k_base');
  // Special-token text is ordinary text in a conversation, not a control token.
  const opts = { disallowedSpecial: new Set<string>() };
  return (text) => (text === '' ? 0 : encode(text, opts).length);
}

/** One message, checked. */
interface Message {
  assistant: boolean;
  tokens: number;
}

/**
 * Checks one element of the array and returns its messages with their token counts, or
 * undefined when it has no `conversations` key (counted as skipped, as vLLM drops such entries).
 */
function messagesOf(el: unknown, index: number, file: string, line: number, count: Counter): Message[] | undefined {
  const where = (field: string) => ({ file, line, field });
  if (typeof el !== 'object' || el === null || Array.isArray(el)) {
    throw new InputError(`element ${index} must be a JSON object {"id", "conversations"}, got ${describeJson(el)}`, where('json'));
  }
  const conv = (el as Record<string, unknown>).conversations;
  if (conv === undefined) return undefined;
  if (!Array.isArray(conv)) throw new InputError(`element ${index}: conversations must be an array of messages, got ${describeJson(conv)}`, where('conversations'));
  return conv.map((m: unknown, k: number): Message => {
    const f = `conversations[${k}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw new InputError(`element ${index}: each message must be an object {"from", "value"}, got ${describeJson(m)}`, where(f));
    }
    const { from, value } = m as Record<string, unknown>;
    if (typeof from !== 'string') throw new InputError(`element ${index}: from must be a string (human, gpt, ...), got ${from === undefined ? 'nothing' : describeJson(from)}`, where(`${f}.from`));
    if (typeof value !== 'string') throw new InputError(`element ${index}: value must be the message text (a string), got ${value === undefined ? 'nothing' : describeJson(value)}`, where(`${f}.value`));
    return { assistant: SHAREGPT_ASSISTANT_ROLES.includes(from.toLowerCase()), tokens: count(value) };
  });
}

/** The element's id as a program id: its `id` when a non-empty string or integer not seen before, else `#INDEX`. */
function programId(el: Record<string, unknown>, index: number, seen: Set<string>): string {
  const id = el.id;
  let name = typeof id === 'string' && id !== '' ? id : typeof id === 'number' && Number.isSafeInteger(id) ? String(id) : `#${index}`;
  if (seen.has(name)) name = `${name}#${index}`;
  seen.add(name);
  return name;
}

/**
 * The calls of one conversation (conversation mode): one per assistant reply that follows an input
 * message, prompt = the tokens of every message before it, `prefix_from` the previous call. A reply
 * of 0 tokens makes no call (its text, none, adds nothing); a reply right after another reply is
 * context for the next call.
 */
function conversationCalls(msgs: Message[], program: string, line: number): ProgramCall[] {
  const calls: ProgramCall[] = [];
  let before = 0; // tokens of the messages so far
  for (let k = 0; k < msgs.length; k++) {
    const m = msgs[k];
    if (m.assistant && k > 0 && !msgs[k - 1].assistant && m.tokens > 0 && before > 0) {
      const prev = calls.length > 0 ? calls[calls.length - 1] : undefined;
      calls.push({
        program_id: program,
        call_id: String(calls.length),
        parents: prev ? [prev.call_id] : [],
        ...(prev ? { delay_s: 0, prefix_from: prev.call_id } : { arrival_s: 0 }),
        prompt_tokens: Math.min(before, MAX_TOKENS),
        output_tokens: m.tokens,
        line,
      });
    }
    before += m.tokens;
  }
  return calls;
}

/**
 * Reads a ShareGPT JSON file into a trace (see the module comment for the modes and tokenizer).
 * Arrivals: request (first-turn) or conversation (conversation mode) i arrives at the sum of i
 * exponential gaps of mean 1/`rate` s (the first at 0), drawn from seedrandom's Alea seeded
 * `SEED:arrival` through d3-random, in file order of the kept entries.
 *
 * @param file a path (`-` for standard input), or a source already opened
 * @returns first-turn: a Trace of format 'sharegpt'; conversation: a program trace of format
 *   'sharegpt' with `prefix`. `skipped` counts the entries dropped, by reason
 * @throws InputError for a missing or non-positive `rate` (field `--rate`: ShareGPT has no
 *   timestamps), a bad mode (`--sharegpt-mode`), content that is not a JSON array, an element
 *   that is not valid JSON or not an object, a `conversations` that is not an array of
 *   `{"from": string, "value": string}` (naming the element's line and the message), arrivals
 *   spanning more than 1e9 s (a rate too low; `--rate`), or no requests kept
 */
export async function readShareGpt(file: string | TraceSource, opts: ShareGptOptions): Promise<Trace> {
  const source = await asTraceSource(file);
  const name = source.name;
  const mode = opts.mode ?? 'conversation';
  if (!SHAREGPT_MODES.includes(mode)) throw new InputError(`unknown mode '${String(mode)}'; valid: ${SHAREGPT_MODES.join(', ')}`, { field: '--sharegpt-mode' });
  const rate = opts.rate;
  if (rate === undefined) {
    throw new InputError(
      `${name} is a ShareGPT file, which has no timestamps: give --rate R (mean requests/s in first-turn mode, conversations/s in conversation mode; Poisson arrivals seeded by --seed, as vLLM's --request-rate)`,
      { field: '--rate' },
    );
  }
  if (!(typeof rate === 'number' && rate > 0 && rate <= 1e9)) throw new InputError(`must be a number of requests/s in (0, 1e9], got ${String(rate)}`, { field: '--rate' });
  const gap = randomExponential.source(seedrandom.alea(`${String(opts.seed ?? 1)}:arrival`))(rate);
  let t = -1; // arrival of the last entry kept
  const nextArrival = () => (t = t < 0 ? 0 : t + gap());
  const count = await loadCounter();
  const b = new TraceBuilder();
  const calls: ProgramCall[] = [];
  const ids = new Set<string>();
  const skip = (reason: string) => b.skip(reason);
  let lastLine = 1;
  await forEachJsonArrayElement(source, (el, index, line) => {
    lastLine = line;
    const msgs = messagesOf(el, index, name, line, count);
    if (msgs === undefined) return skip('without conversations');
    if (mode === 'first-turn') {
      if (msgs.length < 2) return skip('with fewer than 2 messages');
      const p = msgs[0].tokens;
      const o = msgs[1].tokens;
      const L = VLLM_SHAREGPT_LIMITS;
      if (p < L.minTokens || o < L.minTokens || p > L.maxPrompt || p + o > L.maxTotal) return skip("outside vLLM's length limits");
      b.push(nextArrival(), 0, p, o, line);
      return;
    }
    const cs = conversationCalls(msgs, programId(el as Record<string, unknown>, index, ids), line);
    if (cs.length === 0) return skip('without a reply to an input');
    cs[0].arrival_s = nextArrival();
    for (const c of cs) calls.push(c);
  });
  if (t > MAX_SPAN_S) {
    throw new InputError(`${rate} requests/s gives arrivals up to ${t} s, beyond the limit of ${MAX_SPAN_TEXT}; raise the rate or read fewer entries`, { field: '--rate' });
  }
  if (mode === 'first-turn') return b.finish(name, 'sharegpt', name, lastLine, 'conversations');
  if (calls.length === 0) {
    const why = Object.entries(b.skipped).map(([k, v]) => `${v} ${k}`).join(', ');
    throw new InputError(`no requests: ${why === '' ? 'the array is empty' : `every entry was skipped (${why})`}`, { file: name, line: lastLine });
  }
  const trace = buildProgramTrace(calls, name, name, 'sharegpt');
  return { ...trace, skipped: { ...b.skipped } };
}
