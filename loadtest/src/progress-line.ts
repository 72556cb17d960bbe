/**
 * The live progress line on stderr: phase, elapsed time, completions, current rate, errors. Shown
 * only when stderr is a terminal or `--progress` asks for it; rewritten in place on a terminal.
 */
import type { LiveCounters } from "./load-driver";
import { plural } from "./plural";

/** Where and whether to draw. */
export interface ProgressOptions {
  readonly enabled: boolean;
  readonly stream: NodeJS.WriteStream;
  /** Redraw period, ms. */
  readonly periodMs?: number;
}

/** Formats one progress line (pure, for tests and for the redraw). */
export function formatProgress(label: string, elapsedMs: number, completed: number, ratePerSecond: number, errors: number): string {
  const rate = Math.round(ratePerSecond).toLocaleString("en-US");
  return `${label}  ${(elapsedMs / 1000).toFixed(1)} s  ${completed.toLocaleString("en-US")} done  ${rate}/s  ${plural(errors, "error")}`;
}

/** Starts drawing `label`'s progress from `live`; call the returned function to stop (and end the line). */
export function startProgress(label: string, live: LiveCounters, options: ProgressOptions): () => void {
  if (!options.enabled) return () => undefined;
  const tty = options.stream.isTTY === true;
  const started = Date.now();
  let lastCompleted = live.completed;
  let lastTime = started;
  const draw = (): void => {
    const now = Date.now();
    const rate = ((live.completed - lastCompleted) * 1000) / Math.max(1, now - lastTime);
    lastCompleted = live.completed;
    lastTime = now;
    const line = formatProgress(label, now - started, live.completed, rate, live.errors);
    options.stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  const timer = setInterval(draw, options.periodMs ?? (tty ? 500 : 2000));
  timer.unref();
  return () => {
    clearInterval(timer);
    draw();
    if (tty) options.stream.write("\n");
  };
}
