/**
 * Line-by-line JSONL reading shared by the Mooncake, program and TraceLab readers.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InputError } from '../sim/errors.ts';

/**
 * Streams the JSON value on each non-blank line of `file` (a UTF-8 BOM on line 1 is ignored),
 * with its 1-based line number.
 * @throws InputError naming the file and line for invalid JSON.
 */
export async function* jsonLines(file: string): AsyncGenerator<{ obj: unknown; line: number }> {
  let line = 0;
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const raw of rl) {
    line++;
    const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (text.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new InputError(`invalid JSON: ${(e as Error).message}`, { file, line, field: 'json' });
    }
    yield { obj, line };
  }
}
