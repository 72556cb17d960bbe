import { StoreError } from "./store-error";

/**
 * The refusal of a call that would wait in a full queue (`--max-waiters`), one wording for every
 * backend: `waiting` calls already wait for the session, and `limit` is the most allowed.
 */
export function tooManyWaiters(waiting: number, limit: number): StoreError {
  return new StoreError("resource-exhausted", "TOO_MANY_WAITERS", `the session already has ${waiting} waiting calls (--max-waiters ${limit})`, {
    limit: String(limit),
  });
}
