// Command applink-load measures what the applink handler costs: it runs the
// real applink binary as (a) a plain reverse_proxy and (b) applink 2LO
// verification + reverse_proxy in front of the same fast upstream, drives
// both with pre-signed, unique RSA-SHA1 requests from a Go load generator,
// and prints the throughput ratio, latencies and the p99 latency added at
// half the maximum rate; (c) repeats (b) with the Redis nonce store when the
// build and the machine have it. The closed loops of (a), (b) and (c) run in
// alternating turns, as do the open loops, so that the machine's drift falls
// on all alike. It also times the verifier in-process, which bounds (b)/(a)
// on the machine. The soak mode runs (b) at full rate for a long time and
// samples the proxy's RSS.
//
//	go run ./cmd/applink-load                     # make bench
//	go run ./cmd/applink-load -mode soak          # make soak
//
// It is not part of `go test ./...`.
package main

import (
	"crypto/rsa"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

// Targets (issue 5).
const (
	targetRatio      = 0.80
	targetRedisRatio = 0.70
	targetAddedP99   = 2 * time.Millisecond
	targetSoakRSS    = 150 << 20
)

type config struct {
	mode       string
	bin        string
	duration   time.Duration
	openFor    time.Duration
	warmup     time.Duration
	conns      int
	openConns  int
	presign    int
	maxPresign int
	soakFor    time.Duration
	soakRate   float64
	sample     time.Duration
	redis      string
	strict     bool
	keep       bool
	profile    string
	openShare  float64
	pin        bool
	baseline   string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.mode, "mode", "bench", "bench (ratios and latency) or soak (RSS at full rate)")
	flag.StringVar(&cfg.bin, "bin", "", "applink binary to run (default: go build ./cmd/applink into a temporary directory)")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "measured time of each bench phase")
	flag.DurationVar(&cfg.openFor, "open-duration", 0, "measured time of each open-loop phase (0: twice -duration; at half rate it spends no more pre-signed requests than a closed-loop phase, and a p99 needs the samples)")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each phase")
	flag.IntVar(&cfg.conns, "c", 32, "concurrent connections of the closed-loop phases")
	flag.IntVar(&cfg.openConns, "open-workers", 32, "workers of the open-loop phases")
	flag.IntVar(&cfg.presign, "presign", 0, "RSA-SHA1 requests to sign before the timed phases (0: 110% of (a)'s rate over a phase)")
	flag.IntVar(&cfg.maxPresign, "max-presign", 250000, "cap on the automatic -presign")
	flag.DurationVar(&cfg.soakFor, "soak-duration", 5*time.Minute, "soak: how long to run at full rate")
	flag.DurationVar(&cfg.sample, "sample", 5*time.Second, "soak: RSS sampling interval")
	flag.Float64Var(&cfg.soakRate, "soak-rate", 0, "soak: offer this many requests per second (open loop) instead of full rate, e.g. (b)'s RSA rate from the bench")
	flag.StringVar(&cfg.redis, "redis", "auto", "auto: phase (c) when the build supports `state redis` and redis-server is installed; off: never")
	flag.BoolVar(&cfg.strict, "strict", false, "exit 1 when a target is missed or a phase had failures")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (Caddyfiles, logs)")
	flag.Func("proxy-env", "add NAME=VALUE to the proxies' environment (repeatable), e.g. -proxy-env GOGC=off -proxy-env GOMEMLIMIT=64MiB", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want NAME=VALUE, not %q", v)
		}
		proxyEnv = append(proxyEnv, v)
		return nil
	})
	flag.BoolVar(&showTurns, "turns", false, "print each alternating turn's rate and latencies as well as the totals")
	flag.BoolVar(&cfg.pin, "pin", false, "run the generator and upstream on CPU 0 and the proxies and Redis on the other CPUs (taskset), so that they do not preempt each other; each side then has fewer cores")
	flag.Float64Var(&cfg.openShare, "open-share", 0.5, "the open-loop phases run at this share of (b)'s closed-loop rate (the target is set at 0.5)")
	flag.StringVar(&cfg.baseline, "baseline", "signed", "what (a), plain reverse_proxy, is sent: signed, the same pre-signed requests as (b), which it forwards unverified, so that the applink handler is the only difference; or unsigned, a short request without OAuth, which also charges (b) with carrying OAuth's bytes")
	flag.StringVar(&cfg.profile, "profile", "", "write CPU profiles of the proxies to this directory, <proxy>.closed.cpu.pprof and <proxy>.open.cpu.pprof, during the closed-loop and the open-loop turns")
	flag.Parse()

	missed, err := run0(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "applink-load:", err)
		os.Exit(2)
	}
	if missed > 0 && cfg.strict {
		fmt.Printf("%d target(s) missed\n", missed)
		os.Exit(1)
	}
}

