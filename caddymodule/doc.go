// Package caddymodule is caddy-applink's one Caddy-facing package: importing
// it (xcaddy build --with github.com/caddy-applink/caddy-applink/caddymodule)
// registers every module, Caddyfile directive and subcommand:
//
//   - http.handlers.applink (directive applink): verifies incoming
//     application-link requests and hands the one user upstream; also the
//     3-legged OAuth provider endpoints;
//   - http.reverse_proxy.transport.applink (transport applink inside
//     reverse_proxy): signs outgoing requests as an application-link
//     consumer;
//   - http.handlers.applink_dance (directive applink_dance): the
//     consumer-side 3-legged dance for local users;
//   - http.handlers.applink_publish (directive applink_publish): serves our
//     consumer-info and applinks manifest;
//   - http.matchers.applink_verified (matcher applink_verified): requests
//     the applink handler verified, so that `not applink_verified` sends
//     only the others to an SSO handler such as forward_auth;
//   - admin.api.applink: token administration on Caddy's admin endpoint;
//   - applink, an app the others load: a state file another process holds
//     fails the start, not a validation (validate-then-reload);
//   - the subcommands keygen, sign, check, dance, tokens, remote-tokens and
//     health.
//
// The protocol and everything else that needs no Caddy type lives under
// internal/. docs/configuration.md lists every subdirective.
package caddymodule
