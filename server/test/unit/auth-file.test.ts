/**
 * The auth file's rules (security/auth-file.ts), the lookup of credentials (access-policy.ts) and
 * the rate-limited refusal log (auth-failure-log.ts), without a server.
 */
import * as assert from "node:assert/strict";
import { Writable } from "node:stream";
import { authorize, bearerCredential, isDenial, tokenSha256, type Denial, type Principal } from "../../src/security/access-policy";
import { AuthFailureLog } from "../../src/security/auth-failure-log";
import { AuthFileError, parseAuthFile } from "../../src/security/auth-file";
import { createLogger } from "../../src/logger";

const HASH = tokenSha256("secret-token");

function refused(principals: unknown, pattern: RegExp): void {
  assert.throws(() => parseAuthFile(JSON.stringify({ principals }), "/etc/stateward/auth.json"), (error: unknown) => {
    assert.ok(error instanceof AuthFileError);
    assert.match(error.message, /^auth file "\/etc\/stateward\/auth\.json"/);
    assert.match(error.message, pattern);
    return true;
  });
}

describe("the auth file", () => {
  it("reads token and certificate principals, ignoring fields it does not know", () => {
    const policy = parseAuthFile(
      JSON.stringify({
        comment: "more fields may be added",
        principals: [
          { name: "shop-web", token_sha256: HASH, apps: ["shop"], access: "read-write", note: "ignored" },
          { name: "web-mtls", client_cert_cn: "web-01.example", apps: ["*"], access: "read-only" },
        ],
      }),
      "auth.json",
    );
    assert.equal(policy.size, 2);
    assert.ok(policy.namesCertificates);
    const shop = policy.authenticate({ tokenSha256: HASH });
    assert.ok(!isDenial(shop));
    assert.equal(shop.name, "shop-web");
    const mtls = policy.authenticate({ clientCertCn: "web-01.example" });
    assert.ok(!isDenial(mtls) && mtls.apps === "*" && mtls.access === "read-only");
  });

  it("names the entry and the field of every mistake", () => {
    refused([{ token_sha256: HASH, apps: ["shop"], access: "read-write" }], /principals\[0\]: field "name" must be a string/);
    refused([{ name: "a", apps: ["shop"], access: "read-write" }], /principals\[0\] \("a"\): field "token_sha256" or "client_cert_cn" is needed, exactly one/);
    refused([{ name: "a", token_sha256: HASH, client_cert_cn: "x", apps: ["shop"], access: "read-write" }], /exactly one of them/);
    refused([{ name: "a", token_sha256: HASH.toUpperCase(), apps: ["shop"], access: "read-write" }], /\("a"\): field "token_sha256" must be 64 lowercase hex digits/);
    refused([{ name: "a", token_sha256: HASH, apps: [], access: "read-write" }], /field "apps" must be a non-empty array/);
    refused([{ name: "a", token_sha256: HASH, apps: ["shop", "has space"], access: "read-write" }], /field "apps" entry 1 must be an app name/);
    refused([{ name: "a", token_sha256: HASH, apps: ["shop"], access: "write" }], /field "access" must be "read-only" \(Get and Watch\) or "read-write"/);
    refused([{ name: "a", client_cert_cn: "", apps: ["shop"], access: "read-write" }], /field "client_cert_cn" must be the subject common name/);
    refused(
      [
        { name: "a", token_sha256: HASH, apps: ["shop"], access: "read-write" },
        { name: "b", token_sha256: tokenSha256("other"), apps: ["shop"], access: "read-write" },
        { name: "a", token_sha256: tokenSha256("third"), apps: ["shop"], access: "read-write" },
      ],
      /principals\[2\] \("a"\): field "name" repeats the name of principals\[0\]/,
    );
    refused(
      [
        { name: "a", token_sha256: HASH, apps: ["shop"], access: "read-write" },
        { name: "b", token_sha256: HASH, apps: ["blog"], access: "read-only" },
      ],
      /principals\[1\] \("b"\): field "token_sha256" is the same as principal "a"'s/,
    );
    assert.throws(() => parseAuthFile("{nope", "f.json"), /auth file "f\.json" is not valid JSON/);
    assert.throws(() => parseAuthFile("[]", "f.json"), /must hold a JSON object \{"principals": \[\.\.\.\]\}, not an array/);
    assert.throws(() => parseAuthFile("{}", "f.json"), /field "principals" must be an array of principals, not missing/);
    assert.throws(() => parseAuthFile('{"principals": [3]}', "f.json"), /principals\[0\] must be an object, not a number/);
  });

  it("refuses an unknown or malformed token, and an unknown certificate; a token decides alone", () => {
    const policy = parseAuthFile(
      JSON.stringify({
        principals: [
          { name: "t", token_sha256: HASH, apps: ["shop"], access: "read-write" },
          { name: "c", client_cert_cn: "web-01.example", apps: ["shop"], access: "read-write" },
        ],
      }),
      "auth.json",
    );
    const reasonOf = (result: Principal | Denial): string => (isDenial(result) ? `${result.kind}:${result.errorReason}:${result.reason}` : result.name);
    assert.equal(reasonOf(policy.authenticate({})), "unauthenticated:MISSING_CREDENTIAL:missing_credential");
    assert.equal(reasonOf(policy.authenticate({ tokenSha256: tokenSha256("guess") })), "unauthenticated:UNKNOWN_CREDENTIAL:unknown_token");
    assert.equal(reasonOf(policy.authenticate({ clientCertCn: "other" })), "unauthenticated:UNKNOWN_CREDENTIAL:unknown_certificate");
    assert.equal(reasonOf(policy.authenticate({ malformed: true })), "unauthenticated:UNKNOWN_CREDENTIAL:malformed_credential");
    // A known certificate does not rescue an unknown token.
    assert.equal(reasonOf(policy.authenticate({ tokenSha256: tokenSha256("guess"), clientCertCn: "web-01.example" })), "unauthenticated:UNKNOWN_CREDENTIAL:unknown_token");
    assert.equal(reasonOf(policy.authenticate({ tokenSha256: HASH, clientCertCn: "other" })), "t");
  });

  it("reads `Bearer <token>` (any case) and nothing else from authorization values, keeping only the digest", () => {
    assert.equal(bearerCredential([]), undefined);
    assert.deepEqual(bearerCredential(["Bearer secret-token"]), { tokenSha256: HASH });
    assert.deepEqual(bearerCredential(["bearer   secret-token "]), { tokenSha256: HASH });
    for (const values of [["Basic dXNlcg=="], ["Bearer"], ["Bearer a b"], ["Bearer x", "Bearer y"], [Buffer.from("Bearer x")]]) {
      assert.deepEqual(bearerCredential(values), { malformed: true }, JSON.stringify(values));
    }
  });

  it("authorises by app and access, naming the principal, the app and the access it lacks", () => {
    const reports: Principal = { name: "reports", apps: new Set(["shop", "blog"]), access: "read-only" };
    assert.equal(authorize(reports, "shop", false, "Get"), undefined);
    assert.deepEqual(authorize(reports, "shop", true, "Set")?.metadata, { principal: "reports", app: "shop", access: "read-only", required: "read-write" });
    assert.match(authorize(reports, "shop", true, "Set")?.message ?? "", /principal "reports" is read-only and may not call Set on app "shop"/);
    const denied = authorize(reports, "admin", false, "Get");
    assert.equal(denied?.errorReason, "APP_NOT_ALLOWED");
    assert.deepEqual(denied?.metadata, { principal: "reports", app: "admin" });
    assert.equal(authorize({ name: "ops", apps: "*", access: "read-write" }, "anything", true, "Remove"), undefined);
  });
});

describe("the refusal log", () => {
  it("logs at most `burst` lines per window, then one line with the count of the rest; never a token", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        for (const line of String(chunk).split("\n").filter((l) => l !== "")) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    let now = 0;
    const log = new AuthFailureLog(createLogger("info", sink), { burst: 3, windowMs: 1000, now: () => now });
    const policy = parseAuthFile('{"principals": []}', "auth.json");
    const denial = policy.authenticate({ tokenSha256: tokenSha256("guess") }) as Denial;
    for (let i = 0; i < 1000; i++) log.record(denial, { method: "Get", peer: "10.0.0.9:5000" });
    assert.equal(lines.length, 3);
    assert.deepEqual(
      { principal: lines[0]?.principal, reason: lines[0]?.reason, method: lines[0]?.method, peer: lines[0]?.peer },
      { principal: "unknown", reason: "unknown_token", method: "Get", peer: "10.0.0.9:5000" },
    );
    now = 1000;
    log.record(denial, { method: "Get" });
    assert.equal(lines.length, 5);
    assert.equal(lines[3]?.suppressed, 997);
    assert.ok(!JSON.stringify(lines).includes("guess"));
  });
});
