package caddymodule

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-applink/caddy-applink/internal/store"
)

func init() {
	caddy.RegisterModule(new(stateApp))
}

// stateApp is the app the applink modules load for themselves (it takes no
// configuration). Caddy provisions a config both to validate it and to run
// it, and starts its apps only to run it: so a state file another process
// holds (the running instance, while `applink validate` checks the same
// config) is no error when provisioning, and fails the start.
type stateApp struct {
	mu     sync.Mutex
	locked []error
}

// CaddyModule returns the Caddy module information.
func (*stateApp) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "applink", New: func() caddy.Module { return new(stateApp) }}
}

// Start fails if a state file of this config is held by another process.
func (a *stateApp) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return errors.Join(a.locked...)
}

// Stop has nothing to stop: the stores belong to the modules that use them.
func (*stateApp) Stop() error { return nil }

// lockedElsewhere records, in the config ctx provisions, a state file that
// another process holds.
func lockedElsewhere(ctx caddy.Context, err error) error {
	app, aerr := ctx.App("applink")
	if aerr != nil {
		return aerr
	}
	a := app.(*stateApp)
	a.mu.Lock()
	a.locked = append(a.locked, err)
	a.mu.Unlock()
	return nil
}

// lockedState stands in for a state file another process holds, in a
// config that is validated, never started: if a request ever reached it,
// every store call and nonce check fails, and the request is refused with
// 503.
type lockedState struct{ err error }

func (l lockedState) Put(context.Context, *store.Token) error { return l.err }
func (l lockedState) Get(context.Context, string) (*store.Token, error) {
	return nil, l.err
}
func (l lockedState) Update(context.Context, string, func(*store.Token) error) (*store.Token, error) {
	return nil, l.err
}
func (l lockedState) Delete(context.Context, store.Filter) (int, error) { return 0, l.err }
func (l lockedState) List(context.Context, store.Filter) ([]*store.Token, error) {
	return nil, l.err
}
func (l lockedState) Sweep(context.Context, time.Time) (int, error)       { return 0, l.err }
func (l lockedState) PutRemote(context.Context, *store.RemoteToken) error { return l.err }
func (l lockedState) GetRemote(context.Context, string, string) (*store.RemoteToken, error) {
	return nil, l.err
}
func (l lockedState) DeleteRemote(context.Context, string, string) error { return l.err }
func (l lockedState) ListRemote(context.Context, string, string) ([]*store.RemoteToken, error) {
	return nil, l.err
}
func (l lockedState) Seen(context.Context, string, int64) (bool, error) { return false, l.err }
func (l lockedState) Record(context.Context, string, int64, time.Time) (bool, error) {
	return false, l.err
}
func (l lockedState) Since() time.Time { return time.Time{} }

// Interface guards
var (
	_ caddy.App        = (*stateApp)(nil)
	_ store.StateStore = lockedState{}
)
