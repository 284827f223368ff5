// Package statehouse is a thin Go client of Statehouse over the generated
// package github.com/statehouse/statehouse/gen/go/statehouse/v1.
//
// The generated stubs are the API: a Client carries one of each service
// (Executions, Events, Metrics, Admin) on one connection, and adds what every
// caller would otherwise write again:
//
//   - Dial with a bearer token and TLS options (a CA, a client certificate
//     for mTLS, the name to check the server's certificate for);
//   - errors as *Error, reachable with errors.As, carrying the status code,
//     the google.rpc ErrorInfo reason, domain and metadata, and the
//     BadRequest field violations and PreconditionFailure violations the
//     server attached (status.FromError still works on them);
//   - a default deadline on unary calls, and their retry on UNAVAILABLE when
//     they are safe to repeat: reads, and changes that carry a request_id
//     (Idempotent and EnsureRequestID give them one);
//   - Subscribe, a subscription that hands events one by one and resumes
//     after the last sequence it saw across reconnections, even before its
//     first event (from the statehouse-start-sequence response header).
//
// It mirrors the Python SDK's rules (client/src/statehouse/client): the same
// retry defaults, the same idempotence rule, the same subscription cursor.
package statehouse
