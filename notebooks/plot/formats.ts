/**
 * Figure file formats of `sim plot`, apart from the drawing code (./figure.ts), so the command can
 * check `--out` and `--format` before loading the plotting stack.
 */
import { InputError } from '../../sim/errors.ts';

/** Figure file formats: SVG (vector, the source), PNG (raster, ~300 dpi), PDF (vector). */
export const FORMATS = ['svg', 'png', 'pdf'] as const;
/** One figure file format. */
export type Format = (typeof FORMATS)[number];

/**
 * The format of a figure file by its extension (.svg, .png, .pdf; any case).
 * @throws InputError (field `--out`) for another extension.
 */
export function formatOf(file: string): Format {
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  if (!(FORMATS as readonly string[]).includes(ext ?? '')) throw new InputError(`must end in .svg, .png or .pdf (got ${file})`, { field: '--out' });
  return ext as Format;
}
