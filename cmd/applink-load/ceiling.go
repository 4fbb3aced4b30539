package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// verifyCost measures, in this process and on one core, what the proxy's
// own verifier spends on one of the bench's requests: the RSA-SHA1
// verification with its parsing, base string and nonce record. It is the
// part of (b)'s extra cost that no handler can shed, and so bounds the
// ratio (b)/(a) on this machine.
func verifyCost(reqs [][]byte, consumer *oauth1.Consumer) (time.Duration, error) {
	base, err := oauth1.ParseBaseURL(benchBaseURL)
	if err != nil {
		return 0, err
	}
	parsed := make([]*oauth1.Request, 0, len(reqs))
	for _, raw := range reqs {
		hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return 0, err
		}
		parsed = append(parsed, &oauth1.Request{Method: hr.Method, RawPath: hr.URL.EscapedPath(), RawQuery: hr.URL.RawQuery,
			Authorization: hr.Header.Values("Authorization")})
	}
	var total time.Duration
	n := 0
	for total < 500*time.Millisecond {
		v := &oauth1.Verifier{BaseURL: base, Nonces: sinceEver{store.NewMemory()},
			Consumers: func(k string) *oauth1.Consumer {
				if k == consumer.Key {
					return consumer
				}
				return nil
			}}
		start := time.Now()
		for _, r := range parsed {
			if _, p := v.Verify(context.Background(), r); p != nil {
				return 0, fmt.Errorf("verifying a bench request in-process: %v", p)
			}
		}
		total += time.Since(start)
		n += len(parsed)
	}
	return total / time.Duration(n), nil
}

// sinceEver is a memory nonce store that takes requests signed before it
// was made: the pool's timestamps spread around its creation.
type sinceEver struct{ *store.Memory }

func (sinceEver) Since() time.Time { return time.Time{} }
