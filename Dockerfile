# syntax=docker/dockerfile:1
# Multi-stage build of the applink binary (Caddy + caddy-applink modules).
#
#   docker build -t caddy-applink .
#   docker run -p 8080:8080 -v applink-state:/var/lib/applink \
#     -v $PWD/Caddyfile:/etc/applink/Caddyfile:ro caddy-applink

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/applink ./cmd/applink

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/applink --shell /usr/sbin/nologin applink \
 && mkdir -p /var/lib/applink /etc/applink \
 && chown applink:applink /var/lib/applink
COPY --from=build /out/applink /usr/bin/applink
# The demo config and keys, so the image runs as is; mount your own Caddyfile
# over /etc/applink/Caddyfile in production.
COPY Caddyfile.example /etc/applink/Caddyfile
COPY examples/keys /etc/applink/examples/keys
# Caddy keeps its state (certificates, autosaved config, and applink's
# stores) under XDG_DATA_HOME / XDG_CONFIG_HOME: one volume for all of it.
ENV XDG_DATA_HOME=/var/lib/applink/data \
    XDG_CONFIG_HOME=/var/lib/applink/config
VOLUME /var/lib/applink
USER applink
WORKDIR /etc/applink
EXPOSE 8080 443
ENTRYPOINT ["/usr/bin/applink"]
CMD ["run", "--config", "/etc/applink/Caddyfile", "--adapter", "caddyfile"]
