package store

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig says how to reach Redis. URL and the fields may be combined:
// a field that is set overrides what the URL says, and Addrs adds to the
// URL's addresses.
//
// URL forms:
//
//	redis://[user:password@]host[:port][/db]        one server (port 6379, db 0 by default)
//	rediss://...                                    the same over TLS, system roots, each
//	                                                server checked against its address
//	redis://[user:password@]host:port?addr=host2:port&addr=host3:port
//	                                                Redis Cluster: two or more seed nodes
//	redis://host:port?cluster=true                  Redis Cluster through one address
//	                                                (a configuration endpoint)
//	redis://[user:password@]sentinel1:26379/0?master_name=mymaster&addr=sentinel2:26379
//	                                                Sentinel: the addresses are the
//	                                                sentinels'; user and password are the
//	                                                data nodes' (sentinel_username and
//	                                                sentinel_password for the sentinels)
//
// Other query parameters: dial_timeout, read_timeout, write_timeout (a Go
// duration, or whole seconds). Any other parameter is an error. A Unix
// socket is not supported.
//
// Which client is built follows go-redis's universal client: a master name
// gives a Sentinel-backed failover client, two or more addresses (or
// Cluster) a cluster client, otherwise a single-server client.
type RedisConfig struct {
	URL        string
	Addrs      []string // host:port; with the URL's, the seed list (cluster) or the sentinels
	MasterName string   // the Sentinel master name: Sentinel mode
	Cluster    bool     // Redis Cluster even with a single address
	Username   string   // the data nodes' ACL user
	Password   string
	// The sentinels' own credentials, when they require them.
	SentinelUsername string
	SentinelPassword string
	DB               int // not with Cluster
	// TLSConfig, when set, enables TLS with it, whatever the scheme (to
	// trust a private CA or present a client certificate).
	TLSConfig *tls.Config
	// KeyPrefix starts every key; "applink:" if empty. Two deployments
	// sharing one Redis database need different prefixes.
	KeyPrefix string
	// Zero means the default: 2s to connect, 1s to read or write a reply.
	// A proxy request waits at most about that long on a dead Redis.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// Default timeouts and key prefix of a Redis store.
const (
	DefaultRedisKeyPrefix    = "applink:"
	DefaultRedisDialTimeout  = 2 * time.Second
	DefaultRedisReadTimeout  = time.Second
	DefaultRedisWriteTimeout = time.Second
)

// Redis keeps nonces, tokens and consumer-side tokens in Redis, so that
// several proxies share them: a nonce recorded by one is a replay on the
// other, a token issued by one works on all, a revocation is seen by all on
// the next request.
//
// Keys (after KeyPrefix):
//
//	nonce:<sha256 hex of the nonce key>     "1", expiring when the nonce's timestamp leaves the window
//	token:<token ID>                        the Token as JSON, expiring an hour after it is Dead
//	remote:<sha256 hex of RemoteKey>        the RemoteToken as JSON, expiring an hour after its
//	                                        Expires or SessionEnds (never if both are zero)
//
// No key contains a token value, a nonce, a consumer key or a user name.
// Token IDs are already SHA-256 hashes of the token values. Values are the
// same JSON as the bbolt store's, so a token's user, consumer and sealed
// secret, and a consumer-side token (sealed when an encryption key is
// configured) are readable by whoever can read the database.
//
// The hour of grace after a token is dead matches the bbolt store, which
// keeps dead tokens until Sweep: an expired token is answered
// token_expired, not token_rejected, for that hour. Sweep deletes dead
// tokens at once.
//
// Every method fails closed: when Redis cannot be reached it returns an
// error ("redis: <address>: ..."), never a default answer, after at most
// one timeout (no retries). The client reconnects by itself: the same
// *Redis works again once Redis is back.
//
// The store needs only these commands on its keys, so a Redis ACL user for
// it can be:
//
//	ACL SETUSER applink on >PASSWORD resetkeys ~applink:* resetchannels -@all
//	    +ping +get +set +exists +del +scan +eval +watch +unwatch +multi +exec
//
// Nonces and tokens survive a restart of Redis only if Redis persists
// them (appendonly yes); without persistence a restarted Redis forgets the
// tokens, and replays within one timestamp window.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	where  string // the address(es), for errors and logs; never a password
	nonces *nonceBatcher
}

