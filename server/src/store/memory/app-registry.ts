import { StoreError } from "../store-error";

/**
 * App names by index, counted by their resident sessions: the session table stores an app's index,
 * not its name (events need the name). An app is forgotten with its last session and its index
 * reused, so that apps with no sessions cost nothing; at most `maxApps` have sessions at once.
 */
export class AppRegistry {
  private readonly names: string[] = [];
  private readonly sessions: number[] = [];
  private readonly freeIndexes: number[] = [];
  private readonly indexes = new Map<string, number>();

  /** @param maxApps - apps that may have sessions at once (`--max-apps`). */
  constructor(readonly maxApps: number) {}

  /** Apps that have sessions. */
  get size(): number {
    return this.indexes.size;
  }

  /** The index of an app that has sessions, or -1. */
  indexOf(app: string): number {
    return this.indexes.get(app) ?? -1;
  }

  /** The name of the app at `index`. */
  nameOf(index: number): string {
    return this.names[index] as string;
  }

  /** Whether a session of `app` may be added without passing `maxApps`. */
  hasRoomFor(app: string): boolean {
    return this.indexes.size < this.maxApps || this.indexes.has(app);
  }

  /** Counts one more session of `app`, registering it; returns its index. Check {@link hasRoomFor} first. */
  acquire(app: string): number {
    let index = this.indexes.get(app);
    if (index === undefined) {
      index = this.freeIndexes.pop() ?? this.names.length;
      this.names[index] = app;
      this.sessions[index] = 0;
      this.indexes.set(app, index);
    }
    this.sessions[index] = (this.sessions[index] as number) + 1;
    return index;
  }

  /** One session of the app at `index` is gone; the last one takes the app with it. */
  release(index: number): void {
    const left = (this.sessions[index] as number) - 1;
    this.sessions[index] = left;
    if (left > 0) return;
    this.indexes.delete(this.names[index] as string);
    this.names[index] = "";
    this.freeIndexes.push(index);
  }

  /** The refusal of a session that would be of one app more than `maxApps`. */
  refusal(): StoreError {
    return new StoreError(
      "resource-exhausted",
      "TOO_MANY_APPS",
      `${this.indexes.size} apps already have sessions; the limit (--max-apps) is ${this.maxApps}`,
      { limit: String(this.maxApps) },
    );
  }
}
