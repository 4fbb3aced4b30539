package consumer

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// Defaults.
const (
	// DefaultPendingTTL is how long a started dance waits for the user:
	// the remote's request-token lifetime (Atlassian: 10 minutes).
	DefaultPendingTTL = 10 * time.Minute
	// DefaultRenewBefore: an access token this close to its expiry is
	// renewed through its session handle before it is used.
	DefaultRenewBefore = 24 * time.Hour
	// renewTimeout bounds a renewal, which runs to its end even if the
	// request that triggered it goes away: the remote drops the old token
	// when it answers, so an abandoned renewal would lose the new one.
	renewTimeout = 30 * time.Second
)

// Errors of Tokens. Refusals by the remote are *RemoteError; failures to
// reach it wrap ErrRemoteUnavailable.
var (
	// ErrNoAccessToken: the user holds no usable access token for the
	// remote (never authorised, revoked, or expired beyond renewal). The
	// transport's ErrNoAccessToken is this error.
	ErrNoAccessToken = errors.New("no 3LO access token stored for this user")
	// ErrNoDance: Finish without a dance in progress for the user.
	ErrNoDance = errors.New("no authorization in progress for this user and application link")
	// ErrDanceExpired: the user took longer than the request token lives.
	ErrDanceExpired = errors.New("the authorization took too long and has expired")
	// ErrTokenMismatch: the oauth_token Finish got is not the request
	// token of the user's dance (another dance, another user, or forged).
	ErrTokenMismatch = errors.New("oauth_token is not the request token of this user's authorization")
	// ErrDenied: the user refused at the remote (oauth_verifier=denied).
	ErrDenied = errors.New("the user denied access at the remote application")
	// ErrSealed: a stored token is sealed and no (or another) encryption
	// key is configured.
	ErrSealed = errors.New("the stored token is sealed and cannot be opened with the configured encryption key")
)

// Stored is a consumer-side token, opened.
type Stored struct {
	Remote, User  string
	Token, Secret string
	SessionHandle string
	Created       time.Time
	Expires       time.Time // zero: the remote gave no lifetime
	SessionEnds   time.Time // zero: the remote gave no session lifetime
}

// LinkSource finds the link of a remote (as Link.Remote names it), for
// renewal; nil if none is known.
type LinkSource func(remote string) *Link

// Tokens keeps per-user access tokens for remote applications in a
// store.RemoteStore: one record per (remote, local user), and one per
// dance in progress (under its own key, so that starting a dance never
// destroys a working token).
//
// Concurrency: renewals of the same (remote, user) are coalesced within
// the process. Processes sharing a store (several proxies on one Redis)
// may renew the same token at once; the remote accepts the first renewal
// and refuses the others (token_rejected), which then re-read the store
// and use the token the winner stored. Writes are last-writer-wins: a
// record is replaced whole, never merged.
type Tokens struct {
	Store store.RemoteStore
	// Sealer, if set, encrypts token, secret and session handle at rest
	// (AES-256-GCM, bound to the record's remote and user). Records written
	// without it stay readable.
	Sealer *provider.Sealer
	// Links resolves the link of a remote, for renewal in AccessToken.
	Links LinkSource
	// RenewBefore: renew a token that expires within this window (default
	// DefaultRenewBefore; negative: only once it has expired).
	RenewBefore time.Duration
	// PendingTTL: how long a started dance stays valid (DefaultPendingTTL).
	PendingTTL time.Duration
	Now        func() time.Time
	Logger     *zap.Logger

	mu      sync.Mutex
	flights map[string]*flight
}

type flight struct {
	done chan struct{}
	tok  *signer.Token
	err  error
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tokens) logger() *zap.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return zap.NewNop()
}

func (t *Tokens) renewBefore() time.Duration {
	switch {
	case t.RenewBefore < 0:
		return 0
	case t.RenewBefore == 0:
		return DefaultRenewBefore
	}
	return t.RenewBefore
}

