/**
 * The cost of TLS and a token (issue 13): Get and Lock+Set, pipelined and unary, against a
 * plaintext server and a `tls-token` server (--tls-cert, --tls-key, --auth-file; clients trust the
 * CA and send the token as call credentials) that live at once. Each pair's measured phase
 * alternates between the two servers in short slices, A-B-B-A-A-B…, so that whatever else the
 * machine does, and any drift over the pair, falls on both alike.
 */
import { durationFlag } from "./command-line";
import type { RunResult } from "./report-model";
import type { LoadTarget, RunContext } from "./run-context";
import { mergeRunSlices } from "./run-merge";
import { runSessionScenario } from "./session-scenario";
import type { SecurityMode } from "./target-spec";
import { LATER_SLICE_WARMUP_MS, TLS_COMPARISONS, TLS_SLICES, tlsComparisonRunId } from "./tls-comparison-runs";

const SECURITY_TITLES: Readonly<Record<SecurityMode, string>> = { plaintext: "plaintext", "tls-token": "TLS + token" };

/**
 * Runs every comparison on `plaintext` (a plaintext server) and `secure` (a `tls-token` one):
 * per comparison the plaintext run, then the TLS + token run.
 */
export async function runTlsComparison(context: RunContext, plaintext: LoadTarget, secure: LoadTarget): Promise<RunResult[]> {
  if (plaintext.security !== undefined || secure.security === undefined) throw new Error("the TLS comparison needs a plaintext and a tls-token server");
  const options = context.options;
  // Slices that add up to --duration exactly (each at least 500 ms).
  const totalMs = Math.max(options.durationMs, 500 * TLS_SLICES);
  const sliceMs = (slice: number): number => Math.round(((slice + 1) * totalMs) / TLS_SLICES) - Math.round((slice * totalMs) / TLS_SLICES);
  const laterWarmup = context.withOptions({ warmupMs: Math.min(options.warmupMs, LATER_SLICE_WARMUP_MS) });
  const runs: RunResult[] = [];
  for (const { scenario, transport } of TLS_COMPARISONS) {
    const slices: Record<SecurityMode, RunResult[]> = { plaintext: [], "tls-token": [] };
    for (let slice = 0; slice < TLS_SLICES; slice++) {
      const order: readonly SecurityMode[] = slice % 2 === 0 ? ["plaintext", "tls-token"] : ["tls-token", "plaintext"];
      const sliceContext = (slice === 0 ? context : laterWarmup).withOptions({ transport });
      for (const security of order) {
        slices[security].push(await runSessionScenario(sliceContext, scenario, "stateward", security === "plaintext" ? plaintext : secure, "node", sliceMs(slice)));
      }
    }
    for (const security of ["plaintext", "tls-token"] as const) {
      const other = security === "plaintext" ? "the TLS + token run" : "the plaintext run";
      const merged = mergeRunSlices(slices[security], `${other} (A-B-B-A)`);
      runs.push({
        ...merged,
        id: tlsComparisonRunId(scenario, transport, security),
        title: `TLS comparison · ${scenario} · Stateward · Node (${transport}) · ${SECURITY_TITLES[security]}`,
        scenario,
        // The reproducing command is the one of the whole run, not of a slice.
        command: merged.command
          .replace(/--duration [0-9]+m?s/, `--duration ${durationFlag(totalMs)}`)
          .replace(/--warmup [0-9]+m?s/, `--warmup ${durationFlag(options.warmupMs)}`),
      });
    }
  }
  return runs;
}
