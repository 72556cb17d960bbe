/**
 * The shipped Grafana dashboard (deploy/grafana/stateward-dashboard.json), the Prometheus alert
 * rules and their unit tests (deploy/prometheus/) and the README's metric table may only name
 * metrics and labels that a real scrape has: a server is started with the Prometheus endpoint,
 * the sample traffic of `make test-metrics-lint` is driven through it, and `/metrics` is read over
 * HTTP. So a renamed metric or label fails here instead of leaving an empty panel or an alert that
 * can never fire. (`promtool check rules` and `promtool test rules` run in `make test-alert-rules`.)
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { ATTR_ERROR_TYPE } from "../src/telemetry/telemetry-names";
import { SNAPSHOT_SERIES, driveSampleTraffic, sampleTrafficServerFlags } from "../tools/metrics-sample-traffic";
import { httpGet } from "./helpers/http-get";
import { labelValuesSelector, promqlUse } from "./helpers/promql-names";
import { freePort, startObservedServer, type ObservedServer } from "./helpers/telemetry-test-kit";
import { waitFor } from "./helpers/test-server";

const ROOT = path.resolve(__dirname, "../..");
const DASHBOARD = path.join(ROOT, "deploy/grafana/stateward-dashboard.json");
const RULES = path.join(ROOT, "deploy/prometheus/stateward-alerts.yml");
const RULE_TESTS = path.join(ROOT, "deploy/prometheus/stateward-alerts.test.yml");
const README = path.join(ROOT, "README.md");

/** Series Prometheus itself adds for every target, and the labels it adds to every series. */
const PROMETHEUS_SERIES = new Set(["up"]);
const TARGET_LABELS = new Set(["job", "instance"]);
/**
 * Labels that only some series have, which the sample traffic cannot produce on purpose: `error.type`
 * marks server errors (INTERNAL, UNAVAILABLE, ...), which a healthy server does not make.
 */
const CONDITIONAL_LABELS: ReadonlyMap<string, readonly string[]> = new Map([
  ["rpc_server_call_duration_seconds", [ATTR_ERROR_TYPE.replace(/\./g, "_")]],
]);

/** The conditional labels of a sample name (of a histogram family: its _bucket, _sum, _count too). */
function conditionalLabels(metric: string): readonly string[] {
  return CONDITIONAL_LABELS.get(metric.replace(/_(bucket|sum|count)$/, "")) ?? [];
}

/** Sample names of a scrape, each with the label names its samples carry. */
type Scrape = Map<string, Set<string>>;

function scrapeOf(body: string): Scrape {
  const scrape: Scrape = new Map();
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? /.exec(line);
    assert.ok(match !== null, `a sample line: ${line}`);
    const labels = scrape.get(match[1] as string) ?? new Set<string>();
    for (const label of (match[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(label[1] as string);
    scrape.set(match[1] as string, labels);
  }
  return scrape;
}

/** Fails unless every metric and matched label of `expr` is in the scrape. */
function assertKnown(scrape: Scrape, where: string, expr: string): void {
  const use = promqlUse(expr);
  assert.ok(use.metrics.size > 0, `${where}: no metric found in ${expr}`);
  for (const metric of use.metrics) {
    const labels = PROMETHEUS_SERIES.has(metric) ? new Set<string>() : scrape.get(metric);
    assert.ok(labels !== undefined, `${where}: ${metric} is not in a scrape (${expr})`);
    for (const label of use.labels.get(metric) ?? []) {
      assert.ok(labels.has(label) || TARGET_LABELS.has(label) || conditionalLabels(metric).includes(label), `${where}: ${metric} has no label ${label} (${expr})`);
    }
  }
}

interface Panel {
  readonly id?: number;
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly datasource?: { readonly uid?: string };
  readonly gridPos: { readonly x: number; readonly w: number };
  readonly targets?: readonly { readonly expr: string; readonly datasource?: { readonly uid?: string } }[];
  readonly panels?: readonly Panel[];
}

interface Dashboard {
  readonly panels: readonly Panel[];
  readonly annotations: { readonly list: readonly { readonly expr?: string }[] };
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string; readonly query?: string | { readonly query: string } }[] };
}

interface Rules {
  readonly groups: readonly { readonly name: string; readonly rules: readonly { readonly alert?: string; readonly expr: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> }[] }[];
}

