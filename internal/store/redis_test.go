package store

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/testpeer"
	"github.com/caddy-applink/caddy-applink/internal/testproc"
)

var _ oauth1.NonceStore = (*Redis)(nil)

// go-redis logs failed dials through the standard logger; the fail-closed
// test provokes plenty.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedisLog{}) }

// --- harness: a real redis-server on a free loopback port ---

const redisServerBin = "/usr/bin/redis-server"

// redisServer is a redis-server process the test started; stop and start
// it again on the same port to simulate an outage.
type redisServer struct {
	t       testing.TB
	port    int
	dir     string
	conf    string         // config file, first argument (sentinel)
	extra   []string       // more arguments
	proc    *testproc.Proc // nil when stopped
	logPath string
	tls     *tls.Config // the server speaks only TLS: --tls-port
}

func needRedisServer(t testing.TB) {
	t.Helper()
	_, err := os.Stat(redisServerBin)
	testpeer.Require(t, "redis-server", err)
}

func freePort(t testing.TB) int {
	t.Helper()
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startRedisServer starts redis-server without persistence on a free port
// and stops it when the test ends.
func startRedisServer(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	needRedisServer(t)
	s := &redisServer{t: t, port: freePort(t), dir: t.TempDir(), extra: extra}
	s.logPath = filepath.Join(s.dir, "redis.log")
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	port := []string{"--port", strconv.Itoa(s.port)}
	if s.tls != nil {
		port = []string{"--port", "0", "--tls-port", strconv.Itoa(s.port)}
	}
	args = append(args, port...)
	args = append(args, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no",
		"--logfile", s.logPath)
	args = append(args, s.extra...)
	cmd := exec.Command(redisServerBin, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := testproc.Start(cmd)
	if err != nil {
		s.t.Fatal(err)
	}
	err = p.Await(10*time.Second, func() bool { return pingRaw(s.addr(), s.tls) })
	if errors.Is(err, testproc.ErrExited) {
		log, _ := os.ReadFile(s.logPath)
		s.t.Fatalf("redis-server exited at start:\n%s", log)
	}
	s.proc = p
	if err != nil {
		s.stop()
		log, _ := os.ReadFile(s.logPath)
		s.t.Fatalf("redis-server on %s did not answer PING in 10s:\n%s", s.addr(), log)
	}
}

// race runs f n times at once, on a and b in turn, and returns how many
// of the runs won (f returned true).
func race(n int, a, b *Redis, f func(s *Redis) bool) int {
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if f(s) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	return int(wins.Load())
}

// pingRaw reports whether a Redis (or Sentinel) answers on addr; an
// authentication error counts as an answer.
func pingRaw(addr string, tlsConf *tls.Config) bool {
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 200 * time.Millisecond}
	if tlsConf != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsConf)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}

// stop kills the server's process group and waits for it.
func (s *redisServer) stop() {
	if s.proc != nil {
		s.proc.Kill()
		s.proc = nil
	}
}