func (t *Tokens) pendingTTL() time.Duration {
	if t.PendingTTL > 0 {
		return t.PendingTTL
	}
	return DefaultPendingTTL
}

// pendingRemote is the record key of a dance in progress: it cannot
// collide with a remote base URL, which starts with http.
func pendingRemote(remote string) string { return "pending:" + remote }

// secrets is what a sealed record holds.
type secrets struct {
	Token  string `json:"t"`
	Secret string `json:"s,omitempty"`
	Handle string `json:"h,omitempty"`
}

func (t *Tokens) put(ctx context.Context, s *Stored, pending bool) error {
	rec := &store.RemoteToken{Remote: s.Remote, User: s.User, Pending: pending,
		Created: s.Created, Expires: s.Expires, SessionEnds: s.SessionEnds}
	if t.Sealer != nil {
		plain, err := json.Marshal(secrets{Token: s.Token, Secret: s.Secret, Handle: s.SessionHandle})
		if err != nil {
			return err
		}
		if rec.Sealed, err = t.Sealer.Seal(store.RemoteKey(rec.Remote, rec.User), string(plain)); err != nil {
			return err
		}
	} else {
		rec.Token, rec.Secret, rec.SessionHandle = s.Token, s.Secret, s.SessionHandle
	}
	return t.Store.PutRemote(ctx, rec)
}

// get reads and opens a record; store.ErrNotFound if there is none.
func (t *Tokens) get(ctx context.Context, remote, user string) (*Stored, error) {
	rec, err := t.Store.GetRemote(ctx, remote, user)
	if err != nil {
		return nil, err
	}
	s := &Stored{Remote: rec.Remote, User: rec.User, Token: rec.Token, Secret: rec.Secret, SessionHandle: rec.SessionHandle,
		Created: rec.Created, Expires: rec.Expires, SessionEnds: rec.SessionEnds}
	if len(rec.Sealed) > 0 {
		if t.Sealer == nil {
			return nil, ErrSealed
		}
		plain, err := t.Sealer.Open(store.RemoteKey(rec.Remote, rec.User), rec.Sealed)
		if err != nil {
			return nil, ErrSealed
		}
		var sec secrets
		if err := json.Unmarshal([]byte(plain), &sec); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSealed, err)
		}
		s.Token, s.Secret, s.SessionHandle = sec.Token, sec.Secret, sec.Handle
	}
	return s, nil
}

// Get returns the user's stored access token for remote, without renewing
// it; ErrNoAccessToken if there is none.
func (t *Tokens) Get(ctx context.Context, remote, user string) (*Stored, error) {
	s, err := t.get(ctx, remote, user)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoAccessToken
	}
	return s, err
}

// Start begins a dance for user towards link's remote: it fetches a request
// token with callbackURL as oauth_callback, keeps it as the user's dance in
// progress (replacing an earlier one, never the user's access token) for
// PendingTTL, and returns the URL of the remote's approval page to send the
// browser to.
func (t *Tokens) Start(ctx context.Context, link *Link, user, callbackURL string) (string, error) {
	if user == "" {
		return "", errors.New("consumer: a dance needs a local user")
	}
	if callbackURL == "" {
		return "", errors.New("consumer: a dance needs a callback URL")
	}
	rt, err := link.FetchRequestToken(ctx, callbackURL)
	if err != nil {
		return "", err
	}
	if !rt.CallbackConfirmed {
		t.logger().Warn("remote issued an OAuth 1.0 request token despite the callback; it may not redirect back",
			zap.String("remote", link.Remote()), zap.String("link", link.ID))
	}
	now := t.now()
	err = t.put(ctx, &Stored{Remote: pendingRemote(link.Remote()), User: user, Token: rt.Token, Secret: rt.Secret,
		Created: now, Expires: now.Add(t.pendingTTL())}, true)
	if err != nil {
		return "", fmt.Errorf("consumer: storing the request token: %w", err)
	}
	return link.AuthorizeURL(rt.Token, callbackURL), nil
}

