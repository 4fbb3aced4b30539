package caddymodule

import (
	"context"
	"crypto/rsa"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

// Metrics, registered in Caddy's metrics registry (served by its metrics
// handler or the admin endpoint's /metrics). Labels are bounded: consumer is
// a configured key or "unknown", never a user.
var applinkMetrics = struct {
	once        sync.Once
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
	tokens      prometheus.GaugeFunc
	skew        *prometheus.HistogramVec
	keys        *prometheus.CounterVec
	imperson    *prometheus.CounterVec
}{}

// skewBuckets span the longest timestamp_window both ways, finest near zero:
// stamps are whole seconds, so a client on time shows between -1 and 0.
var skewBuckets = []float64{-3600, -900, -300, -120, -60, -30, -10, -5, -2, -1, 0, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600}

func initMetrics(registry *prometheus.Registry) error {
	const sub = "applink"
	applinkMetrics.once.Do(func() {
		applinkMetrics.requests = newCounterVec(sub, "requests_total",
			"Requests seen by the applink handler, by consumer, mode and outcome (ok, or the oauth_problem).",
			"consumer", "mode", "outcome")
		applinkMetrics.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: sub, Name: "verify_duration_seconds",
			Help:    "Time spent verifying OAuth requests (signature, nonce and token lookups).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5},
		}, []string{"outcome"})
		applinkMetrics.storeErrors = newCounterVec(sub, "store_errors_total",
			"Failures of the nonce or token store (requests were refused with 503).", "store")
		applinkMetrics.skew = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: sub, Name: "clock_skew_seconds",
			Help:    "oauth_timestamp of signed requests less the proxy's clock, by consumer, accepted or refused: a signing server whose clock drifts shows here before its requests leave the timestamp window.",
			Buckets: skewBuckets,
		}, []string{"consumer"})
		applinkMetrics.keys = newCounterVec(sub, "public_key_verified_total",
			"RSA-SHA1 signatures verified, by consumer and by which of its public keys verified them (the key's fingerprint): during a key rotation, the old key's count stops rising once the consumer signs with the new one.",
			"consumer", "key")
		applinkMetrics.imperson = newCounterVec(sub, "impersonation_refused_total",
			"Impersonation refused by a consumer's policy, by consumer and rule (deny, allow, empty_name, directory_unknown_user, directory_disabled_user); never by user.",
			"consumer", "rule")
		applinkMetrics.tokens = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: sub, Name: "stored_tokens",
			Help: "Tokens (request and access) in the token stores in use.",
		}, countStoredTokens)
	})
	return register(registry, applinkMetrics.requests, applinkMetrics.duration, applinkMetrics.storeErrors, applinkMetrics.tokens, applinkMetrics.skew, applinkMetrics.keys, applinkMetrics.imperson)
}

// metricsNamespace is Caddy's: the metrics are caddy_<subsystem>_<name>.
const metricsNamespace = "caddy"

// newCounterVec is a counter caddy_<subsystem>_<name>, by labels.
func newCounterVec(subsystem, name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: subsystem, Name: name, Help: help}, labels)
}

