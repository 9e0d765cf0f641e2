/**
 * Figure rendering for `sim plot` and the notebooks: Observable Plot on a jsdom document, one
 * column wide (320 px viewBox ≈ 3.3 in), panels stacked vertically, then the legend and a caption
 * line BELOW the panels (never over the data), a fixed font list, a colour-blind-safe palette with
 * a distinct marker and dash pattern per series, so the same data give byte-identical SVG
 * everywhere. PNG through @resvg/resvg-js, PDF through pdfkit + svg-to-pdfkit. Conventions:
 * docs/plots.md.
 */
import fs from 'node:fs';
import * as Plot from '@observablehq/plot';
import { JSDOM } from 'jsdom';
import { Resvg } from '@resvg/resvg-js';
import PDFDocument from 'pdfkit';
import SVGtoPDF from 'svg-to-pdfkit';
import { prepareOutputFile, writeFileAtomic } from '../../sim/files.ts';
import { formatOf } from './formats.ts';
import type { Format } from './formats.ts';

export { FORMATS, formatOf, type Format } from './formats.ts';

/** Figure width in CSS px (one column: 3.3 in at ~96 px/in); the height grows with panels, legend and caption. */
export const WIDTH = 320;
/** Height of a single-panel figure's panel (px), without legend and caption. */
export const HEIGHT = 220;

/**
 * Font family list written on every figure: DejaVu Sans first (shipped by most Linux
 * distributions and used by resvg for PNGs), then common sans fonts, then the generic
 * `sans-serif`, so any renderer falls back to a sans font of similar metrics.
 */
export const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

/**
 * Series colours, in order: the Okabe–Ito colour-blind-safe palette (M. Okabe and K. Ito, "Color
 * Universal Design", 2008; B. Wong, "Points of view: Color blindness", Nature Methods 8:441, 2011),
 * with yellow last (weak on white).
 */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];

/** Line dash patterns (SVG stroke-dasharray, px) of the series, in order; '' is solid. */
export const DASHES = ['', '5,2', '1.5,1.5', '7,2,1.5,2', '3,3', '9,3', '7,2,1.5,2,1.5,2', '2,4'];

/** A marker shape: a d3-symbol-compatible object (Plot.dot's `symbol`), drawn hollow. */
export interface Marker {
  name: string;
  /** Draws the shape centred on 0,0 with area about `size` px² into a canvas-path-like context. */
  draw(ctx: PathLike, size: number): void;
}

/** The subset of CanvasPathMethods a marker uses. */
export interface PathLike {
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  closePath(): void;
  arc(x: number, y: number, r: number, a0: number, a1: number): void;
}

const poly = (pts: [number, number][]) => (ctx: PathLike, size: number) => {
  const s = Math.sqrt(size) / 2;
  pts.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x * s, y * s) : ctx.lineTo(x * s, y * s)));
  ctx.closePath();
};
const strokes = (segs: [number, number, number, number][]) => (ctx: PathLike, size: number) => {
  const s = Math.sqrt(size) / 2;
  for (const [a, b, c, d] of segs) {
    ctx.moveTo(a * s, b * s);
    ctx.lineTo(c * s, d * s);
  }
};

/** Series markers, in order: circle, square, triangle, diamond, down-triangle, plus, cross, star (own shapes, so legend and data match). */
export const MARKERS: Marker[] = [
  { name: 'circle', draw: (ctx, size) => { const r = Math.sqrt(size / Math.PI); ctx.moveTo(r, 0); ctx.arc(0, 0, r, 0, 2 * Math.PI); } },
  { name: 'square', draw: poly([[-0.9, -0.9], [0.9, -0.9], [0.9, 0.9], [-0.9, 0.9]]) },
  { name: 'triangle', draw: poly([[0, -1.2], [1.1, 0.8], [-1.1, 0.8]]) },
  { name: 'diamond', draw: poly([[0, -1.3], [1, 0], [0, 1.3], [-1, 0]]) },
  { name: 'triangle-down', draw: poly([[0, 1.2], [1.1, -0.8], [-1.1, -0.8]]) },
  { name: 'plus', draw: strokes([[-1.3, 0, 1.3, 0], [0, -1.3, 0, 1.3]]) },
  { name: 'cross', draw: strokes([[-1, -1, 1, 1], [-1, 1, 1, -1]]) },
  { name: 'star', draw: poly(Array.from({ length: 10 }, (_, k): [number, number] => { const r = k % 2 ? 0.55 : 1.35; const a = (Math.PI * k) / 5 - Math.PI / 2; return [r * Math.cos(a), r * Math.sin(a)]; })) },
];