describe("observability assets: dashboard, alert rules and the README's metric list match a real scrape", function () {
  let s: ObservedServer | undefined;
  let scrape: Scrape;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "stateward-assets-"));
  before(async () => {
    const port = await freePort();
    s = await startObservedServer(["--metrics-port", String(port), ...sampleTrafficServerFlags(path.join(dataDir, "data"))], { tracing: false, metrics: false });
    await driveSampleTraffic(s.server.address);
    // The expiry-slice histogram (an SDK histogram) has its series from the first slice (every 100 ms),
    // the snapshot histogram once the snapshot the traffic started has finished.
    await waitFor(async () => {
      scrape = scrapeOf((await httpGet(port, "/metrics")).body);
      return scrape.has("stateward_expiry_slice_duration_seconds_bucket") && scrape.has(SNAPSHOT_SERIES);
    }, "an expiry slice and a snapshot");
  });
  after(async () => {
    await s?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("finds the metrics and labels of an expression (the checker itself)", () => {
    const use = promqlUse(
      'histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{job=~"$job", rpc_method=~"a|b"}[$__rate_interval]))) / ignoring(x) up > 1e3 and on(instance) process_open_fds offset 5m',
    );
    assert.deepEqual([...use.metrics].sort(), ["process_open_fds", "rpc_server_call_duration_seconds_bucket", "up"]);
    assert.deepEqual([...(use.labels.get("rpc_server_call_duration_seconds_bucket") ?? [])].sort(), ["job", "rpc_method"]);
    assert.equal(labelValuesSelector('label_values(stateward_sessions{job=~"$job"}, instance)'), 'stateward_sessions{job=~"$job"}');
  });

  it("the dashboard: every query names metrics and labels of the scrape; panels are well-formed", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
    const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
    const ids = panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
    let queries = 0;
    for (const panel of panels) {
      assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title} fits the grid`);
      if (panel.type === "row") continue;
      assert.ok((panel.description ?? "") !== "", `${panel.title} says what it shows`);
      assert.equal(panel.datasource?.uid, "${datasource}", `${panel.title} uses the data source variable`);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title} has queries`);
      for (const target of panel.targets ?? []) {
        assert.equal(target.datasource?.uid, "${datasource}");
        assertKnown(scrape, `panel "${panel.title}"`, target.expr);
        queries++;
      }
    }
    for (const annotation of dashboard.annotations.list) if (annotation.expr !== undefined) assertKnown(scrape, "annotation", annotation.expr);
    for (const variable of dashboard.templating.list) {
      if (variable.type !== "query") continue;
      const query = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
      const selector = labelValuesSelector(query);
      assert.ok(selector !== undefined, `variable ${variable.name}: a label_values query`);
      assertKnown(scrape, `variable ${variable.name}`, selector);
    }
    assert.ok(queries >= 30, `${queries} queries checked`);
  });

  it("the alert rules and their unit tests: every expression and input series names metrics and labels of the scrape", () => {
    const rules = parseYaml(readFileSync(RULES, "utf8")) as Rules;
    const alerts = rules.groups.flatMap((group) => group.rules);
    assert.ok(alerts.length >= 10, `${alerts.length} rules`);
    for (const rule of alerts) {
      assert.ok(rule.alert !== undefined, "alerting rules only");
      assert.match(rule.labels?.severity ?? "", /^(critical|warning)$/, `${rule.alert} has a severity`);
      assert.ok((rule.annotations?.summary ?? "") !== "" && (rule.annotations?.description ?? "") !== "", `${rule.alert} is explained`);
      assertKnown(scrape, `alert ${rule.alert}`, rule.expr);
    }
    // The signals an operator needs each have an alert.
    const exprs = alerts.map((rule) => rule.expr).join("\n");
    for (const signal of ["up", "rpc_server_call_duration_seconds_bucket", "stateward_lock_wait_duration_seconds_count", "stateward_memory_utilization_ratio", "stateward_expiry_slice_duration_seconds_bucket", "stateward_rejections_total"]) {
      assert.ok(exprs.includes(signal), `an alert on ${signal}`);
    }
    const tests = parseYaml(readFileSync(RULE_TESTS, "utf8")) as { tests: { input_series: { series: string }[] }[] };
    const tested = new Set<string>();
    for (const test of tests.tests) for (const input of test.input_series) assertKnown(scrape, "alert test input", input.series);
    for (const test of tests.tests) for (const input of test.input_series) for (const metric of promqlUse(input.series).metrics) tested.add(metric);
    assert.ok(tested.size >= 5, "the unit tests cover several metrics");
  });

  it("the README lists every metric family of the scrape, and only those", () => {
    const readme = readFileSync(README, "utf8");
    const start = readme.indexOf("<!-- metrics:begin");
    const end = readme.indexOf("<!-- metrics:end -->");
    assert.ok(start >= 0 && end > start, "the README's metric table is marked");
    const listed = new Set([...readme.slice(start, end).matchAll(/^\| `([a-z0-9_:]+)`/gm)].map((match) => match[1] as string));
    // Families: histograms appear in a scrape as _bucket, _sum and _count.
    const families = new Set([...scrape.keys()].map((name) => name.replace(/_(bucket|sum|count)$/, (suffix) => (scrape.has(`${name.slice(0, -suffix.length)}_bucket`) ? "" : suffix))));
    assert.deepEqual([...listed].sort(), [...families].sort());
  });
});