// Finish completes user's dance when the remote sends the browser back
// with oauth_token and oauth_verifier: oauth_token must be the request
// token Start stored for this user (as Atlassian's login-dance/access
// checks), then the access token is fetched and stored with its expiry
// (oauth_expires_in), session end (oauth_authorization_expires_in) and
// session handle. verifier "denied" (the user refused) forgets the dance
// and returns ErrDenied; nothing is stored.
//
// The dance is forgotten once the remote has answered (the request token
// is single-use); it is kept when the remote could not be reached, so that
// reloading the page retries.
func (t *Tokens) Finish(ctx context.Context, link *Link, user, token, verifier string) (*Stored, error) {
	remote := link.Remote()
	p, err := t.get(ctx, pendingRemote(remote), user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNoDance
	case errors.Is(err, ErrSealed):
		_ = t.Store.DeleteRemote(ctx, pendingRemote(remote), user)
		return nil, ErrNoDance
	case err != nil:
		return nil, err
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(p.Token)) != 1 {
		return nil, ErrTokenMismatch
	}
	forget := func() { _ = t.Store.DeleteRemote(context.WithoutCancel(ctx), pendingRemote(remote), user) }
	if !t.now().Before(p.Expires) {
		forget()
		return nil, ErrDanceExpired
	}
	if verifier == "denied" {
		forget()
		return nil, ErrDenied
	}
	// The remote consumes the request token when it answers: finish even if
	// the browser goes away meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renewTimeout)
	defer cancel()
	g, err := link.ExchangeRequestToken(ctx, &signer.Token{Token: p.Token, Secret: p.Secret}, verifier)
	if err != nil {
		if !errors.Is(err, ErrRemoteUnavailable) {
			forget()
		}
		return nil, err
	}
	s := t.stored(remote, user, g, "")
	if err := t.put(ctx, s, false); err != nil {
		return nil, fmt.Errorf("consumer: storing the access token: %w", err)
	}
	forget()
	return s, nil
}

// stored builds the record of a grant received now.
func (t *Tokens) stored(remote, user string, g *Grant, oldHandle string) *Stored {
	now := t.now()
	s := &Stored{Remote: remote, User: user, Token: g.Token, Secret: g.Secret, SessionHandle: g.SessionHandle, Created: now}
	if s.SessionHandle == "" {
		s.SessionHandle = oldHandle
	}
	if g.ExpiresIn > 0 {
		s.Expires = now.Add(g.ExpiresIn)
	}
	if g.SessionIn > 0 {
		s.SessionEnds = now.Add(g.SessionIn)
	}
	return s
}

// AccessToken returns user's access token for remote (the normalised base
// URL, as Link.Remote names it), renewing it first through its session
// handle when it expires within RenewBefore or has expired while its
// session lives. It implements the transport's TokenSource.
//
// It returns an error wrapping ErrNoAccessToken when the user must
// (re-)approve: no token, a token expired beyond renewal, or a renewal the
// remote refused (the *RemoteError is wrapped too; the record is deleted).
// When a renewal cannot reach the remote, a token that has not expired yet
// is still returned; an expired one gives an error wrapping
// ErrRemoteUnavailable. Other errors are store failures.
func (t *Tokens) AccessToken(ctx context.Context, remote, user string) (*signer.Token, error) {
	s, err := t.get(ctx, remote, user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNoAccessToken
	case err != nil:
		return nil, err
	}
	now := t.now()
	expired := !s.Expires.IsZero() && !now.Before(s.Expires)
	sessionLives := s.SessionHandle != "" && (s.SessionEnds.IsZero() || now.Before(s.SessionEnds))
	switch {
	case s.Token == "":
		return nil, ErrNoAccessToken
	case expired && !sessionLives:
		t.forget(ctx, s, "access token and session expired")
		return nil, fmt.Errorf("%w (it expired at %s)", ErrNoAccessToken, s.Expires.UTC().Format(time.RFC3339))
	case s.Expires.IsZero() || !sessionLives || s.Expires.Sub(now) > t.renewBefore():
		return &signer.Token{Token: s.Token, Secret: s.Secret}, nil
	}
	var link *Link
	if t.Links != nil {
		link = t.Links(remote)
	}
	if link == nil {
		if expired {
			return nil, fmt.Errorf("%w (expired, and no link to renew it through)", ErrNoAccessToken)
		}
		return &signer.Token{Token: s.Token, Secret: s.Secret}, nil
	}
	return t.renewShared(ctx, link, s)
}