/** The look of one series: colour, marker and dash, each distinct from the others'. */
export interface SeriesStyle {
  color: string;
  marker: Marker;
  dash: string;
}

/**
 * Style of the i-th series: colour, marker and dash each cycle through their 8 values, the
 * marker and dash shifted by one and two places per full cycle, so the first 64 series differ.
 */
export function seriesStyle(i: number): SeriesStyle {
  const n = PALETTE.length;
  const cycle = Math.floor(i / n);
  return { color: PALETTE[i % n], marker: MARKERS[(i + cycle) % MARKERS.length], dash: DASHES[(i + 2 * cycle) % DASHES.length] };
}

/** Colour of the i-th series (cycles through {@link PALETTE}). */
export const seriesColor = (i: number): string => seriesStyle(i).color;

/** One entry of a legend. */
export interface LegendEntry {
  label: string;
  color: string;
  /** Line dash (SVG stroke-dasharray) of the swatch; undefined or '' for solid; `null` for no line. */
  dash?: string | null;
  /** Marker drawn on the swatch. */
  marker?: Marker;
}

/** Legend entry of a styled series (line, dash and marker). */
export const styleEntry = (label: string, s: SeriesStyle, line = true): LegendEntry => ({ label, color: s.color, dash: line ? s.dash : null, marker: s.marker });

/** A fresh jsdom document (one per figure, so figures do not share state). */
export function newDocument(): Document {
  return new JSDOM('<!DOCTYPE html><body></body>').window.document;
}

/** Default margins of a panel (px). */
const MARGIN = { marginLeft: 46, marginRight: 12, marginTop: 16, marginBottom: 30 };

/**
 * Renders Plot options as one panel (an `<svg>` element) of WIDTH × `options.height` (default
 * {@link HEIGHT}) with the fixed font. No legend: {@link composeFigure} draws it below the panels.
 */
export function renderPanel(doc: Document, options: Plot.PlotOptions): SVGSVGElement {
  const svg = Plot.plot({
    width: WIDTH,
    height: HEIGHT,
    ...MARGIN,
    style: { fontFamily: FONT_FAMILY, fontSize: '9px', background: 'white' },
    ...options,
    document: doc,
  }) as unknown as SVGSVGElement;
  svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  svg.setAttribute('font-family', FONT_FAMILY);
  svg.setAttribute('font-size', '9');
  return svg;
}

/** Line and marker marks of one series (constant style, so no colour scale is needed). */
export function seriesMarks<T>(data: T[], s: SeriesStyle, x: string, y: string, o: { line?: boolean; markers?: boolean; width?: number } = {}): Plot.Markish[] {
  return [
    ...(o.line !== false && data.length > 1 ? [Plot.line(data, { x, y, stroke: s.color, strokeWidth: o.width ?? 1.3, ...(s.dash ? { strokeDasharray: s.dash } : {}) })] : []),
    ...(o.markers !== false ? [Plot.dot(data, { x, y, symbol: s.marker, stroke: s.color, fill: 'white', strokeWidth: 1.1, r: 3 })] : []),
  ];
}

const NS = 'http://www.w3.org/2000/svg';
const make = (doc: Document, tag: string, attrs: Record<string, string | number>): Element => {
  const e = doc.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};

/** SVG path data of a marker at (cx, cy). */
function markerPath(m: Marker, cx: number, cy: number, size: number): string {
  let d = '';
  const f = (v: number) => String(Math.round(v * 100) / 100);
  m.draw(
    {
      moveTo: (x, y) => (d += `M${f(cx + x)},${f(cy + y)}`),
      lineTo: (x, y) => (d += `L${f(cx + x)},${f(cy + y)}`),
      closePath: () => (d += 'Z'),
      arc: (x, y, r) => (d += `M${f(cx + x + r)},${f(cy + y)}A${f(r)},${f(r)},0,1,1,${f(cx + x - r)},${f(cy + y)}A${f(r)},${f(r)},0,1,1,${f(cx + x + r)},${f(cy + y)}`),
    },
    size,
  );
  return d;
}