// nonceMaxInFlight is how many nonce pipelines may be out at once. One:
// everything that arrives during a round trip goes out in the next one, so
// a SET waits at most one extra round trip, and under load each round trip
// carries as many SETs as arrived meanwhile.
const nonceMaxInFlight = 1

// redisACLCommands are the commands the store sends (see Redis).
const redisACLCommands = "+ping +get +set +exists +del +scan +eval +watch +unwatch +multi +exec"

// Grace and floor of token key TTLs.
const (
	redisDeadGrace = time.Hour
	redisMinTTL    = time.Minute
)

// updateAttempts bounds the optimistic retries of Update under contention.
const updateAttempts = 100

// OpenRedis connects to Redis and checks it answers PING. The error names
// the address, never the password.
func OpenRedis(ctx context.Context, cfg RedisConfig) (*Redis, error) {
	opts, where, err := redisOptions(cfg)
	if err != nil {
		return nil, err
	}
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultRedisKeyPrefix
	}
	c := redis.NewUniversalClient(opts)
	r := &Redis{c: c, prefix: prefix, where: where, nonces: &nonceBatcher{
		c:           c,
		maxInFlight: nonceMaxInFlight,
		timeout:     opts.DialTimeout + opts.WriteTimeout + opts.ReadTimeout,
	}}
	if err := r.Ping(ctx); err != nil {
		_ = r.c.Close()
		return nil, err
	}
	return r, nil
}

// redisOptions turns the config into go-redis options and a description of
// the target for messages.
func redisOptions(cfg RedisConfig) (*redis.UniversalOptions, string, error) {
	o := &redis.UniversalOptions{
		DialTimeout:  DefaultRedisDialTimeout,
		ReadTimeout:  DefaultRedisReadTimeout,
		WriteTimeout: DefaultRedisWriteTimeout,
		// No retries: a request waits at most one timeout on a dead or
		// frozen Redis, then gets its error (503). Pooled connections that
		// died with a restarted Redis are weeded out by go-redis's health
		// check when taken from the pool.
		MaxRetries: -1,
		// RESP2: the store needs nothing of RESP3, and go-redis then skips
		// looking for push notifications before every reply.
		Protocol:              2,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	}
	if cfg.URL != "" {
		if err := parseRedisURL(cfg.URL, o); err != nil {
			return nil, "", err
		}
	}
	o.Addrs = append(o.Addrs, cfg.Addrs...)
	if cfg.MasterName != "" {
		o.MasterName = cfg.MasterName
	}
	o.IsClusterMode = o.IsClusterMode || cfg.Cluster
	if cfg.Username != "" {
		o.Username = cfg.Username
	}
	if cfg.Password != "" {
		o.Password = cfg.Password
	}
	if cfg.SentinelUsername != "" {
		o.SentinelUsername = cfg.SentinelUsername
	}
	if cfg.SentinelPassword != "" {
		o.SentinelPassword = cfg.SentinelPassword
	}
	if cfg.DB != 0 {
		o.DB = cfg.DB
	}
	if cfg.TLSConfig != nil {
		o.TLSConfig = cfg.TLSConfig
	}
	for _, d := range []struct {
		dst *time.Duration
		v   time.Duration
	}{{&o.DialTimeout, cfg.DialTimeout}, {&o.ReadTimeout, cfg.ReadTimeout}, {&o.WriteTimeout, cfg.WriteTimeout}} {
		if d.v > 0 {
			*d.dst = d.v
		}
	}

	if len(o.Addrs) == 0 {
		return nil, "", errors.New("redis: no address: give a URL (redis://host:port/db) or addresses")
	}
	seen := map[string]bool{}
	addrs := o.Addrs[:0]
	for _, a := range o.Addrs {
		h, p, err := net.SplitHostPort(a)
		if err != nil || h == "" || p == "" {
			return nil, "", fmt.Errorf("redis: address %q is not host:port", a)
		}
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	o.Addrs = addrs
	if o.DB < 0 {
		return nil, "", fmt.Errorf("redis: invalid database number %d", o.DB)
	}
	list := strings.Join(o.Addrs, ",")
	var where string
	switch {
	case o.MasterName != "" && o.IsClusterMode:
		return nil, "", errors.New("redis: a Sentinel master name and cluster mode exclude each other")
	case o.MasterName != "":
		where = fmt.Sprintf("sentinel master %s via %s db %d", o.MasterName, list, o.DB)
	case len(o.Addrs) > 1 || o.IsClusterMode:
		if o.DB != 0 {
			return nil, "", fmt.Errorf("redis: cluster %s: Redis Cluster has only database 0, not %d", list, o.DB)
		}
		where = "cluster " + list
	default:
		where = fmt.Sprintf("%s db %d", list, o.DB)
	}
	return o, where, nil
}

// parseRedisURL reads a redis:// or rediss:// URL into o. Its errors never
// quote the URL, which may hold a password.
func parseRedisURL(raw string, o *redis.UniversalOptions) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("redis: invalid URL (not shown: it may hold a password): %v", err)
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		// No ServerName: each node is checked against the host it is
		// dialled by (cluster nodes and Sentinel masters have their own).
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return fmt.Errorf("redis: URL scheme %q: want redis:// or rediss://", u.Scheme)
	}
	if u.Opaque != "" {
		return errors.New("redis: invalid URL: want redis://host:port/db")
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	if u.Host != "" {
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = "6379"
		}
		o.Addrs = append(o.Addrs, net.JoinHostPort(host, port))
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 {
			return fmt.Errorf("redis: URL path %q: want a database number", u.Path)
		}
		o.DB = db
	}
	q := u.Query()
	for name, vs := range q {
		v := vs[len(vs)-1]
		switch name {
		case "addr":
			o.Addrs = append(o.Addrs, vs...)
		case "master_name":
			o.MasterName = v
		case "cluster":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("redis: URL parameter cluster=%q: want true or false", v)
			}
			o.IsClusterMode = b
		case "sentinel_username":
			o.SentinelUsername = v
		case "sentinel_password":
			o.SentinelPassword = v
		case "dial_timeout", "read_timeout", "write_timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				n, nerr := strconv.Atoi(v)
				if nerr != nil {
					return fmt.Errorf("redis: URL parameter %s=%q: want a duration", name, v)
				}
				d = time.Duration(n) * time.Second
			}
			if d <= 0 {
				return fmt.Errorf("redis: URL parameter %s=%q: want a positive duration", name, v)
			}
			switch name {
			case "dial_timeout":
				o.DialTimeout = d
			case "read_timeout":
				o.ReadTimeout = d
			default:
				o.WriteTimeout = d
			}
		default:
			return fmt.Errorf("redis: unknown URL parameter %q", name)
		}
	}
	return nil
}