// renewShared coalesces concurrent renewals of one record.
func (t *Tokens) renewShared(ctx context.Context, link *Link, s *Stored) (*signer.Token, error) {
	key := store.RemoteKey(s.Remote, s.User)
	t.mu.Lock()
	if t.flights == nil {
		t.flights = make(map[string]*flight)
	}
	f, running := t.flights[key]
	if !running {
		f = &flight{done: make(chan struct{})}
		t.flights[key] = f
	}
	t.mu.Unlock()
	if !running {
		go func() {
			f.tok, f.err = t.renew(context.WithoutCancel(ctx), link, s)
			t.mu.Lock()
			delete(t.flights, key)
			t.mu.Unlock()
			close(f.done)
		}()
	}
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *Tokens) renew(ctx context.Context, link *Link, s *Stored) (*signer.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	log := t.logger().With(zap.String("remote", s.Remote), zap.String("user", s.User), zap.String("link", link.ID))
	current := &signer.Token{Token: s.Token, Secret: s.Secret}
	expired := !s.Expires.IsZero() && !t.now().Before(s.Expires)

	g, err := link.RenewAccessToken(ctx, current, s.SessionHandle)
	var rerr *RemoteError
	switch {
	case err == nil:
		n := t.stored(s.Remote, s.User, g, s.SessionHandle)
		if err := t.put(ctx, n, false); err != nil {
			// The remote already dropped the old token: without the new one
			// the user must approve again.
			log.Error("renewed access token could not be stored", zap.Error(err))
			return nil, fmt.Errorf("consumer: storing the renewed token: %w", err)
		}
		log.Info("access token renewed", zap.Time("expires", n.Expires), zap.Time("session_ends", n.SessionEnds))
		return &signer.Token{Token: n.Token, Secret: n.Secret}, nil
	case errors.As(err, &rerr) && rerr.TokenDead():
		// Someone else (another process sharing the store) may have renewed
		// first, which invalidates the token we presented.
		if cur, gerr := t.get(ctx, s.Remote, s.User); gerr == nil && cur.Token != s.Token {
			log.Info("access token renewed elsewhere meanwhile")
			return &signer.Token{Token: cur.Token, Secret: cur.Secret}, nil
		}
		t.forget(ctx, s, "renewal refused: "+rerr.Problem)
		return nil, fmt.Errorf("%w: renewal refused: %w", ErrNoAccessToken, rerr)
	case !expired:
		log.Warn("access token renewal failed; using the current token until it expires", zap.Error(err), zap.Time("expires", s.Expires))
		return current, nil
	}
	log.Warn("access token expired and renewal failed", zap.Error(err))
	return nil, err
}

// forget deletes s unless the store meanwhile holds another token for it.
func (t *Tokens) forget(ctx context.Context, s *Stored, why string) {
	ctx = context.WithoutCancel(ctx)
	if cur, err := t.get(ctx, s.Remote, s.User); err == nil && cur.Token != s.Token {
		return
	}
	if err := t.Store.DeleteRemote(ctx, s.Remote, s.User); err != nil {
		t.logger().Error("cannot delete a dead access token", zap.String("remote", s.Remote), zap.String("user", s.User), zap.Error(err))
		return
	}
	t.logger().Info("access token forgotten", zap.String("remote", s.Remote), zap.String("user", s.User), zap.String("reason", why))
}

