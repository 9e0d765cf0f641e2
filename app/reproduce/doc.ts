/**
 * docs/reproductions.md as `sim reproduce` writes it: a fixed preamble, a summary table of every
 * verdict, then one section per reproduction between markers
 * `<!-- reproduction:NAME -->` … `<!-- /reproduction:NAME -->`. Each section carries its verdicts
 * as one JSON comment, so the summary is rebuilt from the sections alone and rerunning one
 * reproduction replaces its section and keeps the others byte for byte.
 */
import { InputError } from '../../sim/errors.ts';
import type { ClaimResult, Reproduction, ReproductionResult, Setting, Table } from './reproduction.ts';

/** The verdict data a section carries for the summary. */
interface SectionVerdicts {
  title: string;
  claims: { what: string; paper: string; ours: string; verdict: string }[];
}

const OPEN = /^<!-- reproduction:([a-z0-9-]+) -->$/;
const CLOSE = /^<!-- \/reproduction:([a-z0-9-]+) -->$/;
const VERDICTS = /^<!-- verdicts (.*) -->$/;

/** Escapes a table cell: `|` would end it, a line break would end the row. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** A markdown table from a header and rows (cells escaped). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (r: readonly string[]) => `| ${r.map(cell).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

const SETTING_ROWS: [keyof Setting, string][] = [
  ['model', 'model'],
  ['gpu', 'GPU'],
  ['engine', 'engine'],
  ['workload', 'workload'],
  ['rate', 'rate / load'],
  ['metric', 'metric'],
];

function claimRow(c: ClaimResult): string[] {
  return [c.what, c.paperText, c.oursText, `**${c.verdict.label}** (${c.verdict.text.replace(/^[^:]*: /, '')})`];
}

function tableText(t: Table): string {
  return `${t.title}\n\n${markdownTable(t.header, t.rows)}`;
}

/**
 * One reproduction's section, markers included: title, the claim, the settings side by side,
 * the deviations, the verdicts, the detail tables and notes, the command that regenerates it, and
 * the verdict JSON for the summary. Deterministic text (no dates or wall times).
 */
export function renderSection(rep: Reproduction, r: ReproductionResult): string {
  const data: SectionVerdicts = {
    title: rep.title,
    claims: r.claims.map((c) => ({ what: c.what, paper: c.paperText, ours: c.oursText, verdict: c.verdict.label })),
  };
  const parts = [
    `<!-- reproduction:${rep.name} -->`,
    `## ${rep.title}`,
    `**Claim.** ${r.claim}`,
    markdownTable(['', 'paper', 'this project'], SETTING_ROWS.map(([k, label]) => [label, r.paper[k], r.ours[k]])),
  ];
  if (r.deviations.length > 0) parts.push(`**Deviations from the paper.**\n\n${r.deviations.map((d) => `- ${d}`).join('\n')}`);
  parts.push(`**Verdicts.**\n\n${markdownTable(['claim', 'paper', 'this project', 'verdict'], r.claims.map(claimRow))}`);
  for (const t of r.tables) parts.push(tableText(t));
  if (r.notes.length > 0) parts.push(r.notes.map((n) => `- ${n}`).join('\n'));
  parts.push(`Regenerate: \`${rep.command}\``);
  parts.push(`<!-- verdicts ${JSON.stringify(data)} -->`, `<!-- /reproduction:${rep.name} -->`);
  return parts.join('\n\n');
}

/**
 * Splits an existing document into its sections by name (text from the opening marker to the
 * closing one, inclusive). Text outside sections (the preamble and summary) is dropped: it is
 * regenerated.
 * @throws InputError naming the file and line for an unclosed, mismatched, nested or repeated
 *   section, or a section without its verdicts line.
 */