// redisError is an error of a Redis command: "redis: <where>: <op>: <cause>".
type redisError struct {
	where, op string
	err       error
}

func (e *redisError) Error() string {
	return "redis: " + e.where + ": " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "redis: ")
}

func (e *redisError) Unwrap() error { return e.err }

func (r *Redis) fail(op string, err error) error {
	var re *redisError
	if errors.As(err, &re) {
		return err
	}
	return &redisError{where: r.where, op: op, err: err}
}

// Addr describes the server(s) the store talks to, without credentials.
func (r *Redis) Addr() string { return r.where }

// Ping checks that Redis answers, for readiness checks.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return r.fail("PING", err)
	}
	return nil
}

// Close closes the connections. The store is unusable afterwards.
func (r *Redis) Close() error { return r.c.Close() }

// Client returns the underlying go-redis client (tests, diagnostics).
func (r *Redis) Client() redis.UniversalClient { return r.c }

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// --- nonces (oauth1.NonceStore) ---

func (r *Redis) nonceKey(key string) string { return r.prefix + "nonce:" + sha256Hex(key) }

// Since returns the zero time: Redis outlives the proxy, so a restarted
// proxy still knows the nonces it saw before and needs no cut-off. (A Redis
// that itself restarts without persistence forgets them; run it with
// persistence, or accept replays within one timestamp window after its
// restart.)
func (r *Redis) Since() time.Time { return time.Time{} }

