import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Marked } from 'marked';
import { writeFileAtomic } from '../io/atomicFile.js';

/** A PNG in the report's folder, shown with a heading and a caption. */
export interface ReportFigure {
  /** File name relative to the report's folder. */
  file: string;
  title: string;
  caption: string;
}

/** A table: a header row and rows of cells (markdown inline text). */
export interface ReportTable {
  header: string[];
  rows: string[][];
}

/**
 * Everything a reproduction report says, in reading order: the results table first, then what
 * it means, every figure, and how it was made (command, seed, budget, versions, backend, time).
 */
export interface ReportDoc {
  title: string;
  /** One or two sentences above the table: what was reproduced and the headline. */
  lead: string;
  results: ReportTable;
  /** Notes under the table (one paragraph each): sources, settings, caveats. */
  notes: string[];
  figures: ReportFigure[];
  /** Extra sections (markdown bodies), after the figures. */
  sections?: { heading: string; body: string }[];
  /** How the results were made: label and value rows. */
  provenance: [string, string][];
}

/** The table as GitHub-flavoured markdown (pipes in cells escaped). */
export function markdownTable(t: ReportTable): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(t.header), line(t.header.map(() => '---')), ...t.rows.map(line)].join('\n');
}

/** The report as markdown; figures are links to the PNG files beside it. */
export function reportMarkdown(doc: ReportDoc): string {
  const parts = [`# ${doc.title}`, doc.lead, markdownTable(doc.results), ...doc.notes];
  for (const f of doc.figures) parts.push(`## ${f.title}`, `![${f.title}](${f.file})`, f.caption);
  for (const s of doc.sections ?? []) parts.push(`## ${s.heading}`, s.body);
  parts.push(
    '## How this was made',
    markdownTable({ header: ['', ''], rows: doc.provenance.map(([k, v]) => [k, v]) }),
  );
  return parts.join('\n\n') + '\n';
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
th{background:#f4f4f4}img{max-width:100%;border:1px solid #eee}code{background:#f4f4f4;padding:0 .2rem}`;

/**
 * The same report as one self-contained HTML page: the markdown rendered by `marked`, every
 * figure inlined as a data URI so the file can be mailed or opened anywhere on its own.
 */
export function reportHtml(doc: ReportDoc, readFigure: (file: string) => Uint8Array): string {
  let body = new Marked({ gfm: true }).parse(reportMarkdown(doc), { async: false });
  for (const f of doc.figures) {
    const uri = `data:image/png;base64,${Buffer.from(readFigure(f.file)).toString('base64')}`;
    body = body.split(`src="${f.file}"`).join(`src="${uri}"`);
  }
  const title = doc.title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>${STYLE}</style></head><body>\n${body}</body></html>\n`;
}

/** Writes `report.md` and `report.html` into `dir` (each atomically); returns their paths. */
export function writeReport(dir: string, doc: ReportDoc): { markdown: string; html: string } {
  const markdown = join(dir, 'report.md');
  const html = join(dir, 'report.html');
  writeFileAtomic(markdown, reportMarkdown(doc));
  writeFileAtomic(
    html,
    reportHtml(doc, (file) => readFileSync(join(dir, file))),
  );
  return { markdown, html };
}