export function parseSections(text: string, file: string): Map<string, string> {
  const lines = text.split('\n');
  const out = new Map<string, string>();
  let open: { name: string; line: number } | undefined;
  let hasVerdicts = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trimEnd();
    const o = OPEN.exec(l);
    const c = CLOSE.exec(l);
    if (o) {
      if (open) throw new InputError(`section '${o[1]}' opens inside section '${open.name}' (opened at line ${open.line})`, { file, line: i + 1 });
      if (out.has(o[1])) throw new InputError(`section '${o[1]}' appears twice`, { file, line: i + 1 });
      open = { name: o[1], line: i + 1 };
      hasVerdicts = false;
    } else if (c) {
      if (!open || open.name !== c[1]) throw new InputError(`closing marker of '${c[1]}' without its opening marker`, { file, line: i + 1 });
      if (!hasVerdicts) throw new InputError(`section '${open.name}' has no verdicts line (<!-- verdicts {...} -->)`, { file, line: i + 1 });
      out.set(open.name, lines.slice(open.line - 1, i + 1).map((x) => x.trimEnd()).join('\n'));
      open = undefined;
    } else if (open && VERDICTS.test(l)) {
      hasVerdicts = true;
    }
  }
  if (open) throw new InputError(`section '${open.name}' is not closed (<!-- /reproduction:${open.name} -->)`, { file, line: open.line });
  return out;
}

/** The verdict data of a section (its JSON comment). @throws InputError for a malformed one. */
function sectionVerdicts(name: string, section: string, file: string): SectionVerdicts {
  for (const l of section.split('\n')) {
    const m = VERDICTS.exec(l);
    if (!m) continue;
    try {
      const v = JSON.parse(m[1]) as SectionVerdicts;
      if (typeof v.title === 'string' && Array.isArray(v.claims)) return v;
    } catch {
      // reported below
    }
    break;
  }
  throw new InputError(`section '${name}': malformed verdicts line`, { file });
}

/** The fixed text above the summary. */
export const PREAMBLE = `# Reproductions of the seed papers

<!-- Written by \`sim reproduce\` (app/reproduce/); change the code and regenerate, do not edit by hand. -->

Each section reruns one seed paper's headline result in the paper's own setting (its model, GPU,
engine limits, workload and load, scaled down where the paper's scale would take more than a few
minutes on two cores: each section says where), and compares the improvement the simulator
measures with the one the paper reports. \`sim reproduce\` regenerates the whole file;
\`sim reproduce NAME\` reruns one section and keeps the others. The output is deterministic: the
same code and data give the same file.

**How to read a verdict.** An improvement factor f is baseline ÷ policy for a lower-is-better
metric (latency, JCT, cost) and policy ÷ baseline for a higher-is-better one (capacity); its gain
is f − 1 (a paper figure of −30.5% is f = 1/(1 − 0.305) = 1.44, a gain of 0.44; "2.8× lower" is a
gain of 1.8). A reproduction **agrees** when our gain has the paper's sign and lies between half
the paper's smallest gain and twice its largest; **direction only** when the sign agrees but the
size is outside that band; **disagrees** otherwise. Where the paper reports a loss, losses are
compared the same way (1/f − 1). Code: app/reproduce/verdict.ts.`;

/**
 * The whole document: the preamble, the summary (from the sections' verdict lines, in `order`)
 * and the sections in `order` (names not in `sections` are skipped).
 * @throws InputError for a section with a malformed verdicts line.
 */
export function buildDocument(sections: ReadonlyMap<string, string>, order: readonly string[], file: string): string {
  const present = order.filter((n) => sections.has(n));
  const rows: string[][] = [];
  for (const name of present) {
    const v = sectionVerdicts(name, sections.get(name)!, file);
    for (const c of v.claims) rows.push([`[${v.title.replace(/ —.*$/, '')}](#${anchor(v.title)})`, c.what, c.paper, c.ours, `**${c.verdict}**`]);
  }
  const summary = rows.length > 0 ? markdownTable(['reproduction', 'claim', 'paper', 'this project', 'verdict'], rows) : 'No reproduction has been run yet: `sim reproduce`.';
  return [PREAMBLE, '## Summary', summary, ...present.map((n) => sections.get(n)!)].join('\n\n') + '\n';
}

/** GitHub's heading anchor: lower case, punctuation other than `-` and spaces dropped, spaces to `-`. */
export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

/**
 * The new document after running some reproductions: the sections of `existing` (if any) with
 * those in `fresh` replaced or added, in registry `order`. Sections of `existing` whose name is
 * not in `order` (a reproduction since removed) are dropped.
 * @throws InputError for a malformed existing document (see {@link parseSections}).
 */
export function mergeDocument(existing: string | undefined, fresh: ReadonlyMap<string, string>, order: readonly string[], file: string): string {
  const sections = existing === undefined ? new Map<string, string>() : parseSections(existing, file);
  for (const [name, text] of fresh) sections.set(name, text);
  return buildDocument(sections, order, file);
}