// Seen reports whether key is recorded and not expired. Redis files keys by
// key alone, not by stamp.
func (r *Redis) Seen(ctx context.Context, key string, _ int64) (bool, error) {
	n, err := r.c.Exists(ctx, r.nonceKey(key)).Result()
	if err != nil {
		return false, r.fail("EXISTS nonce", err)
	}
	return n > 0, nil
}

// Record stores key until the given time unless it is stored already
// (SET NX with an expiry): atomic across every proxy sharing the Redis.
// Concurrent Records share pipelines (see nonceBatcher).
func (r *Redis) Record(ctx context.Context, key string, _ int64, until time.Time) (bool, error) {
	k := r.nonceKey(key)
	ttl := time.Until(until)
	if ttl < time.Millisecond {
		// Already expired: nothing to keep, but a live entry still wins,
		// as in the memory store.
		n, err := r.c.Exists(ctx, k).Result()
		if err != nil {
			return false, r.fail("EXISTS nonce", err)
		}
		return n == 0, nil
	}
	ok, err := r.nonces.setNX(ctx, k, ttl)
	if err != nil {
		return false, r.fail("SET nonce", err)
	}
	return ok, nil
}

// --- tokens (TokenStore) ---

func (r *Redis) tokenKey(id string) string { return r.prefix + "token:" + id }

// ttlUntil is the key TTL of a record that is useless after end: end plus
// the grace, at least redisMinTTL (a record written dead, by a skewed
// clock, still stays until Sweep or that minute is over).
func ttlUntil(end, now time.Time) time.Duration {
	return max(end.Sub(now)+redisDeadGrace, redisMinTTL)
}

func tokenTTL(t *Token) time.Duration {
	end := t.Expires
	if t.SessionEnds.After(end) {
		end = t.SessionEnds
	}
	return ttlUntil(end, time.Now())
}

// Put stores a new token; ErrExists if its ID is taken.
func (r *Redis) Put(ctx context.Context, t *Token) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	ok, err := r.c.SetNX(ctx, r.tokenKey(t.ID), data, tokenTTL(t)).Result()
	if err != nil {
		return r.fail("SET token", err)
	}
	if !ok {
		return ErrExists
	}
	return nil
}

// Get returns a token by ID, or ErrNotFound.
func (r *Redis) Get(ctx context.Context, id string) (*Token, error) {
	v, err := r.c.Get(ctx, r.tokenKey(id)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, r.fail("GET token", err)
	}
	return decode(v)
}

// Update changes one token atomically: WATCH, GET, fn, MULTI/SET/EXEC,
// retried when another writer changed the token in between. fn may
// therefore run more than once; each run gets a fresh copy of the stored
// token, and only the last run's changes are written. The TTL follows the
// token's new expiry.
func (r *Redis) Update(ctx context.Context, id string, fn func(*Token) error) (*Token, error) {
	key := r.tokenKey(id)
	for attempt := range updateAttempts {
		if attempt > 0 {
			// Spread contending writers out a little.
			d := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))
			select {
			case <-ctx.Done():
				return nil, r.fail("update token", ctx.Err())
			case <-time.After(d):
			}
		}
		var out *Token
		var fnErr error
		err := r.c.Watch(ctx, func(tx *redis.Tx) error {
			v, err := tx.Get(ctx, key).Bytes()
			switch {
			case errors.Is(err, redis.Nil):
				fnErr = ErrNotFound
				return fnErr
			case err != nil:
				return r.fail("GET token", err)
			}
			t, err := decode(v)
			if err != nil {
				fnErr = err
				return err
			}
			var data []byte
			del := false
			switch err := fn(t); {
			case errors.Is(err, ErrDelete):
				del = true
			case err != nil:
				fnErr = err
				return err
			default:
				if data, err = json.Marshal(t); err != nil {
					fnErr = err
					return err
				}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if del {
					p.Del(ctx, key)
				} else {
					p.Set(ctx, key, data, tokenTTL(t))
				}
				return nil
			})
			if err != nil {
				return err
			}
			out = t
			return nil
		}, key)
		switch {
		case err == nil:
			return out, nil
		case fnErr != nil && errors.Is(err, fnErr):
			return nil, fnErr
		case errors.Is(err, redis.TxFailedErr):
			continue
		default:
			return nil, r.fail("update token", err)
		}
	}
	return nil, r.fail("update token", fmt.Errorf("gave up after %d attempts: the token keeps changing", updateAttempts))
}

