package stateward

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// The token travels as "authorization: Bearer <token>": over TLS as gRPC per-RPC credentials that
// require transport security, over plaintext only with WithInsecureToken (for local development
// against a loopback server with an auth file). The same rules as the Python and TypeScript clients.

// authorizationHeader is the metadata key the token travels in.
const authorizationHeader = "authorization"

// TLSOptions configure TLS for every endpoint (WithTLS). Each of the CA, the client certificate
// and its key comes from a file or from PEM in memory, not both.
type TLSOptions struct {
	// CAFile is a PEM file of the CA (or CAs) that signed the server's certificate. Without
	// CAFile and CAPEM the system's roots are used.
	CAFile string
	// CAPEM is the same as PEM.
	CAPEM []byte
	// CertFile is a PEM file of this client's certificate, for a server that requires mutual TLS
	// (--tls-client-ca); it needs KeyFile or KeyPEM.
	CertFile string
	// KeyFile is a PEM file of the client certificate's private key.
	KeyFile string
	// CertPEM is the client certificate as PEM.
	CertPEM []byte
	// KeyPEM is its private key as PEM.
	KeyPEM []byte
	// ServerName is the name checked against the server's certificate instead of the endpoint's
	// host (e.g. "localhost" for a certificate without the address being dialled).
	ServerName string
}

// WithTLS enables TLS (at least 1.2) with these options (the default is plaintext). Use it or
// WithTransportCredentials, not both.
func WithTLS(o TLSOptions) Option {
	return func(c *clientConfig) { c.tls = &o }
}

// WithToken sends the bearer token of this client's principal (stateward token create) with every
// call, as "authorization: Bearer <token>". It needs TLS (WithTLS or WithTransportCredentials):
// NewClient refuses it over plaintext unless WithInsecureToken is given too.
func WithToken(token string) Option {
	return func(c *clientConfig) { c.token, c.hasToken = token, true }
}

// WithInsecureToken lets WithToken's token travel over a plaintext connection, as plain metadata,
// for local development against a loopback server with an auth file. Anyone on the path can read
// it: never across a network. Over TLS it changes nothing.
func WithInsecureToken() Option {
	return func(c *clientConfig) { c.insecureToken = true }
}

// tokenCredentials attach the token to every call. requireSecurity is false only in the opted-in
// plaintext case; otherwise grpc-go itself refuses to send the token on a connection without
// transport security.
type tokenCredentials struct {
	token           string
	requireSecurity bool
}

func (t tokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authorizationHeader: "Bearer " + t.token}, nil
}

func (t tokenCredentials) RequireTransportSecurity() bool { return t.requireSecurity }

// String keeps the token out of anything that prints the credentials.
func (t tokenCredentials) String() string { return "stateward.tokenCredentials{token: <redacted>}" }

// resolveSecurity turns the config's security options into its transport and per-RPC credentials,
// refusing unsafe or ambiguous combinations with an error naming the options to change.
func resolveSecurity(cfg *clientConfig) (credentials.PerRPCCredentials, error) {
	if cfg.tls != nil {
		if cfg.customCreds {
			return nil, errors.New("stateward: give WithTLS or WithTransportCredentials, not both")
		}
		tlsConfig, err := cfg.tls.config()
		if err != nil {
			return nil, err
		}
		cfg.creds = credentials.NewTLS(tlsConfig)
	}
	if !cfg.hasToken {
		return nil, nil
	}
	if err := checkToken(cfg.token); err != nil {
		return nil, err
	}
	if len(cfg.md.Get(authorizationHeader)) > 0 {
		return nil, errors.New("stateward: give WithToken or an authorization entry in WithMetadata, not both")
	}
	secure := cfg.creds.Info().SecurityProtocol != insecure.NewCredentials().Info().SecurityProtocol
	if !secure && !cfg.insecureToken {
		return nil, errors.New("stateward: WithToken needs TLS: add WithTLS(stateward.TLSOptions{CAFile: ...}) (or " +
			"WithTransportCredentials); to send the token over plaintext for local development, add WithInsecureToken()")
	}
	return tokenCredentials{token: cfg.token, requireSecurity: secure}, nil
}

// checkToken refuses a token that cannot travel as a header value, without echoing it.
func checkToken(token string) error {
	if token == "" {
		return errors.New("stateward: WithToken: the token is empty (is the variable it comes from set?)")
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return errors.New("stateward: WithToken: the token must be printable ASCII without spaces (the value is not shown)")
		}
	}
	return nil
}

// pemOf returns the bytes of a file or of PEM given in memory; an error when both are given.
func pemOf(name, file string, inMemory []byte) ([]byte, error) {
	switch {
	case file != "" && inMemory != nil:
		return nil, fmt.Errorf("stateward: TLSOptions: give %sFile or %sPEM, not both", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("stateward: TLSOptions.%sFile: %w", name, err)
		}
		return b, nil
	}
	return inMemory, nil
}

// config builds the tls.Config of the options.
func (o TLSOptions) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	ca, err := pemOf("CA", o.CAFile, o.CAPEM)
	if err != nil {
		return nil, err
	}
	if ca != nil {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(ca) {
			return nil, errors.New("stateward: TLSOptions: the CA holds no PEM certificate")
		}
	}
	cert, err := pemOf("Cert", o.CertFile, o.CertPEM)
	if err != nil {
		return nil, err
	}
	key, err := pemOf("Key", o.KeyFile, o.KeyPEM)
	if err != nil {
		return nil, err
	}
	if (cert == nil) != (key == nil) {
		return nil, errors.New("stateward: TLSOptions: a client certificate needs its key and a key its certificate (Cert* and Key* together, or neither)")
	}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			// tls's message names what failed to parse, never the key's bytes.
			return nil, fmt.Errorf("stateward: TLSOptions: the client certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