/** Legend geometry: row height and the approximate width of a 9 px DejaVu Sans character (px). */
const ROW = 11;
const CHAR_W = 5.3;
const SWATCH = 26;

/** Columns the legend takes: as many as fit the longest label across WIDTH (1 to 3). */
function legendColumns(entries: LegendEntry[]): number {
  const longest = Math.max(...entries.map((e) => e.label.length));
  const colW = SWATCH + 6 + CHAR_W * longest;
  return Math.max(1, Math.min(3, entries.length, Math.floor((WIDTH - 8) / colW)));
}

/** The legend block: entries in a grid of columns, at `y0` (px); returns the group and its height. */
function legendBlock(doc: Document, entries: LegendEntry[], y0: number): { g: Element; height: number } {
  const cols = legendColumns(entries);
  const rows = Math.ceil(entries.length / cols);
  const colW = (WIDTH - 8) / cols;
  const g = make(doc, 'g', { 'aria-label': 'legend', transform: `translate(4,${y0})`, 'text-anchor': 'start' });
  entries.forEach((e, i) => {
    const x = colW * Math.floor(i / rows);
    const y = ROW * (i % rows) + ROW / 2;
    const item = make(doc, 'g', { 'aria-label': 'legend entry', 'data-series': e.label });
    if (e.dash !== null) {
      const line = make(doc, 'line', { x1: x + 2, x2: x + SWATCH - 2, y1: y, y2: y, stroke: e.color, 'stroke-width': 1.3 });
      if (e.dash) line.setAttribute('stroke-dasharray', e.dash);
      item.appendChild(line);
    }
    if (e.marker) item.appendChild(make(doc, 'path', { d: markerPath(e.marker, x + SWATCH / 2, y, 28), stroke: e.color, fill: 'white', 'stroke-width': 1.1 }));
    const t = make(doc, 'text', { x: x + SWATCH + 2, y, dy: '0.32em', fill: 'black' });
    t.textContent = e.label;
    item.appendChild(t);
    g.appendChild(item);
  });
  return { g, height: rows * ROW + 4 };
}

/** Characters of 8 px text that fit across the figure (DejaVu Sans averages about 4.7 px a character). */
const LINE_CHARS = Math.floor((WIDTH - 8) / 4.7);

