/**
 * Starts the built server (`server/bin/stateward serve`) on 127.0.0.1 with a free gRPC port and a
 * free --metrics-port, drives the sample traffic (metrics-sample-traffic.ts), scrapes `/metrics`
 * and writes the scrape to stdout; the server is stopped with SIGTERM. Used by
 * `make test-metrics-lint`, which pipes the scrape into `promtool check metrics`.
 *
 *   npx tsx server/tools/scrape-metrics.ts > scrape.txt
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { SNAPSHOT_SERIES, driveSampleTraffic, sampleTrafficServerFlags } from "./metrics-sample-traffic";

const CLI = path.resolve(__dirname, "../bin/stateward");
const START_TIMEOUT_MS = 20_000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function get(port: number, urlPath: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: urlPath, timeout: 10_000, agent: false }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"]), body }));
      })
      .on("error", reject);
  });
}

async function main(): Promise<void> {
  const metricsPort = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "stateward-scrape-"));
  const child = spawn(CLI, ["serve", "--port", "0", "--metrics-port", String(metricsPort), ...sampleTrafficServerFlags(path.join(dataDir, "data"))], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not listen within ${START_TIMEOUT_MS} ms: ${stderr}`)), START_TIMEOUT_MS);
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
        const match = /"msg":"stateward listening"/.test(stderr) ? /"port":(\d+)/.exec(stderr) : null;
        if (match !== null) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      void exited.then((code) => reject(new Error(`the server exited (${String(code)}) before listening: ${stderr}`)));
    });
    await driveSampleTraffic(`127.0.0.1:${port}`);
    // The snapshot the traffic started runs in the background: scrape until its series is there.
    const until = Date.now() + START_TIMEOUT_MS;
    let scrape = await get(metricsPort, "/metrics");
    while (scrape.status === 200 && !scrape.body.includes(SNAPSHOT_SERIES) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      scrape = await get(metricsPort, "/metrics");
    }
    if (scrape.status !== 200) throw new Error(`GET /metrics answered ${scrape.status}: ${scrape.body}`);
    if (!scrape.body.includes(SNAPSHOT_SERIES)) throw new Error(`no snapshot within ${START_TIMEOUT_MS} ms (${SNAPSHOT_SERIES} is missing)`);
    process.stdout.write(scrape.body);
  } finally {
    child.kill("SIGTERM");
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`scrape-metrics: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
