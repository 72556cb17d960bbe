/**
 * The TLS material in service, replaced when its files change (see reloading-files.ts). The gRPC
 * port (grpc/tls-credentials.ts) and the HTTP ports (http/http-listener.ts) follow it: new
 * connections get the new material, open ones keep theirs.
 */
import type { TlsMaterial } from "./tls-material";

/** The current material and who follows it. */
export class TlsState {
  private current: TlsMaterial;
  private readonly listeners = new Set<(material: TlsMaterial) => void>();

  constructor(material: TlsMaterial) {
    this.current = material;
  }

  /** The material in service. */
  get material(): TlsMaterial {
    return this.current;
  }

  /** True with a client CA: clients must (gRPC) or may (HTTP) present certificates. */
  get mutual(): boolean {
    return this.current.clientCa !== undefined;
  }

  /** Puts new material in service. */
  replace(material: TlsMaterial): void {
    this.current = material;
    for (const listener of [...this.listeners]) listener(material);
  }

  /** Calls `listener` after each {@link replace}; returns the unsubscribe function. */
  onReplace(listener: (material: TlsMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
