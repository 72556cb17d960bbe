/**
 * Runs one thread's share of a run: open its channels, warm up (unrecorded), wait for the go
 * signal (so the server's CPU time can be sampled at the same instant for every thread), measure.
 */
import { systemClock, type Clock } from "./clock";
import { EchoOps } from "./echo-ops";
import { runLoad, type LiveCounters, type LoadResult } from "./load-driver";
import { openSessionChannel } from "./transport-factory";
import { buildRequest, type Channels } from "./workload-requests";
import type { WorkSpec } from "./work-spec";

/** A {@link LoadResult} in a form that crosses thread boundaries (histogram encoded). */
export interface SerializedLoadResult extends Omit<LoadResult, "histogram"> {
  readonly histogram: string;
}

/** Turns a result into its serializable form. */
export function serializeResult(result: LoadResult): SerializedLoadResult {
  return { ...result, histogram: result.histogram.encode() };
}

function openChannels(spec: WorkSpec): Channels {
  const count = Math.max(1, spec.channels);
  if (spec.target.kind === "echo") {
    const addresses = spec.target.addresses;
    return {
      kind: "echo",
      ops: Array.from({ length: count }, (_, channel) => new EchoOps(addresses[channel % addresses.length] ?? "")),
    };
  }
  const target = spec.target;
  return { kind: "session", ops: Array.from({ length: count }, (_, channel) => openSessionChannel(target, channel)) };
}

/**
 * Runs `spec`: warm-up, then `warmedUp()` (resolves when the measured phase may start), then the
 * measured phase. Channels are closed whatever happens.
 */
export async function runWorkload(
  spec: WorkSpec,
  warmedUp: () => Promise<void>,
  live: LiveCounters,
  clock: Clock = systemClock,
): Promise<SerializedLoadResult> {
  const channels = openChannels(spec);
  try {
    const request = buildRequest(spec, channels, clock);
    if (spec.load.warmupMs > 0) {
      await runLoad(request, { ...spec.load, durationMs: spec.load.warmupMs, warmupMs: 0, maxRequests: undefined }, clock);
    }
    await warmedUp();
    return serializeResult(await runLoad(request, { ...spec.load, warmupMs: 0 }, clock, live));
  } finally {
    for (const channel of channels.ops) channel.close();
  }
}
