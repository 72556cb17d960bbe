/**
 * Files that configure a running server (the auth file, the TLS material) and are re-read when they
 * change: on an fs.watch event in their directory (which also sees the rename and symlink swaps of
 * atomic replacement and Kubernetes secret volumes), on SIGHUP (the caller's {@link reload}), and by
 * a slow poll should a file system not report changes. What was read is checked as a whole before
 * it replaces the previous version; a broken new version is logged and the previous one kept.
 */
import { readFileSync, watch, type FSWatcher } from "node:fs";
import path from "node:path";
import type { Logger } from "../logger";

/** What a {@link ReloadingFiles.reload} did. */
export type ReloadOutcome = "unchanged" | "reloaded" | "failed";

/** How a set of files is read, checked and applied. */
export interface ReloadingFilesOptions<T> {
  /** What the files are, for messages ("auth file", "TLS certificate and key"). */
  readonly what: string;
  /** The files; "" entries are left out (and read as undefined). */
  readonly paths: readonly string[];
  /** Checks the contents (in `paths` order) and builds the value; throws with a message naming the file. */
  readonly load: (contents: readonly (Buffer | undefined)[]) => T;
  /** Puts a loaded value into service; called once at {@link ReloadingFiles.open}, then after each change. */
  readonly apply: (value: T) => void;
  /** Fields for the "reloaded" log line. */
  readonly describe?: (value: T) => Record<string, unknown>;
  readonly logger: Logger;
  /** Interval of the safety poll, ms; default 5000. */
  readonly pollMs?: number;
}

/** A file that cannot be read (at start: the server does not start). */
export class FileReadError extends Error {
  override readonly name = "FileReadError";
}

// Events come in bursts (truncate, write, rename): one reload after they settle.
const DEBOUNCE_MS = 50;

/** A set of files kept in service while they change; see the module comment. */
export class ReloadingFiles<T> {
  private last: readonly (Buffer | undefined)[];
  /** The contents of the last refused version: a broken file is logged once, not at every poll. */
  private lastRefused: readonly (Buffer | undefined)[] | undefined;
  private lastError: string | undefined;
  private readonly watchers: FSWatcher[] = [];
  private readonly poll: NodeJS.Timeout;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly options: ReloadingFilesOptions<T>,
    initial: readonly (Buffer | undefined)[],
  ) {
    this.last = initial;
    const names = new Set(options.paths.filter((p) => p !== "").map((p) => path.basename(p)));
    for (const dir of new Set(options.paths.filter((p) => p !== "").map((p) => path.dirname(path.resolve(p))))) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          // Kubernetes swaps a `..data` symlink; other names in the directory are not ours.
          if (name === null || names.has(String(name)) || String(name).startsWith("..")) this.soon();
        });
        watcher.on("error", () => watcher.close());
        this.watchers.push(watcher);
      } catch (error) {
        options.logger.warn({ err: error, dir }, `cannot watch the directory of the ${options.what}; it is re-read every ${this.pollMs} ms and on SIGHUP`);
      }
    }
    this.poll = setInterval(() => this.reload(), this.pollMs);
    this.poll.unref();
  }

  private get pollMs(): number {
    return this.options.pollMs ?? 5000;
  }

  /**
   * Reads, checks and applies the files.
   * @throws {@link FileReadError} when a file cannot be read, or what `load` throws.
   */
  static open<T>(options: ReloadingFilesOptions<T>): ReloadingFiles<T> {
    const contents = readAll(options.paths, options.what);
    options.apply(options.load(contents));
    return new ReloadingFiles(options, contents);
  }

  /** Re-reads the files now; applies them if they changed and are valid, logs why not otherwise. */
  reload(): ReloadOutcome {
    if (this.closed) return "unchanged";
    const { logger, what } = this.options;
    let contents: readonly (Buffer | undefined)[];
    let value: T;
    try {
      contents = readAll(this.options.paths, what);
      if (contents.every((content, i) => sameBytes(content, this.last[i]))) {
        // Back to the version in use: a broken one that comes again is news again.
        this.lastRefused = undefined;
        this.lastError = undefined;
        return "unchanged";
      }
      const refusedBefore = this.lastRefused;
      if (refusedBefore !== undefined && contents.every((content, i) => sameBytes(content, refusedBefore[i]))) return "failed";
      this.lastRefused = contents;
      value = this.options.load(contents);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // The same failure again (a file still missing) is not logged again at every poll.
      if (message !== this.lastError) logger.error({ error: message }, `${what} not reloaded: the previous one stays in use`);
      this.lastError = message;
      return "failed";
    }
    this.lastRefused = undefined;
    this.lastError = undefined;
    this.options.apply(value);
    this.last = contents;
    logger.info(this.options.describe?.(value) ?? {}, `${what} reloaded`);
    return "reloaded";
  }

  /** Stops watching. */
  close(): void {
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    for (const watcher of this.watchers) watcher.close();
  }

  private soon(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), DEBOUNCE_MS);
    this.debounce.unref();
  }
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}

function readAll(paths: readonly string[], what: string): (Buffer | undefined)[] {
  return paths.map((file) => {
    if (file === "") return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      throw new FileReadError(`cannot read the ${what} ${JSON.stringify(file)}${code === "" ? "" : ` (${code})`}.`);
    }
  });
}
