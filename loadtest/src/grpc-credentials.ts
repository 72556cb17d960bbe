/**
 * The channel credentials of every gRPC channel the tool opens to Stateward: insecure for a
 * plaintext server, else TLS that trusts the run's CA combined with the token as call credentials,
 * the way a Node consumer of a `tls-token` server would configure grpc-js (no SDK option needed).
 */
import { credentials, Metadata, type ChannelCredentials } from "@grpc/grpc-js";
import type { StatewardSecurity } from "./target-spec";

/** The channel credentials for a server with `security` (undefined: plaintext). */
export function statewardCredentials(security: StatewardSecurity | undefined): ChannelCredentials {
  if (security === undefined) return credentials.createInsecure();
  const bearer = `Bearer ${security.token}`;
  // grpc-js asks the generator once per call (unary) or per stream (Pipeline): that per-call cost
  // is part of what the TLS + token runs measure, as it is for any client that uses call credentials.
  const callCredentials = credentials.createFromMetadataGenerator((_options, callback) => {
    const metadata = new Metadata();
    metadata.set("authorization", bearer);
    callback(null, metadata);
  });
  return credentials.combineChannelCredentials(credentials.createSsl(Buffer.from(security.caPem)), callCredentials);
}
