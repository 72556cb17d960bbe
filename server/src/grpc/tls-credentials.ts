/**
 * TLS for the gRPC port through grpc-js's certificate-provider credentials
 * (`experimental.createCertificateProviderServerCredentials`), which re-key the listening server
 * with `setSecureContext` on every update: new connections use the new material, open connections
 * keep working. The provider is our own rather than grpc-js's `FileWatcherCertificateProvider`,
 * because that one reads the three files separately on a timer and hands on whatever it read: a
 * half-written or mismatched certificate and key would take TLS down (and an unreadable file turns
 * the credentials off, dropping every new connection), and it has no way to react to SIGHUP. Ours
 * forwards only material that was read and checked as a whole (security/reloading-files.ts,
 * security/tls-material.ts), at once on a change or a signal.
 */
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { TlsState } from "../security/tls-state";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** A grpc-js certificate provider that follows a {@link TlsState}. */
class TlsStateCertificateProvider implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly state: TlsState) {}

  private ca(): experimental.CaCertificateUpdate | null {
    const ca = this.state.material.clientCa;
    return ca === undefined ? null : { caCertificate: ca };
  }

  private identity(): experimental.IdentityCertificateUpdate {
    return { certificate: this.state.material.cert, privateKey: this.state.material.key };
  }

  private follow(): void {
    this.unsubscribe ??= this.state.onReplace(() => {
      for (const listener of this.identityListeners) listener(this.identity());
      for (const listener of this.caListeners) listener(this.ca());
    });
  }

  private unfollow(): void {
    if (this.caListeners.size > 0 || this.identityListeners.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  // The first update goes out on the next tick, as grpc-js's own provider does: the credentials add
  // their listener before the server's watcher, which must see that update too.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.follow();
    process.nextTick(() => this.caListeners.has(listener) && listener(this.ca()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.unfollow();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.follow();
    process.nextTick(() => this.identityListeners.has(listener) && listener(this.identity()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.unfollow();
  }
}

/**
 * Server credentials that follow `state`; with a client CA, every client must present a
 * certificate chaining to it (others fail the handshake).
 */
export function tlsServerCredentials(state: TlsState): ServerCredentials {
  const provider = new TlsStateCertificateProvider(state);
  return experimental.createCertificateProviderServerCredentials(provider, state.mutual ? provider : null, state.mutual);
}
