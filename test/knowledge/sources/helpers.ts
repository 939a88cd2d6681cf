import { PDFDocument, StandardFonts } from 'pdf-lib';
import { createLogger, type Logger } from '../../../src/kernel/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger whose lines are kept, to check what was said about skipped input. */
export function captureLogger(): { log: Logger; lines: LogLine[]; warnings: () => LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({ level: 'info', content: false, destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40) };
}

/** A real PDF with a text layer, one page per string (pdf-lib, standard Helvetica). */
export async function makePdf(pages: string[][], title?: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  if (title) doc.setTitle(title);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = doc.addPage();
    lines.forEach((line, i) => page.drawText(line, { x: 50, y: 740 - i * 18, font, size: 12 }));
  }
  return doc.save();
}
