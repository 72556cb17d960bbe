/** Writes report.json and report.html into the output directory. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { renderHtmlReport } from "./report-html";
import type { Report } from "./report-model";

/** Paths written by {@link writeReportFiles}. */
export interface ReportPaths {
  readonly json: string;
  readonly html: string;
}

/** Writes both reports (creating `dir`) and returns their paths. */
export function writeReportFiles(report: Report, dir: string): ReportPaths {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, "report.json");
  const html = path.join(dir, "report.html");
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(html, renderHtmlReport(report));
  return { json, html };
}