// compareAndDelete deletes KEYS[1] if it still holds ARGV[1]: 1 deleted,
// 0 gone already, -1 changed.
const compareAndDelete = `local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if v == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return -1`

// scanKeys returns every key matching the pattern, once each. On a cluster
// it scans every master.
func (r *Redis) scanKeys(ctx context.Context, pattern string) ([]string, error) {
	seen := map[string]struct{}{}
	scan := func(ctx context.Context, c redis.Cmdable) ([]string, error) {
		var out []string
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return nil, err
			}
			out = append(out, keys...)
			if cursor = next; cursor == 0 {
				return out, nil
			}
		}
	}
	var all []string
	if cc, ok := r.c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			ks, err := scan(ctx, n)
			mu.Lock()
			all = append(all, ks...)
			mu.Unlock()
			return err
		})
		if err != nil {
			return nil, r.fail("SCAN", err)
		}
	} else {
		var err error
		if all, err = scan(ctx, r.c); err != nil {
			return nil, r.fail("SCAN", err)
		}
	}
	out := all[:0]
	for _, k := range all {
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out, nil
}

// globEscape quotes the glob metacharacters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\^`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// eachToken calls fn with every stored token record, in batches.
func (r *Redis) eachToken(ctx context.Context, fn func(keys []string, vals [][]byte) error) error {
	keys, err := r.scanKeys(ctx, globEscape(r.prefix+"token:")+"*")
	if err != nil {
		return err
	}
	const batch = 500
	for len(keys) > 0 {
		n := min(batch, len(keys))
		part := keys[:n]
		keys = keys[n:]
		cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range part {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return r.fail("GET tokens", err)
		}
		var ks []string
		var vs [][]byte
		for i, c := range cmds {
			v, err := c.(*redis.StringCmd).Bytes()
			switch {
			case errors.Is(err, redis.Nil): // deleted since the scan
				continue
			case err != nil:
				return r.fail("GET tokens", err)
			}
			ks = append(ks, part[i])
			vs = append(vs, v)
		}
		if err := fn(ks, vs); err != nil {
			return err
		}
	}
	return nil
}

// deleteWhere deletes every token whose record doom selects, each only if
// it did not change since it was read (a changed one is read again).
func (r *Redis) deleteWhere(ctx context.Context, op string, doom func([]byte) (bool, error)) (int, error) {
	n := 0
	err := r.eachToken(ctx, func(keys []string, vals [][]byte) error {
		var dk []string
		var dv [][]byte
		for i, v := range vals {
			ok, err := doom(v)
			if err != nil {
				return err
			}
			if ok {
				dk, dv = append(dk, keys[i]), append(dv, v)
			}
		}
		if len(dk) == 0 {
			return nil
		}
		cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range dk {
				p.Eval(ctx, compareAndDelete, []string{k}, dv[i])
			}
			return nil
		})
		if err != nil {
			return r.fail(op, err)
		}
		for i, c := range cmds {
			switch c.(*redis.Cmd).Val() {
			case int64(1):
				n++
			case int64(-1):
				d, err := r.deleteIfDoomed(ctx, op, dk[i], doom)
				if err != nil {
					return err
				}
				n += d
			}
		}
		return nil
	})
	return n, err
}

// deleteIfDoomed deletes one token if doom selects it, atomically.
func (r *Redis) deleteIfDoomed(ctx context.Context, op, key string, doom func([]byte) (bool, error)) (int, error) {
	for range updateAttempts {
		v, err := r.c.Get(ctx, key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			return 0, nil
		case err != nil:
			return 0, r.fail(op, err)
		}
		if ok, err := doom(v); err != nil || !ok {
			return 0, err
		}
		res, err := r.c.Eval(ctx, compareAndDelete, []string{key}, v).Int()
		if err != nil {
			return 0, r.fail(op, err)
		}
		if res >= 0 {
			return res, nil
		}
	}
	return 0, r.fail(op, errors.New("the token keeps changing"))
}

