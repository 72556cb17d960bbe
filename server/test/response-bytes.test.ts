/**
 * Every byte of every response intact under bursts: the server's response encoders write into one
 * reused scratch buffer (grpc/response-codec.ts), which is sound only because grpc-js copies each
 * serialized response into its own frame before it serializes the next. Bursts of distinct payloads
 * of many sizes, answered in the same turns of the event loop, over both transports and several
 * connections, would come back mixed up if a grpc-js kept the serialized buffer instead.
 */
import assert from "node:assert/strict";
import { Outcome, TRANSPORTS, startTestServer, type Connection, type TestServer } from "./helpers/test-server";
import { seededRandom } from "./helpers/seeded-random";

const SESSIONS = 240;

describe("response bytes under bursts (the encoders' reused scratch buffer)", function () {
  this.timeout(60_000);
  for (const transport of TRANSPORTS) {
    it(`${transport}: ${SESSIONS} distinct payloads of 0 B to 96 KiB, read back at once over 3 connections, 3 times, byte for byte`, async () => {
      const server: TestServer = await startTestServer([], { transport });
      try {
        const random = seededRandom(transport === "unary" ? 1 : 2);
        const payloads = new Map<string, Buffer>();
        for (let i = 0; i < SESSIONS; i++) {
          // Sizes across the scratch buffer's growth steps (16 KiB, doubling), some empty.
          const size = i % 17 === 0 ? 0 : Math.floor(random() ** 3 * 96 * 1024);
          const data = Buffer.alloc(size);
          for (let j = 0; j < size; j++) data[j] = Math.floor(random() * 256);
          payloads.set(`burst-${i}`, data);
        }
        const ids = [...payloads.keys()];
        await Promise.all(ids.map((sessionId) => server.call.set({ sessionId, data: payloads.get(sessionId) as Buffer })));
        const connections: Connection[] = [server.connect(), server.connect(), server.connect()];
        for (let round = 0; round < 3; round++) {
          const answers = await Promise.all(
            ids.map(async (sessionId, i) => {
              const calls = (connections[i % connections.length] as Connection).call;
              // A few Locks among the Gets: LockResponse carries the data too.
              if (round === 1 && i % 10 === 0) {
                const locked = await calls.lock({ sessionId });
                await calls.release({ sessionId, lockId: locked.lockId });
                return { sessionId, outcome: locked.outcome, data: Buffer.from(locked.data) };
              }
              const got = await calls.get({ sessionId });
              return { sessionId, outcome: got.outcome, data: Buffer.from(got.data) };
            }),
          );
          for (const answer of answers) {
            assert.equal(answer.outcome, Outcome.OUTCOME_OK, `round ${round}: ${answer.sessionId}`);
            assert.ok(answer.data.equals(payloads.get(answer.sessionId) as Buffer), `round ${round}: the data of ${answer.sessionId} (${answer.data.length} bytes)`);
          }
        }
      } finally {
        await server.close();
      }
    });
  }
});
