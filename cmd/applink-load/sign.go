package main

import (
	"crypto/rsa"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

const (
	rsaConsumer  = "bench:rsa"
	hmacConsumer = "bench:hmac"
	hmacSecret   = "bench-hmac-secret"
	benchPath    = "/rest/api/2/myself"
)

// signer produces unique, valid 2LO requests for one proxy.
type signer struct {
	base    oauth1.BaseURL
	baseURL string
	host    string // Host header
	key     *rsa.PrivateKey
	run     string // distinguishes this run's nonces
	seq     atomic.Int64
}

// request renders one signed GET as raw HTTP/1.1 bytes (keep-alive).
func (s *signer) request(consumer, method string, ts int64, sign func(base string) (string, error)) ([]byte, error) {
	nonce := s.run + "-" + strconv.FormatInt(s.seq.Add(1), 36)
	o := []oauth1.Param{
		{Key: "oauth_consumer_key", Value: consumer},
		{Key: "oauth_signature_method", Value: method},
		{Key: "oauth_timestamp", Value: strconv.FormatInt(ts, 10)},
		{Key: "oauth_nonce", Value: nonce},
		{Key: "oauth_version", Value: "1.0"},
		{Key: "oauth_token", Value: ""},
	}
	sig, err := sign(oauth1.BaseString("GET", s.base.SignedURL(benchPath), o))
	if err != nil {
		return nil, err
	}
	o = append(o, oauth1.Param{Key: "oauth_signature", Value: sig})
	b := make([]byte, 0, 700)
	b = append(b, "GET "+benchPath+" HTTP/1.1\r\nHost: "+s.host+"\r\nAuthorization: OAuth realm=\""+oauth1.PercentEncode(s.baseURL)+"\""...)
	for _, p := range o {
		b = append(b, ", "+p.Key+"=\""+oauth1.PercentEncode(p.Value)+"\""...)
	}
	b = append(b, "\r\nUser-Agent: applink-load\r\n\r\n"...)
	return b, nil
}

// presignRSA signs n RSA-SHA1 requests on every core. Their timestamps
// rise evenly over spread seconds centred on ts, as a live client's would,
// so that the nonce store files them in several expiry buckets.
func (s *signer) presignRSA(n int, ts int64, spread int64, progress bool) ([][]byte, time.Duration, error) {
	out := make([][]byte, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	workers := runtime.GOMAXPROCS(0)
	stopProgress := make(chan struct{})
	if progress {
		go func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					done := min(int(next.Load()), n)
					fmt.Printf("  signed %d/%d (%.0f/s)\n", done, n, float64(done)/time.Since(start).Seconds())
				}
			}
		}()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				stamp := ts - spread/2 + int64(i)*spread/int64(n)
				r, err := s.request(rsaConsumer, oauth1.RSASHA1, stamp, func(base string) (string, error) {
					return oauth1.SignRSASHA1(s.key, base)
				})
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				out[i] = r
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	return out, time.Since(start), firstErr
}

// hmacRequest signs one HMAC-SHA1 request now (about a microsecond).
func (s *signer) hmacRequest() []byte {
	r, _ := s.request(hmacConsumer, oauth1.HMACSHA1, time.Now().Unix(), func(base string) (string, error) {
		return oauth1.SignHMACSHA1(hmacSecret, "", base), nil
	})
	return r
}

// plainRequest is the unsigned request the plain reverse_proxy phases send.
func plainRequest(host string) []byte {
	return []byte("GET " + benchPath + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: applink-load\r\n\r\n")
}

// source hands out requests to the workers.
type source interface {
	// next returns the next request, or nil when there is none left.
	next() []byte
}

// pool hands out pre-signed requests, each once.
type pool struct {
	reqs [][]byte
	i    atomic.Int64
}

func (p *pool) next() []byte {
	i := p.i.Add(1) - 1
	if i >= int64(len(p.reqs)) {
		return nil
	}
	return p.reqs[i]
}

func (p *pool) used() int { return int(min(p.i.Load(), int64(len(p.reqs)))) }

// repeat hands out the same request forever (the unsigned phases).
type repeat []byte

func (r repeat) next() []byte { return r }

// cycle hands out pre-signed requests in turn, again and again: the plain
// reverse_proxy phases get the same traffic as the applink ones, and do not
// check nonces.
type cycle struct {
	reqs [][]byte
	i    atomic.Int64
}

func (c *cycle) next() []byte { return c.reqs[(c.i.Add(1)-1)%int64(len(c.reqs))] }

// fresh signs each request when it is asked for (HMAC-SHA1, the soak).
type fresh struct{ s *signer }

func (f fresh) next() []byte { return f.s.hmacRequest() }