// Forget deletes user's access token for remote if it is still token (the
// remote refused it): the user is sent to the dance next time. A token
// renewed meanwhile is kept. It reports whether a record was deleted.
func (t *Tokens) Forget(ctx context.Context, remote, user, token string) bool {
	s, err := t.get(ctx, remote, user)
	if err != nil || s.Token != token {
		return false
	}
	t.forget(ctx, s, "refused by the remote")
	return true
}

// Expire marks user's access token for remote as expired if it is still
// token (the remote answered token_expired), so that the next AccessToken
// renews it while its session lives, or forgets it. It reports whether the
// token can still be renewed.
func (t *Tokens) Expire(ctx context.Context, remote, user, token string) bool {
	s, err := t.get(ctx, remote, user)
	if err != nil || s.Token != token {
		return false
	}
	now := t.now()
	if s.SessionHandle == "" || !s.SessionEnds.IsZero() && !now.Before(s.SessionEnds) {
		t.forget(ctx, s, "expired at the remote, no session to renew")
		return false
	}
	s.Expires = now
	if err := t.put(context.WithoutCancel(ctx), s, false); err != nil {
		t.logger().Error("cannot mark an access token expired", zap.Error(err))
		return false
	}
	return true
}

// Held is a consumer-side token, or a dance in progress, as administrators
// see it: never its value.
type Held struct {
	Remote      string    `json:"remote"`
	User        string    `json:"user"`
	State       string    `json:"state"` // pending (dance not finished), active or expired
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"`
	SessionEnds time.Time `json:"session_ends,omitzero"`
}

// ListHeld returns the tokens and dances in progress s holds for remote
// and user ("" matches any).
func ListHeld(ctx context.Context, s store.RemoteStore, remote, user string, now time.Time) ([]Held, error) {
	recs, err := heldRecords(ctx, s, remote, user)
	if err != nil {
		return nil, err
	}
	out := make([]Held, 0, len(recs))
	for _, r := range recs {
		h := Held{Remote: strings.TrimPrefix(r.Remote, pendingRemote("")), User: r.User, Created: r.Created,
			Expires: r.Expires, SessionEnds: r.SessionEnds, State: "expired"}
		switch {
		case r.Pending && (r.Expires.IsZero() || now.Before(r.Expires)):
			h.State = "pending"
		case r.Pending: // an abandoned dance: its request token has lapsed
		case r.Expires.IsZero() || now.Before(r.Expires) || now.Before(r.SessionEnds):
			h.State = "active" // usable, or renewable through its session
		}
		out = append(out, h)
	}
	return out, nil
}

// ForgetHeld deletes the tokens and dances in progress of remote and user
// ("" matches any) and says how many. The remote still honours a forgotten
// access token until it is revoked there; the user must dance again here.
func ForgetHeld(ctx context.Context, s store.RemoteStore, remote, user string) (int, error) {
	recs, err := heldRecords(ctx, s, remote, user)
	if err != nil {
		return 0, err
	}
	for i, r := range recs {
		if err := s.DeleteRemote(ctx, r.Remote, r.User); err != nil {
			return i, err
		}
	}
	return len(recs), nil
}

func heldRecords(ctx context.Context, s store.RemoteStore, remote, user string) ([]*store.RemoteToken, error) {
	if remote == "" {
		return s.ListRemote(ctx, "", user)
	}
	recs, err := s.ListRemote(ctx, remote, user)
	if err != nil {
		return nil, err
	}
	pending, err := s.ListRemote(ctx, pendingRemote(remote), user)
	return append(recs, pending...), err
}

// SweepHeld deletes what can no longer serve: dances whose request token
// has lapsed, and access tokens that have expired with no session left to
// renew them. It says how many.
func SweepHeld(ctx context.Context, s store.RemoteStore, now time.Time) (int, error) {
	held, err := s.ListRemote(ctx, "", "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range held {
		lapsed := !r.Expires.IsZero() && !now.Before(r.Expires) && (r.Pending || !now.Before(r.SessionEnds))
		if !lapsed {
			continue
		}
		if err := s.DeleteRemote(ctx, r.Remote, r.User); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