// Delete removes the tokens the filter selects and says how many. Each is
// deleted only if it still matches the filter at that moment.
func (r *Redis) Delete(ctx context.Context, f Filter) (int, error) {
	doom := func(v []byte) (bool, error) {
		t, err := decode(v)
		if err != nil {
			return false, err
		}
		return f.Match(t), nil
	}
	if f.ID != "" {
		return r.deleteIfDoomed(ctx, "delete token", r.tokenKey(f.ID), doom)
	}
	return r.deleteWhere(ctx, "delete tokens", doom)
}

// List returns the tokens the filter selects (a SCAN over the token keys,
// unless the filter names an ID).
func (r *Redis) List(ctx context.Context, f Filter) ([]*Token, error) {
	if f.ID != "" {
		t, err := r.Get(ctx, f.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, err
		case !f.Match(t):
			return nil, nil
		}
		return []*Token{t}, nil
	}
	var out []*Token
	err := r.eachToken(ctx, func(_ []string, vals [][]byte) error {
		var err error
		for _, v := range vals {
			if out, err = f.appendMatch(out, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count returns the number of stored tokens (dead ones in their grace hour
// included).
func (r *Redis) Count(ctx context.Context) (int, error) {
	keys, err := r.scanKeys(ctx, globEscape(r.prefix+"token:")+"*")
	return len(keys), err
}

// Sweep deletes the tokens dead at now (and undecodable records). Redis
// expires them by itself an hour after death; Sweep is only needed to
// apply another clock or to drop them sooner.
func (r *Redis) Sweep(ctx context.Context, now time.Time) (int, error) {
	return r.deleteWhere(ctx, "sweep tokens", func(v []byte) (bool, error) {
		t, err := decode(v)
		return err != nil || t.Dead(now), nil
	})
}

var _ TokenStore = (*Redis)(nil)

// --- consumer-side tokens (RemoteStore) ---

func (r *Redis) remoteKey(remote, user string) string {
	return r.prefix + "remote:" + sha256Hex(RemoteKey(remote, user))
}

// PutRemote stores (or replaces) a consumer-side token. It expires an hour
// after its Expires or SessionEnds, whichever is later; never if both are
// zero.
func (r *Redis) PutRemote(ctx context.Context, t *RemoteToken) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	end := t.Expires
	if t.SessionEnds.After(end) {
		end = t.SessionEnds
	}
	var ttl time.Duration // 0: no expiry
	if !end.IsZero() {
		ttl = ttlUntil(end, time.Now())
	}
	if err := r.c.Set(ctx, r.remoteKey(t.Remote, t.User), data, ttl).Err(); err != nil {
		return r.fail("SET remote token", err)
	}
	return nil
}

// GetRemote returns the consumer-side token of (remote, user), or ErrNotFound.
func (r *Redis) GetRemote(ctx context.Context, remote, user string) (*RemoteToken, error) {
	v, err := r.c.Get(ctx, r.remoteKey(remote, user)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, r.fail("GET remote token", err)
	}
	t := new(RemoteToken)
	if err := json.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("corrupt remote token record: %w", err)
	}
	return t, nil
}

// DeleteRemote forgets the consumer-side token of (remote, user).
func (r *Redis) DeleteRemote(ctx context.Context, remote, user string) error {
	if err := r.c.Del(ctx, r.remoteKey(remote, user)).Err(); err != nil {
		return r.fail("DEL remote token", err)
	}
	return nil
}

// ListRemote returns the consumer-side tokens of remote and user ("" = any).
// Keys are hashes, so it reads every remote token record.
func (r *Redis) ListRemote(ctx context.Context, remote, user string) ([]*RemoteToken, error) {
	keys, err := r.scanKeys(ctx, globEscape(r.prefix)+"remote:*")
	if err != nil {
		return nil, err
	}
	var out []*RemoteToken
	for _, k := range keys {
		v, err := r.c.Get(ctx, k).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			continue // expired or deleted since the scan
		case err != nil:
			return nil, r.fail("GET remote token", err)
		}
		t := new(RemoteToken)
		if err := json.Unmarshal(v, t); err != nil {
			return nil, fmt.Errorf("corrupt remote token record: %w", err)
		}
		if matchRemote(t, remote, user) {
			out = append(out, t)
		}
	}
	return out, nil
}

var _ RemoteStore = (*Redis)(nil)