/** Splits a note or caption into lines of at most {@link LINE_CHARS} characters at spaces. */
function wrap(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const w of s.split(' ')) {
    if (cur && cur.length + 1 + w.length > LINE_CHARS) {
      out.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(cur);
  return out;
}

/** What goes around the panels of a figure. */
export interface FigureParts {
  /** Panels, top to bottom (each WIDTH wide). */
  panels: SVGSVGElement[];
  /** Header text drawn above a panel, by panel index (facets). */
  headers?: (string | undefined)[];
  /** Legend entries, drawn below the panels. */
  legend?: LegendEntry[];
  /** Notes (one line each, small, grey) below the legend: coinciding series, pooled seeds. */
  notes?: string[];
  /** Caption line (model, GPU, trace) at the bottom. */
  caption?: string;
  /** Title line above everything. */
  title?: string;
}

/**
 * Composes a figure: title, panels stacked top to bottom (each with an optional header), then
 * the legend, the notes and the caption below the panels, so none overlaps the data. Returns the
 * root `<svg>` (WIDTH wide, as high as its content, white background).
 */
export function composeFigure(doc: Document, p: FigureParts): SVGSVGElement {
  const root = doc.createElementNS(NS, 'svg') as SVGSVGElement;
  const text = (s: string, y: number, attrs: Record<string, string | number> = {}) => {
    const t = make(doc, 'text', { x: 4, y, dy: '0.71em', fill: 'black', ...attrs });
    t.textContent = s;
    return t;
  };
  const body: Element[] = [];
  let y = 0;
  if (p.title) {
    body.push(text(p.title, 3, { 'font-size': 10, 'font-weight': 'bold', 'aria-label': 'title' }));
    y += 15;
  }
  p.panels.forEach((panel, i) => {
    const h = p.headers?.[i];
    if (h) {
      body.push(text(h, y + 2, { 'font-weight': 'bold', 'aria-label': 'facet' }));
      y += 11;
    }
    panel.setAttribute('x', '0');
    panel.setAttribute('y', String(y));
    y += Number(panel.getAttribute('height'));
    body.push(panel);
  });
  if (p.legend && p.legend.length > 0) {
    const { g, height } = legendBlock(doc, p.legend, y + 2);
    body.push(g);
    y += height + 2;
  }
  for (const n of p.notes ?? []) {
    for (const line of wrap(n)) {
      body.push(text(line, y + 1, { 'font-size': 8, fill: '#444', 'aria-label': 'note' }));
      y += 10;
    }
  }
  if (p.caption) {
    for (const line of wrap(p.caption)) {
      body.push(text(line, y + 2, { 'font-size': 8, fill: '#444', 'aria-label': 'caption' }));
      y += 10;
    }
    y += 2;
  }
  const height = Math.ceil(y + 2);
  for (const [k, v] of Object.entries({ xmlns: NS, width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}`, 'font-family': FONT_FAMILY, 'font-size': 9 })) root.setAttribute(k, String(v));
  root.appendChild(make(doc, 'rect', { width: WIDTH, height, fill: 'white' }));
  for (const e of body) root.appendChild(e);
  return root;
}

/** Serializes an SVG element to a standalone SVG document string (XML prolog, trailing newline). */
export function svgText(svg: SVGSVGElement): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg.outerHTML + '\n';
}

/** Rasterizes SVG text to PNG bytes at `scale` × the viewBox size (default 3: ~300 dpi for 3.3 in), with DejaVu Sans as default font. */
export function svgToPng(svg: string, scale = 3): Buffer {
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}

/** Where DejaVu Sans is looked for to embed in PDFs (Debian/Ubuntu, Fedora, Arch, Homebrew). */
const DEJAVU = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/dejavu/DejaVuSans.ttf', '/usr/share/fonts/TTF/DejaVuSans.ttf', '/opt/homebrew/share/fonts/DejaVuSans.ttf'];

/**
 * Converts SVG text to a one-page vector PDF (bytes) of the figure's size (1 px = 0.75 pt):
 * pdfkit + svg-to-pdfkit, text in DejaVu Sans (embedded, subset) when installed, else Helvetica
 * (a standard PDF font: Greek letters such as τ then fall back to '?'). Creation date fixed, so
 * the same SVG gives the same bytes.
 */
export function svgToPdf(svg: string): Promise<Buffer> {
  const m = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(svg);
  const [w, h] = m ? [Number(m[1]), Number(m[2])] : [WIDTH, HEIGHT];
  const pdf = new PDFDocument({ size: [w * 0.75, h * 0.75], margin: 0, info: { CreationDate: new Date(0), Producer: 'llmsched', Creator: 'llmsched sim plot' } });
  const font = DEJAVU.find((f) => fs.existsSync(f));
  if (font) pdf.registerFont('DejaVuSans', font);
  const chunks: Buffer[] = [];
  pdf.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
  SVGtoPDF(pdf, svg, 0, 0, { width: w * 0.75, height: h * 0.75, fontCallback: () => (font ? 'DejaVuSans' : 'Helvetica') });
  pdf.end();
  return done;
}

/**
 * Writes `svg` to `file` in the format of its extension (.svg, .png or .pdf), and in each of
 * `also` beside it (same name, that extension); folders created, each file atomically (temporary
 * name, then rename). `also` may be `true` for PNG (the older `--png` flag). Returns the files written.
 * @throws InputError (field `--out`) for another extension or when a file cannot be written.
 */
export async function writeFigure(file: string, svg: string, also: boolean | readonly Format[] = []): Promise<string[]> {
  const main = formatOf(file);
  const stem = file.replace(/\.[a-z]+$/i, '');
  const formats = [main, ...(also === true ? ['png' as const] : also === false ? [] : also)].filter((f, i, a) => a.indexOf(f) === i);
  const files = formats.map((f) => (f === main ? file : `${stem}.${f}`));
  for (const f of files) prepareOutputFile(f, '--out');
  const bytes = await Promise.all(formats.map(async (f) => (f === 'svg' ? svg : f === 'png' ? svgToPng(svg) : await svgToPdf(svg))));
  files.forEach((f, i) => writeFileAtomic(f, bytes[i]));
  return files;
}
