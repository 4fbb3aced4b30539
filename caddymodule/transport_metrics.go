package caddymodule

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The collectors live as long as the process and are registered with the
// metrics registry of every config load (Caddy makes a new registry per
// load), so counts survive reloads. Labels are bounded: the remote's host
// (from the configuration or the upstream address) and a problem code from
// a fixed set; never a user.
var transportMetrics = struct {
	once     sync.Once
	problems *prometheus.CounterVec
	refusals *prometheus.CounterVec
}{}

// Reasons for a local refusal (the refusals counter's reason label).
const (
	reasonNoUser      = "no_user"
	reasonBadUser     = "bad_user"
	reasonNoToken     = "no_token"
	reasonTokenStore  = "token_store_unavailable"
	reasonRenewFailed = "token_renewal_failed"
	reasonBadRequest  = "body_too_large"
	// A query or form the remote's Tomcat would read as other parameters
	// than the ones signed (its charset, bytes that are not in it).
	reasonBadParams = "unsignable_parameters"
)

func initTransportMetrics() {
	const sub = "applink_transport"
	transportMetrics.problems = newCounterVec(sub, "remote_problems_total",
		"Signed requests the remote application refused, by remote host and oauth_problem.", "remote", "problem")
	transportMetrics.refusals = newCounterVec(sub, "local_refusals_total",
		"Requests refused before signing (no user, no 3LO token, ...), by remote host and reason.", "remote", "reason")
}

// registerMetrics registers the collectors with reg (nil: nowhere). Several
// transports in one config register the same collectors: that is expected.
func registerMetrics(reg *prometheus.Registry) error {
	transportMetrics.once.Do(initTransportMetrics)
	if reg == nil {
		return nil
	}
	return register(reg, transportMetrics.problems, transportMetrics.refusals)
}

func countProblem(remote, problem string) {
	transportMetrics.once.Do(initTransportMetrics)
	transportMetrics.problems.WithLabelValues(remote, problem).Inc()
}

func countRefusal(remote, reason string) {
	transportMetrics.once.Do(initTransportMetrics)
	transportMetrics.refusals.WithLabelValues(remote, reason).Inc()
}