// openTestRedis opens a store on srv with short timeouts and a prefix of
// its own, closed when the test ends.
func openTestRedis(t testing.TB, addr, prefix string) *Redis {
	t.Helper()
	r, err := OpenRedis(context.Background(), RedisConfig{
		URL: "redis://" + addr + "/0", KeyPrefix: prefix,
		DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

var prefixSeq atomic.Int64

func uniquePrefix() string { return fmt.Sprintf("t%d:", prefixSeq.Add(1)) }

// --- conformance ---

func TestRedisTokens(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	testTokenStore(t, func(t *testing.T) TokenStore { return openTestRedis(t, srv.addr(), uniquePrefix()) })
}

func TestRedisNonces(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	testNonceStore(t, func(t *testing.T) oauth1.NonceStore { return openTestRedis(t, srv.addr(), uniquePrefix()) })
	if s := openTestRedis(t, srv.addr(), uniquePrefix()); !s.Since().IsZero() {
		t.Errorf("Since() = %v, want the zero time: Redis outlives the proxy", s.Since())
	}
}

// TestRedisCluster runs both suites against a three-master Redis Cluster:
// keys spread over the nodes, SCAN must visit every master.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	nodes := startRedisCluster(t, 3)
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr())
	}
	open := func(t *testing.T) *Redis {
		r, err := OpenRedis(context.Background(), RedisConfig{Addrs: addrs, KeyPrefix: uniquePrefix(),
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		if !strings.HasPrefix(r.Addr(), "cluster ") {
			t.Fatalf("Addr() = %q, want a cluster", r.Addr())
		}
		return r
	}
	t.Run("tokens", func(t *testing.T) {
		testTokenStore(t, func(t *testing.T) TokenStore { return open(t) })
	})
	t.Run("nonces", func(t *testing.T) {
		testNonceStore(t, func(t *testing.T) oauth1.NonceStore { return open(t) })
	})
	t.Run("list sees every master", func(t *testing.T) {
		s := open(t)
		for i := range 60 {
			if err := s.Put(ctx, &Token{ID: TokenID(strconv.Itoa(i)), Kind: AccessToken, Consumer: "c", Expires: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		perNode := map[string]int{}
		err := s.c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			keys, err := n.Keys(ctx, globEscape(s.prefix)+"*").Result()
			mu.Lock()
			perNode[n.Options().Addr] = len(keys)
			mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(perNode) != 3 {
			t.Fatalf("keys on %d masters: %v", len(perNode), perNode)
		}
		for node, k := range perNode {
			if k == 0 {
				t.Fatalf("no key on %s: %v", node, perNode)
			}
		}
		if l, err := s.List(ctx, Filter{}); err != nil || len(l) != 60 {
			t.Errorf("List: %d tokens, %v; want 60 (spread %v)", len(l), err, perNode)
		}
		if n, err := s.Count(ctx); err != nil || n != 60 {
			t.Errorf("Count: %d %v", n, err)
		}
		if n, err := s.Delete(ctx, Filter{Consumer: "c"}); err != nil || n != 60 {
			t.Errorf("Delete: %d %v", n, err)
		}
	})
}

// startRedisCluster starts n masters, gives each a share of the slots and
// waits until the cluster is up.
func startRedisCluster(t *testing.T, n int) []*redisServer {
	t.Helper()
	needRedisServer(t)
	var nodes []*redisServer
	var clients []*redis.Client
	bus0 := 0
	for i := range n {
		bus := freePort(t)
		if i == 0 {
			bus0 = bus
		}
		nodes = append(nodes, startRedisServer(t, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "1000")) // also the delay before the state turns ok
		c := redis.NewClient(&redis.Options{Addr: nodes[len(nodes)-1].addr()})
		t.Cleanup(func() { _ = c.Close() })
		clients = append(clients, c)
	}
	for i, c := range clients {
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if err := c.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", nodes[0].port, bus0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range clients {
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster not up: %v\n%s", err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

// TestRedisSentinel reaches the master through a Sentinel, by name.
func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	master := startRedisServer(t)
	needRedisServer(t)
	sent := &redisServer{t: t, port: freePort(t), dir: t.TempDir(), extra: []string{"--sentinel"}}
	sent.conf = filepath.Join(sent.dir, "sentinel.conf")
	sent.logPath = filepath.Join(sent.dir, "sentinel.log")
	conf := fmt.Sprintf("sentinel monitor applinkmaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds applinkmaster 60000\n", master.port)
	if err := os.WriteFile(sent.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	sent.start()
	t.Cleanup(sent.stop)

	s, err := OpenRedis(ctx, RedisConfig{URL: "redis://" + sent.addr() + "/2?master_name=applinkmaster",
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(s.Addr(), "sentinel master applinkmaster via "+sent.addr()) {
		t.Errorf("Addr() = %q", s.Addr())
	}
	if ok, err := s.Record(ctx, "n", anyStamp, time.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("Record: %v %v", ok, err)
	}
	if err := s.Put(ctx, &Token{ID: TokenID("s"), Kind: AccessToken, User: "u", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The data is on the master, in database 2.
	direct := redis.NewClient(&redis.Options{Addr: master.addr(), DB: 2})
	defer direct.Close()
	if n, err := direct.Exists(ctx, DefaultRedisKeyPrefix+"token:"+TokenID("s"), DefaultRedisKeyPrefix+"nonce:"+sha256Hex("n")).Result(); err != nil || n != 2 {
		t.Errorf("keys on the master: %d %v", n, err)
	}
}

// TestRedisMinimalACL runs both suites as a Redis user allowed only the
// commands the store documents, on its own key prefix.
func TestRedisMinimalACL(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer admin.Close()
	rule := []any{"ACL", "SETUSER", "applink", "on", ">acl-pw", "resetkeys", "~acl:*", "resetchannels", "-@all"}
	for _, c := range strings.Fields(redisACLCommands) {
		rule = append(rule, c)
	}
	if err := admin.Do(ctx, rule...).Err(); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	open := func(t *testing.T) *Redis {
		r, err := OpenRedis(ctx, RedisConfig{URL: "redis://applink:acl-pw@" + srv.addr(), KeyPrefix: fmt.Sprintf("acl:%d:", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	t.Run("tokens", func(t *testing.T) { testTokenStore(t, func(t *testing.T) TokenStore { return open(t) }) })
	t.Run("nonces", func(t *testing.T) { testNonceStore(t, func(t *testing.T) oauth1.NonceStore { return open(t) }) })
	t.Run("count", func(t *testing.T) {
		if _, err := open(t).Count(ctx); err != nil {
			t.Error(err)
		}
	})
	// And outside its prefix it is refused: the ACL is really applied.
	r, err := OpenRedis(ctx, RedisConfig{URL: "redis://applink:acl-pw@" + srv.addr(), KeyPrefix: "other:"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seen(ctx, "k", anyStamp); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("outside the allowed keys: %v", err)
	}
}

// TestRedisTLS: rediss:// with a private CA; refused without it.
func TestRedisTLS(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	dir := t.TempDir()
	caPool := writeTestPKI(t, dir)
	srv := &redisServer{t: t, port: freePort(t), dir: dir, tls: &tls.Config{RootCAs: caPool},
		extra: []string{"--tls-cert-file", filepath.Join(dir, "server.pem"), "--tls-key-file", filepath.Join(dir, "server.key"),
			"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"), "--tls-auth-clients", "no"}}
	srv.logPath = filepath.Join(dir, "redis.log")
	srv.start()
	t.Cleanup(srv.stop)

	s, err := OpenRedis(ctx, RedisConfig{URL: "rediss://" + srv.addr() + "/1", TLSConfig: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, err := s.Record(ctx, "k", anyStamp, time.Now().Add(time.Minute)); !ok || err != nil {
		t.Errorf("Record over TLS: %v %v", ok, err)
	}
	if err := s.Put(ctx, &Token{ID: "x", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("Put over TLS: %v", err)
	}
	// The system roots do not know the test CA; plain text is not TLS.
	for _, url := range []string{"rediss://" + srv.addr(), "redis://" + srv.addr()} {
		start := time.Now()
		_, err := OpenRedis(ctx, RedisConfig{URL: url, DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), srv.addr()) {
			t.Errorf("%s: %v, want an error naming the address", url, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: failed after %v", url, took)
		}
		t.Logf("%s: %v", url, err)
	}
}

// writeTestPKI writes ca.pem, server.pem and server.key (for 127.0.0.1)
// into dir and returns a pool trusting the CA.
func writeTestPKI(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := newKey(), newKey()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "applink test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "server.pem": {Type: "CERTIFICATE", Bytes: srvDER},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// --- several proxies, one Redis ---

func TestRedisTwoInstancesShareState(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	prefix := uniquePrefix()
	a, b := openTestRedis(t, srv.addr(), prefix), openTestRedis(t, srv.addr(), prefix)

	// A nonce recorded by one is a replay on the other.
	if ok, err := a.Record(ctx, "k", anyStamp, time.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if seen, err := b.Seen(ctx, "k", anyStamp); !seen || err != nil {
		t.Errorf("b.Seen: %v %v", seen, err)
	}
	if ok, err := b.Record(ctx, "k", anyStamp, time.Now().Add(time.Minute)); ok || err != nil {
		t.Errorf("b.Record of a's nonce: %v %v", ok, err)
	}
	va, vb := testVerifier(a), testVerifier(b)
	r := signedRequest(time.Now().Unix(), "cross")
	if _, p := va.Verify(ctx, r); p != nil {
		t.Fatalf("first request on a: %v", p)
	}
	if _, p := vb.Verify(ctx, r); p == nil || p.Code != oauth1.NonceUsed {
		t.Errorf("replay on b: %v, want nonce_used", p)
	}

	// Concurrent Records from both: one winner.
	for round := range 10 {
		key := "race-" + strconv.Itoa(round)
		wins := race(16, a, b, func(s *Redis) bool {
			ok, err := s.Record(ctx, key, anyStamp, time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			return ok
		})
		if wins != 1 {
			t.Fatalf("round %d: %d winners across two instances", round, wins)
		}
	}

	// A token issued by one works on the other; an update on one is seen by
	// the other; a revocation on one is seen by the other.
	tok := &Token{ID: TokenID("shared"), Kind: RequestToken, Consumer: "c", Expires: time.Now().Add(time.Hour)}
	if err := a.Put(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, tok); !errors.Is(err, ErrExists) {
		t.Errorf("b.Put of a's token: %v, want ErrExists", err)
	}
	wins := race(20, a, b, func(s *Redis) bool {
		_, err := s.Update(ctx, tok.ID, func(t *Token) error {
			if t.State != Pending {
				return errors.New("used")
			}
			t.State, t.User = Approved, "alice"
			return nil
		})
		return err == nil
	})
	if wins != 1 {
		t.Errorf("%d concurrent exchanges across two instances won, want 1", wins)
	}
	if got, err := a.Get(ctx, tok.ID); err != nil || got.State != Approved || got.User != "alice" {
		t.Errorf("a sees %+v %v", got, err)
	}
	if l, err := b.List(ctx, Filter{User: "alice"}); err != nil || len(l) != 1 {
		t.Errorf("b.List: %v %v", l, err)
	}
	if n, err := b.Delete(ctx, Filter{User: "alice"}); err != nil || n != 1 {
		t.Errorf("revocation on b: %d %v", n, err)
	}
	if _, err := a.Get(ctx, tok.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a after revocation on b: %v", err)
	}

	// Consumer-side tokens too.
	if err := a.PutRemote(ctx, &RemoteToken{Remote: "https://conf", User: "alice", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetRemote(ctx, "https://conf", "alice"); err != nil || got.Token != "t" {
		t.Errorf("b.GetRemote: %+v %v", got, err)
	}
	if err := b.DeleteRemote(ctx, "https://conf", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetRemote(ctx, "https://conf", "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a.GetRemote after b's delete: %v", err)
	}
}

// --- fail closed, recover ---

func TestRedisFailClosedAndRecovers(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	s := openTestRedis(t, srv.addr(), uniquePrefix())
	tok := &Token{ID: TokenID("t"), Kind: AccessToken, Consumer: "c", User: "u", Expires: time.Now().Add(time.Hour)}
	if err := s.Put(ctx, tok); err != nil {
		t.Fatal(err)
	}
	v := testVerifier(s)

	called := false
	ops := []struct {
		name string
		fn   func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Seen", func() error { _, err := s.Seen(ctx, "k", anyStamp); return err }},
		{"Record", func() error { _, err := s.Record(ctx, "k", anyStamp, time.Now().Add(time.Minute)); return err }},
		{"Record (past)", func() error { _, err := s.Record(ctx, "k", anyStamp, time.Now().Add(-time.Minute)); return err }},
		{"Put", func() error {
			return s.Put(ctx, &Token{ID: TokenID(time.Now().String()), Kind: AccessToken, Expires: time.Now().Add(time.Hour)})
		}},
		{"Get", func() error { _, err := s.Get(ctx, tok.ID); return err }},
		{"Update", func() error {
			_, err := s.Update(ctx, tok.ID, func(*Token) error { called = true; return nil })
			return err
		}},
		{"Delete by ID", func() error { _, err := s.Delete(ctx, Filter{ID: tok.ID}); return err }},
		{"Delete", func() error { _, err := s.Delete(ctx, Filter{User: "nobody"}); return err }},
		{"List by ID", func() error { _, err := s.List(ctx, Filter{ID: tok.ID}); return err }},
		{"List", func() error { _, err := s.List(ctx, Filter{}); return err }},
		{"Count", func() error { _, err := s.Count(ctx); return err }},
		{"Sweep", func() error { _, err := s.Sweep(ctx, time.Now()); return err }},
		{"PutRemote", func() error { return s.PutRemote(ctx, &RemoteToken{Remote: "r", User: "u"}) }},
		{"GetRemote", func() error { _, err := s.GetRemote(ctx, "r", "u"); return err }},
		{"DeleteRemote", func() error { return s.DeleteRemote(ctx, "r", "u") }},
	}
	for _, op := range ops {
		if err := op.fn(); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s with Redis up: %v", op.name, err)
		}
	}

	srv.stop()
	called = false
	for round := range 2 { // fresh failures, then with the pool's dial breaker open
		for _, op := range ops {
			start := time.Now()
			err := op.fn()
			took := time.Since(start)
			switch {
			case err == nil:
				t.Errorf("%s with Redis down: no error", op.name)
			case errors.Is(err, ErrNotFound):
				t.Errorf("%s with Redis down: %v, a default answer", op.name, err)
			case !strings.HasPrefix(err.Error(), "redis: ") || !strings.Contains(err.Error(), srv.addr()):
				t.Errorf("%s with Redis down: %q, want \"redis: <address>: ...\"", op.name, err)
			}
			if took > time.Second {
				t.Errorf("%s with Redis down took %v", op.name, took)
			}
			if round == 0 && testing.Verbose() {
				t.Logf("%s: %v (in %v)", op.name, err, took.Round(time.Millisecond))
			}
		}
	}
	if called {
		t.Error("Update ran its function with Redis down")
	}
	r := signedRequest(time.Now().Unix(), "while-down")
	if _, p := v.Verify(ctx, r); p == nil || !p.Unavailable {
		t.Errorf("verifier with Redis down: %v, want an unavailable problem", p)
	}

	// Back on the same port: the same store heals, no reopen.
	srv.start()
	start := time.Now()
	for s.Ping(ctx) != nil {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("store did not reconnect in 5s: %v", s.Ping(ctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("reconnected %v after the restart", time.Since(start).Round(time.Millisecond))
	for _, op := range ops {
		if err := op.fn(); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after the restart: %v", op.name, err)
		}
	}
	if _, p := v.Verify(ctx, r); p != nil {
		t.Errorf("verifier after the restart: %v", p)
	}
	if _, p := v.Verify(ctx, r); p == nil || p.Code != oauth1.NonceUsed {
		t.Errorf("replay after the restart: %v", p)
	}
}

// TestRedisFrozenFailsWithinTheTimeout: a Redis that accepts connections
// but does not answer (SIGSTOP) costs each call one read timeout, then an
// error; it heals when Redis resumes.
func TestRedisFrozenFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	s := openTestRedis(t, srv.addr(), uniquePrefix()) // 300 ms timeouts
	tok := &Token{ID: TokenID("t"), Kind: AccessToken, Expires: time.Now().Add(time.Hour)}
	if err := s.Put(ctx, tok); err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		fn   func() error
	}{
		{"Seen", func() error { _, err := s.Seen(ctx, "k", anyStamp); return err }},
		{"Record", func() error { _, err := s.Record(ctx, "k", anyStamp, time.Now().Add(time.Minute)); return err }},
		{"Get", func() error { _, err := s.Get(ctx, tok.ID); return err }},
		{"Update", func() error { _, err := s.Update(ctx, tok.ID, func(*Token) error { return nil }); return err }},
		{"List", func() error { _, err := s.List(ctx, Filter{}); return err }},
	}
	if err := syscall.Kill(-srv.proc.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(-srv.proc.Process.Pid, syscall.SIGCONT)
		}
	}
	defer resume()
	for _, op := range ops {
		start := time.Now()
		err := op.fn()
		took := time.Since(start)
		if err == nil || !strings.HasPrefix(err.Error(), "redis: "+srv.addr()) {
			t.Errorf("%s on a frozen Redis: %v", op.name, err)
		}
		if took > 900*time.Millisecond {
			t.Errorf("%s on a frozen Redis took %v, want about one 300ms timeout", op.name, took)
		}
		t.Logf("%s: %v (in %v)", op.name, err, took.Round(time.Millisecond))
	}
	resume()
	for _, op := range ops {
		if err := op.fn(); err != nil {
			t.Errorf("%s after SIGCONT: %v", op.name, err)
		}
	}
}

// TestRedisNoncesPipelined sends many concurrent Records, each key twice
// from different goroutines: exactly one of each pair wins, and the SETs
// travelled in fewer round trips than there were requests.
func TestRedisNoncesPipelined(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	s := openTestRedis(t, srv.addr(), uniquePrefix())
	const workers, keys = 64, 4000
	until := time.Now().Add(time.Minute)
	wins := make([]atomic.Int32, keys)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= 2*keys {
					return
				}
				ok, err := s.Record(ctx, "nonce-"+strconv.FormatInt(i/2, 10), anyStamp, until)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					wins[i/2].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range wins {
		if w := wins[i].Load(); w != 1 {
			t.Fatalf("key %d recorded %d times, want exactly once", i, w)
		}
	}
	if p := s.nonces.pipelines.Load(); p >= 2*keys {
		t.Errorf("%d round trips for %d Records: no pipelining", p, 2*keys)
	} else {
		t.Logf("%d Records in %d round trips", 2*keys, p)
	}
}

// --- keys and TTLs ---

func TestRedisKeysAreHashedAndExpire(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	prefix := uniquePrefix()
	s := openTestRedis(t, srv.addr(), prefix)
	c := s.Client()
	pttl := func(key string) time.Duration {
		t.Helper()
		d, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if got > want || got < want-5*time.Second {
			t.Errorf("%s: PTTL %v, want about %v", what, got, want)
		}
	}

	// Nonces: hashed key, expiry = until.
	const tokenValue = "RAWTOKENVALUE123"
	nonce := "bamboo:93f2\x00" + tokenValue + "\x00" + "1795900000\x00RAWNONCE456"
	if ok, err := s.Record(ctx, nonce, anyStamp, time.Now().Add(5*time.Minute)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	nk := prefix + "nonce:" + sha256Hex(nonce)
	near("nonce", pttl(nk), 5*time.Minute)

	// Tokens: TTL = until dead (the later of Expires and SessionEnds) plus
	// the grace hour, refreshed by Update.
	now := time.Now()
	tok := &Token{ID: TokenID(tokenValue), Kind: AccessToken, Consumer: "bamboo:93f2", User: "alice",
		Expires: now.Add(time.Hour), SessionEnds: now.Add(3 * time.Hour)}
	if err := s.Put(ctx, tok); err != nil {
		t.Fatal(err)
	}
	tk := prefix + "token:" + tok.ID
	near("token", pttl(tk), 3*time.Hour+redisDeadGrace)
	if _, err := s.Update(ctx, tok.ID, func(t *Token) error {
		t.Expires, t.SessionEnds = now.Add(10*time.Minute), now.Add(30*time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	near("token after Update", pttl(tk), 30*time.Minute+redisDeadGrace)
	_, _ = s.Update(ctx, tok.ID, func(t *Token) error { t.SessionEnds = now.Add(100 * time.Hour); return errors.New("no") })
	near("token after a failed Update", pttl(tk), 30*time.Minute+redisDeadGrace)
	dead := &Token{ID: TokenID("dead"), Kind: RequestToken, Expires: now.Add(-2 * redisDeadGrace)}
	if err := s.Put(ctx, dead); err != nil {
		t.Fatal(err)
	}
	near("token written dead", pttl(prefix+"token:"+dead.ID), redisMinTTL)
	if got, err := s.Get(ctx, dead.ID); err != nil || !got.Dead(now) {
		t.Errorf("dead token until Sweep: %+v %v", got, err)
	}

	// Consumer-side tokens: hashed key; expiry when one is known.
	rt := &RemoteToken{Remote: "https://confluence.example.com", User: "alice", Token: tokenValue, Expires: now.Add(24 * time.Hour)}
	if err := s.PutRemote(ctx, rt); err != nil {
		t.Fatal(err)
	}
	rk := prefix + "remote:" + sha256Hex(RemoteKey(rt.Remote, rt.User))
	near("remote token", pttl(rk), 24*time.Hour+redisDeadGrace)
	rt.Expires = time.Time{}
	if err := s.PutRemote(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if d := pttl(rk); d != -1 { // go-redis returns -1ns for "no expiry"
		t.Errorf("remote token without expiry: PTTL %v, want none", d)
	}

	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{nk: true, tk: true, rk: true, prefix + "token:" + dead.ID: true}
	if len(keys) != len(want) {
		t.Errorf("keys %q, want %d", keys, len(want))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
		for _, secret := range []string{tokenValue, "RAWNONCE456", "bamboo", "alice", "confluence", "1795900000"} {
			if strings.Contains(k, secret) {
				t.Errorf("key %q contains %q", k, secret)
			}
		}
	}
	if v, _ := c.Get(ctx, nk).Result(); v != "1" {
		t.Errorf("nonce value %q", v)
	}
}

func TestRedisKeyPrefixIsolates(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	a := openTestRedis(t, srv.addr(), "x*")  // glob characters, quoted in SCAN
	b := openTestRedis(t, srv.addr(), "xy:") // matched by an unquoted "x*"
	d := openTestRedis(t, srv.addr(), "")    // the default
	if d.prefix != DefaultRedisKeyPrefix {
		t.Fatalf("default prefix %q", d.prefix)
	}
	until := time.Now().Add(time.Minute)
	if ok, _ := a.Record(ctx, "k", anyStamp, until); !ok {
		t.Fatal("a.Record")
	}
	for _, s := range []*Redis{b, d} {
		if seen, err := s.Seen(ctx, "k", anyStamp); seen || err != nil {
			t.Errorf("%s sees a's nonce: %v %v", s.prefix, seen, err)
		}
		if ok, err := s.Record(ctx, "k", anyStamp, until); !ok || err != nil {
			t.Errorf("%s.Record of a's nonce: %v %v", s.prefix, ok, err)
		}
	}
	for i, s := range []*Redis{a, b, d} {
		if err := s.Put(ctx, &Token{ID: TokenID("same"), Kind: AccessToken, User: strconv.Itoa(i), Expires: until}); err != nil {
			t.Errorf("%s.Put: %v", s.prefix, err)
		}
		if err := s.PutRemote(ctx, &RemoteToken{Remote: "r", User: "u", Token: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range []*Redis{a, b, d} {
		l, err := s.List(ctx, Filter{})
		if err != nil || len(l) != 1 || l[0].User != strconv.Itoa(i) {
			t.Errorf("%s.List: %+v %v", s.prefix, l, err)
		}
		if n, err := s.Count(ctx); n != 1 || err != nil {
			t.Errorf("%s.Count: %d %v", s.prefix, n, err)
		}
		if rt, err := s.GetRemote(ctx, "r", "u"); err != nil || rt.Token != strconv.Itoa(i) {
			t.Errorf("%s.GetRemote: %+v %v", s.prefix, rt, err)
		}
	}
	if n, err := a.Delete(ctx, Filter{}); n != 1 || err != nil {
		t.Errorf("a.Delete(all): %d %v", n, err)
	}
	if n, err := a.Sweep(ctx, until.Add(24*time.Hour)); n != 0 || err != nil {
		t.Errorf("a.Sweep: %d %v", n, err)
	}
	for _, s := range []*Redis{b, d} {
		if _, err := s.Get(ctx, TokenID("same")); err != nil {
			t.Errorf("%s lost its token to a.Delete: %v", s.prefix, err)
		}
	}
	keys, _ := a.Client().Keys(ctx, "*").Result()
	for _, k := range keys {
		if !strings.HasPrefix(k, "x*") && !strings.HasPrefix(k, "xy:") && !strings.HasPrefix(k, DefaultRedisKeyPrefix) {
			t.Errorf("key %q outside every prefix", k)
		}
	}
}

// --- configuration ---

func TestRedisConfig(t *testing.T) {
	tests := []struct {
		name   string
		cfg    RedisConfig
		where  string
		check  func(o *redis.UniversalOptions) bool
		client string // the go-redis client NewUniversalClient builds
	}{
		{"url", RedisConfig{URL: "redis://127.0.0.1:6379/0"}, "127.0.0.1:6379 db 0",
			func(o *redis.UniversalOptions) bool { return o.TLSConfig == nil && o.Password == "" }, "*redis.Client"},
		{"defaults", RedisConfig{URL: "redis://cache"}, "cache:6379 db 0",
			func(o *redis.UniversalOptions) bool {
				return o.DialTimeout == DefaultRedisDialTimeout && o.ReadTimeout == DefaultRedisReadTimeout && o.WriteTimeout == DefaultRedisWriteTimeout
			}, "*redis.Client"},
		{"credentials and db", RedisConfig{URL: "redis://app:s3cret@h:7000/3"}, "h:7000 db 3",
			func(o *redis.UniversalOptions) bool {
				return o.Username == "app" && o.Password == "s3cret" && o.DB == 3
			}, "*redis.Client"},
		{"password only", RedisConfig{URL: "redis://:s3cret@h"}, "h:6379 db 0",
			func(o *redis.UniversalOptions) bool { return o.Username == "" && o.Password == "s3cret" }, "*redis.Client"},
		{"tls", RedisConfig{URL: "rediss://redis.example.com:6380/1"}, "redis.example.com:6380 db 1",
			func(o *redis.UniversalOptions) bool {
				return o.TLSConfig != nil && o.TLSConfig.ServerName == "" && o.TLSConfig.MinVersion == tls.VersionTLS12
			}, "*redis.Client"},
		{"ipv6", RedisConfig{URL: "redis://[::1]:6379"}, "[::1]:6379 db 0", nil, "*redis.Client"},
		{"cluster seeds", RedisConfig{URL: "redis://n1:7000?addr=n2:7000&addr=n3:7000"}, "cluster n1:7000,n2:7000,n3:7000",
			nil, "*redis.ClusterClient"},
		{"cluster addrs", RedisConfig{Addrs: []string{"n1:7000", "n2:7000", "n1:7000"}}, "cluster n1:7000,n2:7000",
			nil, "*redis.ClusterClient"},
		{"cluster endpoint", RedisConfig{URL: "rediss://clustercfg.example:6379?cluster=true"}, "cluster clustercfg.example:6379",
			func(o *redis.UniversalOptions) bool { return o.IsClusterMode && o.TLSConfig != nil }, "*redis.ClusterClient"},
		{"sentinel url", RedisConfig{URL: "redis://:s3cret@s1:26379/2?master_name=mymaster&addr=s2:26379&sentinel_password=sentpw"},
			"sentinel master mymaster via s1:26379,s2:26379 db 2",
			func(o *redis.UniversalOptions) bool {
				return o.MasterName == "mymaster" && o.Password == "s3cret" && o.SentinelPassword == "sentpw" && o.DB == 2
			}, "*redis.Client"},
		{"sentinel fields", RedisConfig{Addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, MasterName: "mymaster", Password: "pw", DB: 1},
			"sentinel master mymaster via s1:26379,s2:26379,s3:26379 db 1", nil, "*redis.Client"},
		{"fields override the url", RedisConfig{URL: "redis://u:p@h/1?read_timeout=3", DB: 2, Password: "q", ReadTimeout: 4 * time.Second},
			"h:6379 db 2",
			func(o *redis.UniversalOptions) bool {
				return o.Username == "u" && o.Password == "q" && o.ReadTimeout == 4*time.Second
			}, "*redis.Client"},
		{"timeouts", RedisConfig{URL: "redis://h?dial_timeout=250ms&read_timeout=2&write_timeout=1.5s"}, "h:6379 db 0",
			func(o *redis.UniversalOptions) bool {
				return o.DialTimeout == 250*time.Millisecond && o.ReadTimeout == 2*time.Second && o.WriteTimeout == 1500*time.Millisecond
			}, "*redis.Client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, where, err := redisOptions(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if where != tt.where {
				t.Errorf("where %q, want %q", where, tt.where)
			}
			if tt.check != nil && !tt.check(o) {
				t.Errorf("options %+v", o)
			}
			c := redis.NewUniversalClient(o)
			defer c.Close()
			if got := fmt.Sprintf("%T", c); got != tt.client {
				t.Errorf("client %s, want %s", got, tt.client)
			}
		})
	}

	bad := []struct {
		cfg  RedisConfig
		want string
	}{
		{RedisConfig{}, "no address"},
		{RedisConfig{URL: "http://u:s3cret@h"}, "scheme"},
		{RedisConfig{URL: "unix:///run/redis.sock"}, "scheme"},
		{RedisConfig{URL: "redis://u:s3cret@h:notaport"}, "invalid URL"},
		{RedisConfig{URL: "redis://u:s3cret@h/x"}, "database number"},
		{RedisConfig{URL: "redis://u:s3cret@h/1/2"}, "database number"},
		{RedisConfig{URL: "redis://u:s3cret@h?foo=s3cret"}, `unknown URL parameter "foo"`},
		{RedisConfig{URL: "redis://u:s3cret@h?read_timeout=soon"}, "read_timeout"},
		{RedisConfig{URL: "redis://u:s3cret@h?cluster=maybe"}, "cluster"},
		{RedisConfig{URL: "redis://u:s3cret@h?addr=nohostport"}, "not host:port"},
		{RedisConfig{URL: "redis://h:1/3?addr=h:2"}, "only database 0"},
		{RedisConfig{URL: "redis://h:1?master_name=m&cluster=true"}, "exclude"},
		{RedisConfig{URL: "redis:h"}, "invalid URL"},
	}
	for _, tt := range bad {
		_, _, err := redisOptions(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error with %q", tt.cfg, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: the error shows the password: %v", tt.cfg, err)
		}
		if !strings.HasPrefix(err.Error(), "redis: ") {
			t.Errorf("error %q does not start with \"redis: \"", err)
		}
	}
}

// TestOpenRedisErrors: OpenRedis PINGs, fails promptly, names the address,
// never the password.
func TestOpenRedisErrors(t *testing.T) {
	t.Parallel()
	port := freePort(t) // nothing listens there
	addr := "127.0.0.1:" + strconv.Itoa(port)
	start := time.Now()
	_, err := OpenRedis(ctx, RedisConfig{URL: "redis://app:s3cret@" + addr + "/0"})
	if err == nil || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "s3cret") || !strings.HasPrefix(err.Error(), "redis: ") {
		t.Errorf("open of a closed port: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("open of a closed port took %v", took)
	}

	srv := startRedisServer(t, "--requirepass", "right-password")
	for _, url := range []string{"redis://:wrong-s3cret@" + srv.addr(), "redis://nobody:wrong-s3cret@" + srv.addr(), "redis://" + srv.addr()} {
		_, err := OpenRedis(ctx, RedisConfig{URL: url})
		if err == nil || !strings.Contains(err.Error(), srv.addr()) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v", strings.Replace(url, "s3cret", "***", 1), err)
		} else {
			t.Logf("e.g. %v", err)
		}
	}
	s, err := OpenRedis(ctx, RedisConfig{URL: "redis://:right-password@" + srv.addr() + "/5"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Contains(s.Addr(), "password") {
		t.Errorf("Addr() = %q", s.Addr())
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
}

// --- benchmark ---

// cpuOf returns the user+system CPU time a process has used so far.
func cpuOf(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

// BenchmarkRedisNoncePipelining measures what a nonce SET costs both
// processes, the proxy and redis-server, when 32 requests record at once:
// with the pipelining batcher, and with every SET sent on its own (the
// baseline, in the same run).
func BenchmarkRedisNoncePipelining(b *testing.B) {
	srv := startRedisServer(b)
	for _, tc := range []struct {
		name        string
		maxInFlight int
	}{{"one-by-one", 1 << 30}, {"pipelined", nonceMaxInFlight}} {
		b.Run(tc.name, func(b *testing.B) {
			s := openTestRedis(b, srv.addr(), uniquePrefix())
			s.nonces.maxInFlight = tc.maxInFlight
			until := time.Now().Add(5 * time.Minute)
			var n atomic.Int64
			b.SetParallelism(16)
			self, redisCPU := cpuOf(b, os.Getpid()), cpuOf(b, srv.proc.Process.Pid)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := "jira:1234\x00\x001795900000\x00" + strconv.FormatInt(n.Add(1), 36)
					if ok, err := s.Record(ctx, k, anyStamp, until); !ok || err != nil {
						b.Error(ok, err)
						return
					}
				}
			})
			b.StopTimer()
			ops := float64(b.N)
			b.ReportMetric(float64(cpuOf(b, os.Getpid())-self)/ops/1e3, "self-cpu-µs/op")
			b.ReportMetric(float64(cpuOf(b, srv.proc.Process.Pid)-redisCPU)/ops/1e3, "redis-cpu-µs/op")
		})
	}
}

// BenchmarkNonceRecord compares the nonce stores on the verifier's path
// (Seen, then Record of a fresh key), serially and in parallel.
func BenchmarkNonceRecord(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) oauth1.NonceStore
	}{
		{"memory", func(*testing.B) oauth1.NonceStore { return NewMemory() }},
		{"redis", func(b *testing.B) oauth1.NonceStore {
			srv := startRedisServer(b)
			return openTestRedis(b, srv.addr(), uniquePrefix())
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			until := time.Now().Add(5 * time.Minute)
			var n atomic.Int64
			key := func() string {
				return "jira:1234\x00\x001795900000\x00" + strconv.FormatInt(n.Add(1), 36)
			}
			b.Run("Record", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if ok, err := s.Record(ctx, key(), anyStamp, until); !ok || err != nil {
						b.Fatal(ok, err)
					}
				}
			})
			b.Run("Seen+Record", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					k := key()
					if seen, err := s.Seen(ctx, k, anyStamp); seen || err != nil {
						b.Fatal(seen, err)
					}
					if ok, err := s.Record(ctx, k, anyStamp, until); !ok || err != nil {
						b.Fatal(ok, err)
					}
				}
			})
			b.Run("Seen+Record-parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						k := key()
						_, _ = s.Seen(ctx, k, anyStamp)
						if ok, err := s.Record(ctx, k, anyStamp, until); !ok || err != nil {
							b.Error(ok, err)
							return
						}
					}
				})
			})
		})
	}
}