// env is what every phase shares.
type env struct {
	cfg      config
	dir      string
	bin      string
	key      *rsa.PrivateKey
	pubFile  string
	upstream string
	procs    []*proxy
}

func run0(cfg config) (int, error) {
	dir, err := os.MkdirTemp("", "applink-load")
	if err != nil {
		return 0, err
	}
	if cfg.keep {
		fmt.Println("working directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{cfg: cfg, dir: dir}
	defer func() {
		for _, p := range e.procs {
			p.stop()
		}
	}()
	if e.bin, err = buildApplink(cfg.bin, dir); err != nil {
		return 0, err
	}
	placement := "generator, upstream, proxies and Redis share every CPU"
	if cfg.pin {
		if placement, err = pinServers(); err != nil {
			return 0, err
		}
	}
	if e.key, err = rsakey.Generate(2048); err != nil {
		return 0, err
	}
	pub, err := rsakey.EncodePublicPEM(&e.key.PublicKey)
	if err != nil {
		return 0, err
	}
	e.pubFile = filepath.Join(dir, "bench.pub.pem")
	if err := os.WriteFile(e.pubFile, pub, 0o600); err != nil {
		return 0, err
	}
	up, err := startUpstream()
	if err != nil {
		return 0, err
	}
	defer up.Close()
	e.upstream = up.Addr().String()

	fmt.Printf("applink-load: %d CPUs, %s, %s\n%s\n", runtime.NumCPU(), runtime.Version(), e.bin, placement)
	if len(proxyEnv) > 0 {
		fmt.Printf("proxy environment: %s\n", strings.Join(proxyEnv, " "))
	}
	switch cfg.mode {
	case "bench":
		return e.bench()
	case "soak":
		return e.soak()
	}
	return 0, fmt.Errorf("-mode must be bench or soak, not %q", cfg.mode)
}

// startUpstream is the stand-in product: as fast as net/http goes.
func startUpstream() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ok := []byte("ok")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "2")
		_, _ = w.Write(ok)
	})}
	go func() { _ = srv.Serve(ln) }()
	return ln, nil
}

const globalOptions = `{
	admin 127.0.0.1:%d
	auto_https off
	persist_config off
	skip_install_trust
	grace_period 1ns
	log {
		level WARN
	}
}
`

// launch starts a proxy: plain reverse_proxy when applink is "", else with
// that applink block body.
func (e *env) launch(name, applink string) (*proxy, error) {
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	admin, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, globalOptions, admin)
	fmt.Fprintf(&b, "\nhttp://:%d {\n\tbind 127.0.0.1\n", port)
	if applink != "" {
		fmt.Fprintf(&b, "\tapplink {\n\t\tbase_url %s\n%s\t}\n", benchBaseURL, applink)
	}
	fmt.Fprintf(&b, "\treverse_proxy %s\n}\n", e.upstream)
	p, err := startProxy(e.bin, e.dir, name, b.String(), port, admin)
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	return p, nil
}

