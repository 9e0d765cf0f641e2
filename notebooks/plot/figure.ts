/**
 * Figure rendering for `sim plot` and the notebooks: Observable Plot on a jsdom document, one
 * column wide (320×240 px viewBox ≈ 3.3 in × 2.4 in), legend drawn inside the SVG, a fixed
 * font list and palette so the same data give byte-identical SVG everywhere. PNG through
 * @resvg/resvg-js. Conventions: docs/plots.md.
 */
import * as Plot from '@observablehq/plot';
import { JSDOM } from 'jsdom';
import { Resvg } from '@resvg/resvg-js';
import { prepareOutputFile, writeFileAtomic } from '../../sim/files.ts';

/** Figure size in CSS px (one-column: 3.3 in × 2.4 in at ~96 px/in). */
export const WIDTH = 320;
export const HEIGHT = 240;

/**
 * Font family list written on every figure: DejaVu Sans first (shipped by most Linux
 * distributions and used by resvg for PNGs), then common sans fonts, then the generic
 * `sans-serif`, so any renderer falls back to a sans font of similar metrics.
 */
export const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

/** Series colours, in order (Observable 10, colour-blind aware; source: Observable Plot's default categorical scheme). */
export const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];

/** One entry of an in-SVG legend. */
export interface LegendEntry {
  label: string;
  color: string;
  /** Line dash (SVG stroke-dasharray) of the swatch; undefined for solid. */
  dash?: string;
  /** Draw a dot on the swatch (for dot marks). */
  dot?: boolean;
}

/** A fresh jsdom document (one per figure, so figures do not share state). */
export function newDocument(): Document {
  return new JSDOM('<!DOCTYPE html><body></body>').window.document;
}

/** Colour of the i-th series (cycles through {@link PALETTE}). */
export const seriesColor = (i: number): string => PALETTE[i % PALETTE.length];

/**
 * Renders Plot options to an SVG element at the figure size with the fixed font; `legend`
 * entries are drawn in a box at the top-right of the plotting area (`legendAt` 'left' for
 * top-left). Plot's own legends are never used (they are HTML outside the SVG).
 */
export function renderSvg(doc: Document, options: Plot.PlotOptions, legend: LegendEntry[] = [], legendAt: 'right' | 'left' = 'right'): SVGSVGElement {
  const el = Plot.plot({
    width: WIDTH,
    height: HEIGHT,
    marginLeft: 46,
    marginBottom: 34,
    marginTop: 14,
    marginRight: 12,
    style: { fontFamily: FONT_FAMILY, fontSize: '9px', background: 'white' },
    ...options,
    document: doc,
  }) as unknown as SVGSVGElement;
  const svg = el;
  svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  svg.setAttribute('font-family', FONT_FAMILY);
  svg.setAttribute('font-size', '9');
  if (legend.length > 0) svg.appendChild(legendGroup(doc, legend, options, legendAt));
  return svg;
}

function legendGroup(doc: Document, entries: LegendEntry[], o: Plot.PlotOptions, at: 'right' | 'left'): SVGGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const mk = (tag: string, attrs: Record<string, string | number>) => {
    const e = doc.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  const rowH = 10;
  const longest = Math.max(...entries.map((e) => e.label.length));
  const w = 26 + 5.2 * longest;
  const h = rowH * entries.length + 4;
  const left = (o.marginLeft as number | undefined) ?? 46;
  const right = (o.marginRight as number | undefined) ?? 12;
  const top = ((o.marginTop as number | undefined) ?? 14) + 2;
  const x0 = at === 'right' ? (Number(o.width ?? WIDTH)) - right - w - 2 : left + 4;
  const g = mk('g', { 'aria-label': 'legend', transform: `translate(${x0.toFixed(1)},${top})`, 'text-anchor': 'start' });
  g.appendChild(mk('rect', { x: 0, y: 0, width: w.toFixed(1), height: h, fill: 'white', 'fill-opacity': 0.85, stroke: '#bbb', 'stroke-width': 0.5 }));
  entries.forEach((e, i) => {
    const y = 2 + rowH * i + rowH / 2;
    const item = mk('g', { 'aria-label': 'legend entry', 'data-series': e.label });
    const line = mk('line', { x1: 4, x2: 20, y1: y, y2: y, stroke: e.color, 'stroke-width': 1.5 });
    if (e.dash) line.setAttribute('stroke-dasharray', e.dash);
    item.appendChild(line);
    if (e.dot) item.appendChild(mk('circle', { cx: 12, cy: y, r: 2.5, fill: e.color }));
    const t = mk('text', { x: 24, y, dy: '0.32em', fill: 'black' });
    t.textContent = e.label;
    item.appendChild(t);
    g.appendChild(item);
  });
  return g as SVGGElement;
}

/**
 * Stacks panels (each rendered at WIDTH × panel height) vertically into one WIDTH × HEIGHT SVG.
 */
export function stackPanels(doc: Document, panels: SVGSVGElement[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const root = doc.createElementNS(ns, 'svg') as SVGSVGElement;
  root.setAttribute('xmlns', ns);
  root.setAttribute('width', String(WIDTH));
  root.setAttribute('height', String(HEIGHT));
  root.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  root.setAttribute('font-family', FONT_FAMILY);
  root.setAttribute('font-size', '9');
  const bg = doc.createElementNS(ns, 'rect');
  for (const [k, v] of Object.entries({ width: WIDTH, height: HEIGHT, fill: 'white' })) bg.setAttribute(k, String(v));
  root.appendChild(bg);
  let y = 0;
  for (const p of panels) {
    p.setAttribute('y', String(y));
    p.setAttribute('x', '0');
    y += Number(p.getAttribute('height'));
    root.appendChild(p);
  }
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

/**
 * Writes `svg` to `file` (folders created) and, with `png`, the PNG beside it (same name, .png),
 * each atomically (temporary name, then rename). Returns the files written.
 * @throws InputError (field `--out`) when a file cannot be written.
 */
export function writeFigure(file: string, svg: string, png = false): string[] {
  prepareOutputFile(file, '--out');
  const out = [file];
  const bytes = png ? svgToPng(svg) : undefined;
  writeFileAtomic(file, svg);
  if (bytes) {
    const p = file.replace(/\.svg$/i, '') + '.png';
    writeFileAtomic(p, bytes);
    out.push(p);
  }
  return out;
}
