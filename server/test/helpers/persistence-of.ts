/** Reach into a test server's memory backend for its journal (private fields, for tests only). */
import * as assert from "node:assert/strict";
import { Persistence } from "../../src/store/durable/persistence";
import type { JournalTarget } from "../../src/store/memory/session-journal";
import type { TestServer } from "./test-server";

/** The memory backend's journal: tests call for snapshots through it (`snapshotNow` is for tests and tools). */
export function persistenceOf(t: TestServer): Persistence {
  const journal: unknown = Reflect.get(t.memory(), "journal");
  assert.ok(journal instanceof Persistence, "the memory backend has a data directory");
  return journal;
}

/** What the journal snapshots (the memory backend's sessions). */
export function journalTargetOf(t: TestServer): JournalTarget {
  const target: unknown = Reflect.get(t.memory(), "journalTarget");
  assert.ok(target !== undefined, "the memory backend has a journal target");
  return target as JournalTarget;
}