// applinkBlock is (b)'s configuration: one RSA consumer for the bench and
// one HMAC consumer for the soak, 2LO.
func (e *env) applinkBlock(extra string) string {
	return fmt.Sprintf("\t\tconsumer %s {\n\t\t\tpublic_key_file %s\n\t\t\ttwo_legged svc-bench\n\t\t}\n"+
		"\t\tconsumer %s {\n\t\t\tsecret %s\n\t\t\ttwo_legged svc-bench-hmac\n\t\t}\n%s",
		rsaConsumer, e.pubFile, hmacConsumer, hmacSecret, extra)
}

// benchBaseURL is every applink proxy's base_url, whatever port it listens
// on, so that one pool of signed requests serves them all.
const benchBaseURL = "http://jira.bench.example"

func (e *env) newSigner() (*signer, error) {
	base, err := oauth1.ParseBaseURL(benchBaseURL)
	if err != nil {
		return nil, err
	}
	return &signer{base: base, baseURL: benchBaseURL, host: strings.TrimPrefix(benchBaseURL, "http://"), key: e.key,
		run: strconv.FormatInt(time.Now().UnixNano(), 36)}, nil
}

func addr(p *proxy) string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// redisSupport reports whether this build accepts `state redis <url>`.
func (e *env) redisSupport() (bool, string) {
	if e.cfg.redis == "off" {
		return false, "skipped: -redis off"
	}
	cfg := filepath.Join(e.dir, "redis-probe.Caddyfile")
	probe := fmt.Sprintf("http://:1 {\n\tapplink {\n\t\tbase_url http://localhost\n%s\t}\n}\n",
		e.applinkBlock("\t\tstate redis redis://127.0.0.1:6379/0\n"))
	if err := os.WriteFile(cfg, []byte(probe), 0o600); err != nil {
		return false, "skipped: " + err.Error()
	}
	if err := exec.Command(e.bin, "adapt", "--config", cfg, "--adapter", "caddyfile").Run(); err != nil {
		return false, "skipped: no redis support in this build"
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return false, "skipped: redis-server is not installed"
	}
	return true, ""
}

