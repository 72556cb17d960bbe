import { readFileSync } from "node:fs";
import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import type { StartedServer } from "../../../server/src/index";
import { endpointIdentity, murmur3x86_32, nodeSeed, Partitioner, routingKey, StatewardError, type EndpointConfig } from "../src";
import { assert, useResources } from "./helpers";

interface VectorEndpoint {
  readonly address: string;
  readonly node_id: string | null;
}

interface Vectors {
  readonly version: number;
  readonly murmur3_x86_32: readonly { input_hex: string; seed: number; hash: number }[];
  readonly node_seeds: readonly { identity: string; seed: number }[];
  readonly routing_keys: readonly { app: string; session_id: string; key_hex: string }[];
  readonly endpoint_sets: Readonly<Record<string, readonly VectorEndpoint[]>>;
  readonly cases: readonly {
    endpoint_set: string;
    app: string;
    session_id: string;
    scores: readonly number[];
    owner_index: number;
    owner_identity: string;
  }[];
  readonly membership_changes: readonly {
    before: string;
    after: string;
    added: readonly string[];
    removed: readonly string[];
    moved: number;
    keys: number;
  }[];
  readonly invalid_endpoint_sets: readonly { name: string; endpoints: readonly VectorEndpoint[]; error: string }[];
}

const vectors = JSON.parse(readFileSync(path.join(__dirname, "../../../proto/partitioning-vectors.json"), "utf8")) as Vectors;

function endpointsOf(name: string): EndpointConfig[] {
  const set = vectors.endpoint_sets[name];
  assert.ok(set !== undefined, `endpoint set ${name}`);
  return set.map((e) => ({ address: e.address, nodeId: e.node_id }));
}

describe("partitioning (proto/PARTITIONING.md vectors)", function () {
  it("is version 1 of the spec", () => {
    assert.equal(vectors.version, 1);
  });

  it("MurmurHash3_x86_32 matches every reference output", () => {
    assert.ok(vectors.murmur3_x86_32.length > 0);
    for (const v of vectors.murmur3_x86_32) {
      assert.equal(murmur3x86_32(Buffer.from(v.input_hex, "hex"), v.seed), v.hash, `${v.input_hex}/${v.seed}`);
    }
  });

  it("node seeds match", () => {
    for (const v of vectors.node_seeds) assert.equal(nodeSeed(v.identity), v.seed, v.identity);
  });

  it("routing keys match", () => {
    for (const v of vectors.routing_keys) assert.equal(routingKey(v.app, v.session_id).toString("hex"), v.key_hex);
  });

  it("every case: scores, owner index and owner identity", () => {
    assert.ok(vectors.cases.length >= 1000);
    const partitioners = new Map<string, Partitioner>();
    for (const v of vectors.cases) {
      let partitioner = partitioners.get(v.endpoint_set);
      if (partitioner === undefined) {
        partitioner = new Partitioner(endpointsOf(v.endpoint_set));
        partitioners.set(v.endpoint_set, partitioner);
      }
      assert.deepEqual(partitioner.scores(v.app, v.session_id), v.scores);
      assert.equal(partitioner.indexFor(v.app, v.session_id), v.owner_index);
      assert.equal(endpointIdentity(partitioner.endpointFor(v.app, v.session_id)), v.owner_identity);
    }
  });

  it("membership changes move exactly the listed number of keys, only onto added or off removed nodes", () => {
    for (const change of vectors.membership_changes) {
      const before = new Partitioner(endpointsOf(change.before));
      const after = new Partitioner(endpointsOf(change.after));
      const keys = vectors.cases.filter((c) => c.endpoint_set === change.before);
      assert.equal(keys.length, change.keys);
      let moved = 0;
      for (const key of keys) {
        const from = endpointIdentity(before.endpointFor(key.app, key.session_id));
        const to = endpointIdentity(after.endpointFor(key.app, key.session_id));
        if (from === to) continue;
        moved++;
        assert.ok(change.added.includes(to) || change.removed.includes(from), `${change.before} → ${change.after}: ${from} → ${to}`);
      }
      assert.equal(moved, change.moved, `${change.before} → ${change.after}`);
    }
  });

  it("refuses invalid endpoint lists with the spec's reason", () => {
    for (const v of vectors.invalid_endpoint_sets) {
      assert.throws(
        () => new Partitioner(v.endpoints.map((e) => ({ address: e.address, nodeId: e.node_id }))),
        (error: unknown) => error instanceof StatewardError && error.reason === v.error && error.code === status.INVALID_ARGUMENT,
        v.name,
      );
    }
  });

  it("spreads sessions evenly (4 nodes, 20,000 ids: 25 % ± 2.5 % each)", () => {
    const partitioner = new Partitioner(["n1:1", "n2:1", "n3:1", "n4:1"]);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[partitioner.indexFor("app", `session-${i}-${(i * 2654435761) % 1000003}`)]!++;
    for (const count of counts) assert.ok(Math.abs(count / 20_000 - 0.25) < 0.025, `counts ${counts.join(",")}`);
  });
});

