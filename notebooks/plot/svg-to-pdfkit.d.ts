/** Types of svg-to-pdfkit (the package ships none): draws SVG text into a pdfkit document. */
declare module 'svg-to-pdfkit' {
  /** Options of SVGtoPDF used here (the package's README lists all). */
  interface SvgToPdfOptions {
    width?: number;
    height?: number;
    fontCallback?: (family: string, bold: boolean, italic: boolean) => string;
    warningCallback?: (message: string) => void;
  }
  /** Draws `svg` (text) into `doc` at x, y (pt). */
  export default function SVGtoPDF(doc: PDFKit.PDFDocument, svg: string, x: number, y: number, options?: SvgToPdfOptions): void;
}