func (e *env) bench() (int, error) {
	cfg := e.cfg
	fmt.Printf("bench: %s per phase after %s warm-up, closed loop with %d connections\n", cfg.duration, cfg.warmup, cfg.conns)
	if cfg.baseline != "signed" && cfg.baseline != "unsigned" {
		return 0, fmt.Errorf("-baseline must be signed or unsigned, not %q", cfg.baseline)
	}

	// (a) plain reverse_proxy, closed loop: the reference maximum. A short
	// first run sizes the pool of signed requests; the measured runs of
	// (a), (b) and (c) come later, in alternating turns.
	plain, err := e.launch("plain", "")
	if err != nil {
		return 0, err
	}
	hostPlain := "localhost:" + strconv.Itoa(plain.port)
	fmt.Println("(a) reverse_proxy, closed loop, to size the pool...")
	calib := run{name: "(a) calibration", addr: addr(plain), src: repeat(plainRequest(hostPlain)), want: 200,
		conns: cfg.conns, warmup: cfg.warmup, measure: max(2*time.Second, cfg.duration/4)}.closedLoop()
	if calib.rate() < 1 {
		return 0, fmt.Errorf("plain reverse_proxy served %.1f req/s (%s)", calib.rate(), calib.note)
	}
	slices := max(1, int(cfg.duration/(2*time.Second)))
	turnWarmup := min(cfg.warmup, 250*time.Millisecond)
	openFor := cfg.openFor
	if openFor <= 0 {
		openFor = 2 * cfg.duration
	}
	openSlices := max(1, int(openFor/(2*time.Second)))
	closedSpan := cfg.warmup + cfg.duration + time.Duration(slices)*turnWarmup
	openSpan := cfg.warmup + openFor

	// Every applink proxy that will use the pre-signed requests starts now,
	// before they are signed: a proxy refuses timestamps from before it
	// started. Each has its own nonce store, so each can take the whole
	// pool once.
	redisOK, redisNote := e.redisSupport()
	b, err := e.launch("applink", e.applinkBlock(""))
	if err != nil {
		return 0, err
	}
	bOpen, err := e.launch("applink-open", e.applinkBlock(""))
	if err != nil {
		return 0, err
	}
	var c *proxy
	var rs *redisServer
	if redisOK {
		if rs, err = startRedis(e.dir); err != nil {
			redisOK, redisNote = false, "skipped: "+err.Error()
		} else {
			defer rs.stop()
			if c, err = e.launch("applink-redis", e.applinkBlock(fmt.Sprintf("\t\tstate redis redis://127.0.0.1:%d/0\n", rs.port))); err != nil {
				return 0, err
			}
		}
	}
	for _, p := range []*proxy{b, bOpen, c} {
		if p != nil {
			fmt.Printf("applink proxy pid %d on %s\n", p.pid(), addr(p))
		}
	}
	upSince := time.Now()

	sg, err := e.newSigner()
	if err != nil {
		return 0, err
	}
	perSig, err := calibrate(sg)
	if err != nil {
		return 0, err
	}
	n := cfg.presign
	if n == 0 {
		// (b) cannot beat (a): enough for (b) at (a)'s rate, with a tenth
		// to spare for the machine's drift. Should (b) still be faster,
		// the pool runs out shortly before the end of the phase, and its
		// rate is taken over the time it ran.
		// The open loop, at a share of (b)'s rate, may run longer.
		n = int(math.Ceil(1.1*calib.rate()*max(closedSpan, time.Duration(cfg.openShare*float64(openSpan))).Seconds())) + cfg.conns
		if n > cfg.maxPresign {
			fmt.Printf("capping the pool at -max-presign %d (wanted %d): (b) may end early\n", cfg.maxPresign, n)
			n = cfg.maxPresign
		}
	}
	// Every request must be within the proxies' +-5 min window from its
	// first use to its last.
	phases := 2
	if redisOK {
		phases++
	}
	use := time.Duration(phases)*closedSpan + 2*openSpan + 5*time.Second
	if use > 7*time.Minute {
		return 0, fmt.Errorf("%d closed-loop phases of %s and two open-loop ones of %s do not fit in the proxies' 10 min timestamp window: lower -duration or -open-duration",
			phases, closedSpan.Round(time.Second), openSpan.Round(time.Second))
	}
	signing := perSig * time.Duration(n)
	ts, spread, ahead := poolTimestamps(time.Now(), upSince, signing, use)
	if ahead {
		fmt.Println("note: the phases are too long for timestamps that are all past when first used; some are ahead of the proxies' clock, unlike an NTP-synced client's")
	}
	fmt.Printf("pre-signing %d unique 2LO RSA-SHA1 requests (2048-bit key) on %d cores, about %s...\n",
		n, runtime.GOMAXPROCS(0), signing.Round(time.Second))
	reqs, took, err := sg.presignRSA(n, ts, spread, true)
	if err != nil {
		return 0, err
	}
	fmt.Printf("signed %d in %s (%.0f/s, %s per signature per core)\n", n, took.Round(time.Millisecond),
		float64(n)/took.Seconds(), (took * time.Duration(runtime.GOMAXPROCS(0)) / time.Duration(n)).Round(time.Microsecond))
	pl := &pool{reqs: reqs}
	if cfg.pin {
		if err := pinSelf(); err != nil {
			return 0, err
		}
	}
	verify, err := verifyCost(reqs[:min(len(reqs), 400)], &oauth1.Consumer{Key: rsaConsumer, PublicKey: &e.key.PublicKey, TwoLeggedUser: "svc-bench"})
	if err != nil {
		return 0, err
	}

	// (a) gets the same requests as (b) unless -baseline unsigned.
	plainSource := func() source { return &cycle{reqs: reqs} }
	if cfg.baseline == "unsigned" {
		plainSource = func() source { return repeat(plainRequest(hostPlain)) }
		fmt.Println("(a) is sent unsigned requests (-baseline unsigned): (b) also pays for carrying OAuth's bytes")
	} else {
		fmt.Println("(a) is sent the same signed requests as (b), which it forwards unverified: the applink handler is the only difference")
	}

	// The closed loops of (a), (b) and (c) run in alternating turns, so
	// that the machine's drift (other tenants, frequency) falls on all of
	// them alike, not on whichever ran when it happened.
	closed := []run{
		{name: "(a) reverse_proxy", addr: addr(plain), src: plainSource(), want: 200,
			conns: cfg.conns, warmup: cfg.warmup, measure: cfg.duration, pid: plain.pid()},
		{name: "(b) applink 2LO + reverse_proxy", addr: addr(b), src: pl, want: 200,
			conns: cfg.conns, warmup: cfg.warmup, measure: cfg.duration, pid: b.pid()},
	}
	profiled := []*proxy{plain, b}
	if redisOK {
		closed = append(closed, run{name: "(c) applink + Redis nonces", addr: addr(c), src: &pool{reqs: reqs}, want: 200,
			conns: cfg.conns, warmup: cfg.warmup, measure: cfg.duration, pid: c.pid()})
		profiled = append(profiled, c)
	}
	fmt.Printf("(a), (b)%s closed loop, in %d alternating turns...\n", map[bool]string{true: ", (c) with the Redis nonce store,", false: ""}[redisOK], len(closed)*slices)
	stopProf := e.profileDuring(profiled, "closed", time.Duration(len(closed))*(closedSpan-cfg.warmup))
	res := interleave(closed, slices, turnWarmup, run.closedLoop)
	stopProf()
	a, bs := res[0], res[1]
	var cs *summary
	if redisOK {
		cs = res[2]
	}
	half := bs.rate() * cfg.openShare
	rows := []*summary{a, bs}
	if half < 1 {
		printTable(rows)
		return 0, fmt.Errorf("(b) served %.1f req/s: nothing to measure at half rate (%s)", bs.rate(), bs.note)
	}

	share := fmt.Sprintf("%.0f%%", 100*cfg.openShare)
	fmt.Printf("(a) and (b) open loop at %.0f req/s (%s of (b)), %s each, in %d alternating turns...\n", half, share, openFor, 2*openSlices)
	pl = &pool{reqs: reqs} // a fresh proxy: every request is new to it
	stopProf = e.profileDuring([]*proxy{plain, bOpen}, "open", 2*openFor)
	open := interleave([]run{
		{name: "(a) reverse_proxy @ " + share, addr: addr(plain), src: plainSource(), want: 200,
			conns: cfg.openConns, warmup: cfg.warmup, measure: openFor, rate: half, pid: plain.pid()},
		{name: "(b) applink @ " + share, addr: addr(bOpen), src: pl, want: 200,
			conns: cfg.openConns, warmup: cfg.warmup, measure: openFor, rate: half, pid: bOpen.pid()},
	}, openSlices, 0, run.openLoop)
	stopProf()
	ao, bo := open[0], open[1]
	rows = append(rows, ao, bo)
	if cs != nil {
		rows = append(rows, cs)
	}

	fmt.Println()
	printTable(rows)
	if !redisOK {
		fmt.Printf("(c) applink + Redis nonces: %s\n", redisNote)
	}
	fmt.Println()

	missed := 0
	check := func(ok bool) string {
		if ok {
			return "ok"
		}
		missed++
		return "MISSED"
	}
	ratio := bs.rate() / a.rate()
	fmt.Printf("throughput (b)/(a):      %.3f   (%.0f / %.0f req/s; target >= %.2f)  %s\n", ratio, bs.rate(), a.rate(), targetRatio, check(ratio >= targetRatio))
	if ca, cb := a.cpuPerRequest(), bs.cpuPerRequest(); ca > 0 && cb > 0 {
		fmt.Printf("proxy CPU per request:   %s (a), %s (b): applink adds %s; (a)/(b) %.3f, the ratio with a core to itself\n",
			us(ca), us(cb), us(cb-ca), float64(ca)/float64(cb))
	}
	// (a) saturates the machine: each of its requests costs the machine
	// cores/rate. (b) adds at least the verification.
	// Pinned, the proxy's own core is the limit, and its CPU per request
	// the cost.
	perA, who := time.Duration(float64(runtime.NumCPU())*float64(time.Second)/a.rate()), "the machine"
	if cfg.pin {
		perA, who = a.cpuPerRequest(), "the proxy"
	}
	if perA > 0 {
		fmt.Printf("verification alone:      %s a request on one core, in-process (RSA-SHA1, parsing, base string, nonce); (a) costs %s %s a request, so (b)/(a) cannot exceed %.3f here\n",
			us(verify), who, us(perA), float64(perA)/float64(perA+verify))
	}
	added50 := bo.p(50) - ao.p(50)
	added99 := bo.p(99) - ao.p(99)
	fmt.Printf("p99 added at %.0f req/s: %s ms (p99 %s vs %s ms; p50 added %s ms; target <= %s ms)  %s\n",
		half, ms(added99), ms(bo.p(99)), ms(ao.p(99)), ms(added50), ms(targetAddedP99), check(added99 <= targetAddedP99))
	if med, lo, hi, n := medianTurnDifference(ao, bo); n > 1 {
		fmt.Printf("p99 added, turn by turn: median %s ms (%s to %s over %d pairs of turns; a stall of the host moves one turn, not the median)\n",
			ms(med), ms(lo), ms(hi), n)
	}
	if cs != nil {
		r := cs.rate() / a.rate()
		fmt.Printf("throughput (c)/(a):      %.3f   (target >= %.2f)  %s\n", r, targetRedisRatio, check(r >= targetRedisRatio))
	} else {
		fmt.Printf("throughput (c)/(a):      %s\n", redisNote)
	}
	for _, s := range rows {
		if s.failures > 0 {
			fmt.Printf("warning: %s: %d failures; %s\n", s.name, s.failures, s.note)
			missed++
		}
	}
	return missed, nil
}