describe("SessionClient over several nodes", function () {
  const r = useResources();
  let servers: StartedServer[];

  beforeEach(async () => {
    servers = await Promise.all([r().server(), r().server(), r().server()]);
  });

  it("routes each session to its owner node, one connection per node", async () => {
    const endpoints = servers.map((s) => s.address);
    const client = r().client({ endpoints });
    const partitioner = new Partitioner(endpoints);
    const ids = Array.from({ length: 60 }, (_, i) => `sid-${i}`);
    await Promise.all(ids.map((id) => client.set("app", id, id)));
    for (const [index, server] of servers.entries()) {
      const owned = ids.filter((id) => partitioner.indexFor("app", id) === index);
      assert.ok(owned.length > 0, "every node owns some sessions");
      assert.equal((await server.store.counts()).sessions, owned.length, `node ${index} holds exactly its share`);
      assert.equal(client.endpointFor("app", owned[0]!).address, server.address);
    }
  });

  it("adding a node moves only the sessions the new node wins; removing it moves them back", async () => {
    const [a, b, c] = servers as [StartedServer, StartedServer, StartedServer];
    const two = r().client({ endpoints: [a.address, b.address] });
    const ids = Array.from({ length: 90 }, (_, i) => `user-${i}`);
    await Promise.all(ids.map((id) => two.set("app", id, `data-${id}`)));

    const three = r().client({ endpoints: [c.address, a.address, b.address], transport: "unary" });
    const results = await Promise.all(ids.map(async (id) => ({ id, read: await three.get("app", id) })));
    const moved = results.filter((x) => x.read.outcome === "not-found").map((x) => x.id);
    const stayed = results.filter((x) => x.read.outcome === "ok");
    assert.ok(moved.length > 0 && moved.length < ids.length / 2, `about a third moved (${moved.length})`);
    for (const id of moved) assert.equal(three.endpointFor("app", id).address, c.address, "only sessions won by the new node moved");
    for (const { id, read } of stayed) {
      assert.ok(read.outcome === "ok" && read.data.toString() === `data-${id}`);
      assert.equal(three.endpointFor("app", id).address, two.endpointFor("app", id).address);
    }
    // The old list again: every session is where it was.
    const back = r().client({ endpoints: [b.address, a.address] });
    for (const id of ids) assert.equal((await back.get("app", id)).outcome, "ok");
  });

  it("refuses an invalid endpoint list with a StatewardError", () => {
    assert.throws(() => r().client({ endpoints: [] }), (error: unknown) => StatewardError.is(error) && error.reason === "no-endpoints");
    assert.throws(
      () => r().client({ endpoints: ["127.0.0.1:1", { address: "127.0.0.1:2", nodeId: "127.0.0.1:1" }] }),
      (error: unknown) => StatewardError.is(error) && error.reason === "duplicate-identity",
    );
  });
});
