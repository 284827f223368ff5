package statehouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	statehousev1 "github.com/statehouse/statehouse/gen/go/statehouse/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// DefaultTimeout is the deadline given to a unary call whose context has none.
const DefaultTimeout = 30 * time.Second

// Client is a connection to a Statehouse server with a stub of each service.
// Every call through these stubs returns its errors as *Error, has a
// deadline and is retried as the RetryPolicy says.
type Client struct {
	Executions statehousev1.ExecutionServiceClient
	Events     statehousev1.EventServiceClient
	Metrics    statehousev1.MetricServiceClient
	Admin      statehousev1.AdminServiceClient

	conn   *grpc.ClientConn
	config config
}

// TLS says how to check the server (and, for mTLS, who the client is). The
// zero value checks the server against the system's certificate authorities.
type TLS struct {
	// CAFile is a PEM file of the authorities to trust instead of the system's.
	CAFile string
	// CertFile and KeyFile are the client's certificate and key (PEM), for mTLS.
	CertFile string
	KeyFile  string
	// ServerName is the name to check the server's certificate for, when it
	// is not the host of the target.
	ServerName string
}

// Option configures Dial.
type Option func(*config)

type config struct {
	token       string
	tls         *TLS
	timeout     time.Duration
	retry       RetryPolicy
	dialOptions []grpc.DialOption
}

// WithToken sends "authorization: Bearer <token>" with every call and stream.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithTLS connects over TLS (plaintext without it).
func WithTLS(t TLS) Option { return func(c *config) { c.tls = &t } }

// WithTimeout sets the deadline of unary calls whose context has none (0: none).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithRetry sets the policy of unary calls (DefaultRetry otherwise).
func WithRetry(p RetryPolicy) Option { return func(c *config) { c.retry = p } }

// WithDialOptions passes options to grpc.Dial, after the client's own.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) { c.dialOptions = append(c.dialOptions, opts...) }
}

// Dial makes a client of the server at target ("host:port"). It does not wait
// for the connection: the first call does, and fails with UNAVAILABLE if the
// server cannot be reached. Only bad options fail here.
func Dial(target string, opts ...Option) (*Client, error) {
	cfg := config{timeout: DefaultTimeout, retry: DefaultRetry}
	for _, opt := range opts {
		opt(&cfg)
	}
	dial, err := cfg.grpcOptions()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.Dial(target, dial...)
	if err != nil {
		return nil, err
	}
	return &Client{
		Executions: statehousev1.NewExecutionServiceClient(conn),
		Events:     statehousev1.NewEventServiceClient(conn),
		Metrics:    statehousev1.NewMetricServiceClient(conn),
		Admin:      statehousev1.NewAdminServiceClient(conn),
		conn:       conn,
		config:     cfg,
	}, nil
}

// Conn is the underlying connection, for other stubs (health, reflection).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection; open streams end with CANCELED.
func (c *Client) Close() error { return c.conn.Close() }

func (c *config) grpcOptions() ([]grpc.DialOption, error) {
	opts := []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(unaryInterceptor(c.timeout, c.retry)),
		grpc.WithChainStreamInterceptor(streamInterceptor),
	}
	if c.tls == nil {
		opts = append(opts, grpc.WithInsecure())
	} else {
		tlsConfig, err := c.tls.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	}
	if c.token != "" {
		if !validToken(c.token) {
			return nil, errors.New("statehouse: the token must be printable ASCII without spaces")
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(c.token)))
	}
	return append(opts, c.dialOptions...), nil
}

func (t *TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("statehouse: reading the CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("statehouse: no PEM certificate in %s", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("statehouse: give both CertFile and KeyFile, or neither")
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("statehouse: reading the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// bearer sends the token on every call; plaintext is allowed, as in the
// other SDKs, for servers on the same host.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

func validToken(token string) bool {
	for _, r := range token {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return !strings.ContainsAny(token, "\r\n")
}