// soak runs (b) at full rate and samples the proxy's RSS. Its requests are
// signed as they are sent, with HMAC-SHA1: RSA signing costs about 60
// verifications, so pre-signing minutes of full-rate RSA traffic would take
// far longer than the soak. The proxy does the same work per request but
// the RSA verification (same parser, base string, nonce store), at a
// higher rate, so its nonce store holds more: a stricter memory test.
func (e *env) soak() (int, error) {
	cfg := e.cfg
	p, err := e.launch("applink-soak", e.applinkBlock(""))
	if err != nil {
		return 0, err
	}
	time.Sleep(1100 * time.Millisecond) // the nonce store refuses the second it started in
	idle, _, err := rss(p.pid())
	if err != nil {
		return 0, err
	}
	sg, err := e.newSigner()
	if err != nil {
		return 0, err
	}
	var ok atomic.Int64
	r := run{name: "(b) applink 2LO HMAC-SHA1 soak", addr: addr(p), src: fresh{sg}, want: 200,
		conns: cfg.conns, measure: cfg.soakFor, counter: &ok, pid: p.pid()}
	how := fmt.Sprintf("at full rate (closed loop, %d connections)", cfg.conns)
	if cfg.soakRate > 0 {
		r.rate, r.conns = cfg.soakRate, cfg.openConns
		how = fmt.Sprintf("at %.0f req/s (open loop)", cfg.soakRate)
	}
	fmt.Printf("soak: applink pid %d, %s %s, RSS every %s; idle RSS %.1f MB\n",
		p.pid(), cfg.soakFor, how, cfg.sample, mb(idle))
	done := make(chan *summary)
	go func() {
		if r.rate > 0 {
			done <- r.openLoop()
		} else {
			done <- r.closedLoop()
		}
	}()

	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "elapsed\treq/s\tRSS MB\t")
	tw.Flush()
	var maxRSS int64
	start := time.Now()
	last, lastAt := int64(0), start
	tick := time.NewTicker(cfg.sample)
	defer tick.Stop()
	var s *summary
