package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI adds token administration to Caddy's admin endpoint:
//
//	GET  /applink/tokens[?user=&consumer=&kind=access|request]   list
//	POST /applink/tokens/revoke  {"token"|"id"|"user"|"consumer": ...}
//	GET  /applink/remote-tokens[?remote=&user=]                  list
//	POST /applink/remote-tokens/forget  {"remote"|"user": ...}
//
// It sees every token store the running config uses. /applink/tokens are
// the tokens this proxy issued as a service provider; their values are
// never listed (they are not stored); "id" is their SHA-256.
// /applink/remote-tokens are the tokens it holds as a consumer of remote
// apps (the transport's 3LO); their values are never shown either.
// Forgetting one makes the user run the dance again; the remote still
// honours the token until its own admin or user revokes it there.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.applink",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/applink/tokens", Handler: getOnly(a.list)},
		{Pattern: "/applink/tokens/revoke", Handler: caddy.AdminHandlerFunc(a.revoke)},
		{Pattern: "/applink/remote-tokens", Handler: getOnly(a.listRemote)},
		{Pattern: "/applink/remote-tokens/forget", Handler: caddy.AdminHandlerFunc(a.forgetRemote)},
		{Pattern: "/applink/ready", Handler: caddy.AdminHandlerFunc(a.ready)},
	}
}

// tokenInfo is a token as the admin API shows it.
type tokenInfo struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Consumer    string    `json:"consumer"`
	User        string    `json:"user,omitempty"`
	State       string    `json:"state,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	SessionEnds time.Time `json:"session_ends,omitzero"`
	LastUsed    time.Time `json:"last_used,omitzero"`
	Store       string    `json:"store"`
}

// revokeRequest selects tokens to revoke; at least one field is required.
type revokeRequest struct {
	Token    string `json:"token,omitempty"` // the token value as the consumer holds it
	ID       string `json:"id,omitempty"`
	User     string `json:"user,omitempty"`
	Consumer string `json:"consumer,omitempty"`
}

func (a *AdminAPI) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.Filter{User: q.Get("user"), Consumer: q.Get("consumer"), Kind: store.Kind(q.Get("kind")), ID: q.Get("id")}
	out := []tokenInfo{}
	err := overStores(func(name string, s store.StateStore) error {
		list, err := s.List(r.Context(), f)
		for _, t := range list {
			out = append(out, tokenInfo{ID: t.ID, Kind: string(t.Kind), Consumer: t.Consumer, User: t.User,
				State: string(t.State), Created: t.Created, Expires: t.Expires, SessionEnds: t.SessionEnds,
				LastUsed: t.LastUsed, Store: name})
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return writeJSON(w, out)
}

// decodePost reads the JSON body of a POST (or DELETE) admin request into v.
func decodePost(w http.ResponseWriter, r *http.Request, v any) error {
	if r.Method != http.MethodPost && r.Method != http.MethodDelete {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("use POST")}
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(v); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("decoding request: %w", err)}
	}
	return nil
}

// getOnly is the admin handler h for GET requests; it refuses the others.
func getOnly(h caddy.AdminHandlerFunc) caddy.AdminHandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("use GET")}
		}
		return h(w, r)
	}
}

// overStores runs f on every store in use, with its name, and stops at the
// first that fails: the admin API's 503, naming the store.
func overStores(f func(name string, s store.StateStore) error) error {
	for name, s := range storesInUse() {
		if err := f(name, s); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("%s: %w", name, err)}
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func (a *AdminAPI) revoke(w http.ResponseWriter, r *http.Request) error {
	var req revokeRequest
	if err := decodePost(w, r, &req); err != nil {
		return err
	}
	f := store.Filter{ID: req.ID, User: req.User, Consumer: req.Consumer}
	if req.Token != "" {
		if req.ID != "" && req.ID != store.TokenID(req.Token) {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("token and id name different tokens")}
		}
		f.ID = store.TokenID(req.Token)
	}
	if f == (store.Filter{}) {
		// Never "revoke everything" by an empty request.
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("name a token, id, user or consumer")}
	}
	total := 0
	err := overStores(func(_ string, s store.StateStore) error {
		n, err := s.Delete(r.Context(), f)
		total += n
		return err
	})
	if err != nil {
		return err
	}
	caddy.Log().Named("applink.admin").Info("tokens revoked")
	return writeJSON(w, map[string]int{"revoked": total})
}

// remoteTokenInfo is a consumer-side token as the admin API shows it.
type remoteTokenInfo struct {
	consumer.Held
	Store string `json:"store"`
}

// forgetRequest selects consumer-side tokens to forget; at least one field
// is required.
type forgetRequest struct {
	Remote string `json:"remote,omitempty"`
	User   string `json:"user,omitempty"`
}

func (a *AdminAPI) listRemote(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	out := []remoteTokenInfo{}
	err := overStores(func(name string, s store.StateStore) error {
		list, err := consumer.ListHeld(r.Context(), s, q.Get("remote"), q.Get("user"), time.Now())
		for _, h := range list {
			out = append(out, remoteTokenInfo{Held: h, Store: name})
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return writeJSON(w, out)
}

func (a *AdminAPI) forgetRemote(w http.ResponseWriter, r *http.Request) error {
	var req forgetRequest
	if err := decodePost(w, r, &req); err != nil {
		return err
	}
	if req == (forgetRequest{}) {
		// Never "forget everything" by an empty request.
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("name a remote, a user or both")}
	}
	total := 0
	err := overStores(func(_ string, s store.StateStore) error {
		n, err := consumer.ForgetHeld(r.Context(), s, req.Remote, req.User)
		total += n
		return err
	})
	if err != nil {
		return err
	}
	caddy.Log().Named("applink.admin").Info("remote tokens forgotten", zap.Int("count", total))
	return writeJSON(w, map[string]int{"forgotten": total})
}

// pinger is what a store offers to tell whether it is usable.
type pinger interface {
	Ping(ctx context.Context) error
}

// ready answers 200 when every store in use answers, 503 otherwise: a
// load balancer's readiness probe.
func (a *AdminAPI) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := map[string]string{}
	ok := true
	for name, s := range storesInUse() {
		status[name] = "ok"
		if p, isPinger := s.(pinger); isPinger {
			if err := p.Ping(ctx); err != nil {
				status[name], ok = err.Error(), false
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	return json.NewEncoder(w).Encode(map[string]any{"ready": ok, "stores": status})
}

// Interface guard
var _ caddy.AdminRouter = (*AdminAPI)(nil)
