/**
 * The soak reads the server's metrics by name; a renamed metric would not fail the soak, it would
 * only leave its figures empty (null gauges, "–" in the report). So every name it reads, and every
 * metric name the loadtest's sources and README mention, must be in a real scrape of a server
 * started the way the soak starts it, plus a data directory (`--fsync always`, and one write, so
 * that the persistence metrics the durability group reads are there too). Label names mentioned
 * count as served when a sample carries them. Needs the server built (`npx tsc -b`), as `make test`
 * does.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findFreePort } from "../src/free-port";
import { GrpcUnarySessionOps } from "../src/grpc-unary-session-ops";
import { metricValue, parsePrometheusText, type PrometheusSample } from "../src/prometheus-text";
import { REPO_ROOT, startStateward, type StartedTarget } from "../src/server-processes";
import { METRICS, scrapeMetrics, serverLoopDelay } from "../src/soak-sampler";

/** Metric names (the server's prefixes), or a prefix ending in `_*`, as written in prose or code. */
const MENTIONED_NAME = /\b(?:stateward|nodejs|process|rpc_server)_[a-z0-9_]*\*?/g;

/** Every metric name mentioned in the loadtest's sources and its README, with the files that do. */
function mentionedNames(): Map<string, string[]> {
  const loadtest = path.join(REPO_ROOT, "loadtest");
  const files = [
    ...readdirSync(path.join(loadtest, "src"))
      .filter((name) => name.endsWith(".ts"))
      .map((name) => path.join(loadtest, "src", name)),
    path.join(loadtest, "README.md"),
  ];
  const found = new Map<string, string[]>();
  for (const file of files) {
    for (const match of readFileSync(file, "utf8").matchAll(MENTIONED_NAME)) {
      const where = found.get(match[0]) ?? [];
      const relative = path.relative(REPO_ROOT, file);
      if (!where.includes(relative)) where.push(relative);
      found.set(match[0], where);
    }
  }
  return found;
}

/** The metric families of a scrape (from # TYPE), every sample name and every label name. */
function scrapedNames(text: string, samples: readonly PrometheusSample[]): Set<string> {
  const names = new Set(samples.flatMap((sample) => [sample.name, ...Object.keys(sample.labels)]));
  for (const line of text.split("\n")) {
    const family = /^# TYPE (\S+) /.exec(line)?.[1];
    if (family !== undefined) names.add(family);
  }
  return names;
}

describe("soak: the server metrics the loadtest reads exist in a real scrape", function () {
  this.timeout(30_000);
  let target: StartedTarget | undefined;
  let text = "";
  let samples: PrometheusSample[] = [];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "stateward-metric-names-"));

  before(async () => {
    const metricsPort = await findFreePort();
    target = await startStateward({ serverArgs: ["--metrics-port", String(metricsPort), "--data-dir", dataDir, "--fsync", "always"] });
    // One write: the fsync histogram has its first sample.
    const client = new GrpcUnarySessionOps(target.address, "metric-names");
    try {
      await client.set("one", Buffer.from("x"));
    } finally {
      client.close();
    }
    text = await scrapeMetrics(metricsPort, 5_000);
    samples = parsePrometheusText(text);
  });

  after(async () => {
    await target?.process.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("has a value for every name in the soak's METRICS table", () => {
    const missing = Object.entries(METRICS).filter(([, name]) => metricValue(samples, name) === undefined);
    assert.deepEqual(missing, [], "not in the scrape");
    // The sampler's reading of the event-loop gauges (their unit is seconds, as their names say).
    const delay = serverLoopDelay(samples);
    assert.ok(delay !== null);
    assert.ok(delay.p50Ms >= 0 && delay.p50Ms <= delay.p99Ms && delay.p99Ms <= delay.maxMs, JSON.stringify(delay));
  });

  it("serves every metric name that loadtest/src and loadtest/README.md mention", () => {
    const mentioned = mentionedNames();
    // The METRICS table is in loadtest/src, so the scan covers it; it must have found it.
    for (const name of Object.values(METRICS)) assert.ok(mentioned.has(name), name);
    const names = scrapedNames(text, samples);
    const absent = [...mentioned]
      .filter(([name]) => (name.endsWith("*") ? ![...names].some((served) => served.startsWith(name.slice(0, -1))) : !names.has(name)))
      .map(([name, where]) => `${name} (${where.join(", ")})`);
    assert.deepEqual(absent, []);
  });
});