loop:
	for {
		select {
		case s = <-done:
			break loop
		case now := <-tick.C:
			cur, _, err := rss(p.pid())
			if err != nil {
				return 0, err
			}
			maxRSS = max(maxRSS, cur)
			n := ok.Load()
			fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t\n", now.Sub(start).Round(time.Second), float64(n-last)/now.Sub(lastAt).Seconds(), mb(cur))
			tw.Flush()
			last, lastAt = n, now
		}
	}
	cur, peak, err := rss(p.pid())
	if err != nil {
		return 0, err
	}
	maxRSS = max(maxRSS, cur)
	fmt.Println()
	printTable([]*summary{s})
	fmt.Println()
	missed := 0
	verdict := "ok"
	if maxRSS >= targetSoakRSS {
		verdict = "MISSED"
		missed++
	}
	fmt.Printf("max RSS %.1f MB sampled, %.1f MB peak (VmHWM), idle %.1f MB (target < %.0f MB)  %s\n",
		mb(maxRSS), mb(peak), mb(idle), mb(targetSoakRSS), verdict)
	if s.failures > 0 {
		fmt.Printf("warning: %d failures; %s\n", s.failures, s.note)
		missed++
	}
	return missed, nil
}

// poolTimestamps places the pool's timestamps: spread seconds of them,
// centred on ts. They lie in the past when the proxies first see them, as an
// NTP-synced client's do, and are still inside the window at the last
// use. The estimate of the signing time is allowed
// a tenth either way. When the phases are too long for that, the timestamps
// are centred on the span of use, and ahead reports it.
func poolTimestamps(now, upSince time.Time, signing, use time.Duration) (ts, spread int64, ahead bool) {
	newest := now.Add(signing*9/10).Unix() - 1
	oldest := max(now.Add(signing*11/10+use-oauth1.DefaultWindow+10*time.Second).Unix(), upSince.Unix()+2)
	if newest >= oldest {
		spread = min(60, newest-oldest)
		return newest - spread/2, spread, false
	}
	spread = 60
	ts = max(now.Add(signing+use/2).Unix(), upSince.Unix()+2+spread/2)
	return ts, spread, true
}

