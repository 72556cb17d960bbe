/**
 * A port that another process already listens on, reported as one line that names the flag to
 * change ("port 42424 is in use; pick another with --port") instead of the listener's error dump.
 */
import net from "node:net";

/** The port given by `flag` is taken by another listener; the message says which flag to change. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";

  /**
   * @param port - the port that is taken.
   * @param flag - the option that chose it (`--port`, `--metrics-port`).
   */
  constructor(
    readonly port: number,
    readonly flag: string,
    options?: ErrorOptions,
  ) {
    super(`port ${port} is in use; pick another with ${flag}`, options);
  }
}

/** True for Node's "address already in use" (the error itself, or the cause it was wrapped around). */
export function isAddressInUse(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    if ((current as NodeJS.ErrnoException).code === "EADDRINUSE") return true;
  }
  return false;
}

/**
 * Rejects with {@link PortInUseError} if something listens on `host:port` now; resolves otherwise
 * (also on any other error: the real bind that follows reports it). grpc-js reports a taken port
 * only after logging its own error and as a message string ("No address added out of total 1
 * resolved errors: [listen EADDRINUSE ...]"), so the server looks first, with Node's own listener,
 * whose error has a code. Port 0 (any free port) is never taken.
 */
export async function ensurePortFree(host: string, port: number, flag: string): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  const inUse = await new Promise<unknown>((resolve) => {
    probe.once("error", resolve);
    probe.listen({ host, port }, () => resolve(undefined));
  });
  if (probe.listening) await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (isAddressInUse(inUse)) throw new PortInUseError(port, flag, { cause: inUse });
}