// register registers cs with registry. The collectors outlive config loads
// and are registered with each load's registry, several times when a
// config has several modules using them: one already registered is no
// error.
func register(registry *prometheus.Registry, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := registry.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// counter is what a token store offers to count itself cheaply.
type counter interface {
	Count(ctx context.Context) (int, error)
}

// tokenCount caches the count: for Redis it is a SCAN, too dear per scrape.
var tokenCount struct {
	sync.Mutex
	at    time.Time
	value float64
}

func countStoredTokens() float64 {
	tokenCount.Lock()
	defer tokenCount.Unlock()
	if time.Since(tokenCount.at) < 15*time.Second {
		return tokenCount.value
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	total := 0
	for _, s := range storesInUse() {
		if c, ok := s.(counter); ok {
			if n, err := c.Count(ctx); err == nil {
				total += n
			}
		}
	}
	tokenCount.at, tokenCount.value = time.Now(), float64(total)
	return tokenCount.value
}

// observe counts one request. consumer must already be bounded.
func observe(consumer, mode, outcome string, started time.Time) {
	if applinkMetrics.requests == nil {
		return
	}
	applinkMetrics.requests.WithLabelValues(consumer, mode, outcome).Inc()
	if !started.IsZero() {
		applinkMetrics.duration.WithLabelValues(outcome).Observe(time.Since(started).Seconds())
	}
}

// verifiedSeries caches, for one consumer, the series its verified requests
// update: WithLabelValues hashes the label values and takes the vector's
// lock on every call. A series is still created on its first use, so that
// none appears in /metrics before it counts anything.
type verifiedSeries struct {
	key          string    // the consumer key, its label
	fingerprints [2]string // of its public keys, their labels
	requests     [len(verifiedModes)]atomic.Pointer[prometheus.Counter]
	skew         atomic.Pointer[prometheus.Observer]
	keys         [2]atomic.Pointer[prometheus.Counter]
}

// newVerifiedSeries is the series of consumer c.
func newVerifiedSeries(c *oauth1.Consumer) *verifiedSeries {
	s := &verifiedSeries{key: c.Key}
	for i, k := range []*rsa.PublicKey{c.PublicKey, c.SecondPublicKey} {
		if k != nil {
			s.fingerprints[i] = rsakey.Fingerprint(k)
		}
	}
	return s
}

// fingerprint names the consumer key that verified a request
// (oauth1.Result.PublicKey), or is "" (HMAC-SHA1).
func (s *verifiedSeries) fingerprint(publicKey int) string {
	if publicKey < 1 || publicKey > len(s.fingerprints) {
		return ""
	}
	return s.fingerprints[publicKey-1]
}

// observeKey counts a signature verified by the consumer's public key
// number publicKey (1 or 2; 0, HMAC-SHA1, is not counted). It reports
// whether this was the key's first use since the config was loaded.
func (s *verifiedSeries) observeKey(publicKey int) (first bool) {
	if applinkMetrics.keys == nil || s.fingerprint(publicKey) == "" {
		return false
	}
	slot := &s.keys[publicKey-1]
	c := slot.Load()
	if c == nil {
		k := applinkMetrics.keys.WithLabelValues(s.key, s.fingerprint(publicKey))
		c = &k
		first = slot.CompareAndSwap(nil, c)
		if !first {
			c = slot.Load()
		}
	}
	(*c).Inc()
	return first
}

// verifiedModes are the modes verifiedSeries caches counters for.
var verifiedModes = [...]oauth1.Mode{oauth1.Mode2LO, oauth1.ModeImpersonation, oauth1.Mode3LO}

// okDuration caches the latency histogram of outcome "ok".
var okDuration atomic.Pointer[prometheus.Observer]

// observeVerified is observe(s.key, mode, "ok", started) and
// observeSkew(s.key, skew), through the cached series.
func (s *verifiedSeries) observeVerified(mode oauth1.Mode, started time.Time, skew time.Duration) {
	if applinkMetrics.requests == nil {
		return
	}
	o := s.skew.Load()
	if o == nil {
		h := applinkMetrics.skew.WithLabelValues(s.key)
		o = &h
		s.skew.Store(o)
	}
	(*o).Observe(skew.Seconds())
	i := slices.Index(verifiedModes[:], mode)
	if i < 0 {
		observe(s.key, string(mode), "ok", started)
		return
	}
	requests := s.requests[i].Load()
	if requests == nil {
		c := applinkMetrics.requests.WithLabelValues(s.key, string(mode), "ok")
		requests = &c
		s.requests[i].Store(requests)
	}
	(*requests).Inc()
	duration := okDuration.Load()
	if duration == nil {
		o := applinkMetrics.duration.WithLabelValues("ok")
		duration = &o
		okDuration.Store(duration)
	}
	(*duration).Observe(time.Since(started).Seconds())
}

// observeImpersonationRefused counts a policy's refusal. consumer must
// already be bounded; rule is one of the policy's few.
func observeImpersonationRefused(consumer, rule string) {
	if applinkMetrics.imperson != nil {
		applinkMetrics.imperson.WithLabelValues(consumer, rule).Inc()
	}
}

func observeStoreError(store string) {
	if applinkMetrics.storeErrors != nil {
		applinkMetrics.storeErrors.WithLabelValues(store).Inc()
	}
}

// observeSkew records a signed request's clock skew. consumer must already
// be bounded.
func observeSkew(consumer string, skew time.Duration) {
	if applinkMetrics.skew != nil {
		applinkMetrics.skew.WithLabelValues(consumer).Observe(skew.Seconds())
	}
}