// calibrate measures how long one signature takes with every core busy.
func calibrate(sg *signer) (time.Duration, error) {
	var total time.Duration
	n := 0
	for total < time.Second {
		batch, took, err := sg.presignRSA(4*runtime.GOMAXPROCS(0), time.Now().Unix(), 0, false)
		if err != nil {
			return 0, err
		}
		total += took
		n += len(batch)
	}
	return total / time.Duration(n), nil
}

// profileDuring profiles each proxy for d after the first warm-up, when
// -profile is set, into <proxy>.<loop>.cpu.pprof; the returned func waits
// for the profiles.
func (e *env) profileDuring(ps []*proxy, loop string, d time.Duration) func() {
	if e.cfg.profile == "" {
		return func() {}
	}
	if err := os.MkdirAll(e.cfg.profile, 0o755); err != nil {
		fmt.Println("profile:", err)
		return func() {}
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			time.Sleep(e.cfg.warmup)
			if out, err := p.profile(e.cfg.profile, loop, max(time.Second, d-time.Second)); err != nil {
				fmt.Println("profile:", err)
			} else {
				fmt.Println("profile:", out)
			}
		})
	}
	return wg.Wait
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func printTable(rows []*summary) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tloop\treq/s\tp50 ms\tp99 ms\tp99.9 ms\tproxy CPU/req\tok\tfailed\tnote")
	for _, s := range rows {
		loop := "closed"
		if s.target > 0 {
			loop = fmt.Sprintf("open %.0f/s", s.target)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.name, loop, s.rate(),
			ms(s.p(50)), ms(s.p(99)), ms(s.p(99.9)), us(s.cpuPerRequest()), s.requests, s.failures, s.note)
	}
	tw.Flush()
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
