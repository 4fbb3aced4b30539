# syntax=docker/dockerfile:1
# Multi-stage build of the applink binary (Caddy + caddy-applink modules).
#
#   docker build -t caddy-applink .
#   docker run -p 8080:8080 -v applink-state:/var/lib/applink \
#     -v $PWD/Caddyfile:/etc/applink/Caddyfile:ro caddy-applink
#
# Pin the base images by digest for a reproducible build: pass them as
# build arguments (docs/deployment.md#docker says how to find the digests):
#
#   docker build -t caddy-applink \
#     --build-arg GO_IMAGE=golang:1.26-bookworm@sha256:<digest> \
#     --build-arg RUNTIME_IMAGE=debian:bookworm-slim@sha256:<digest> .
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# The context holds the sources only (.dockerignore): no key, no test data.
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/applink ./cmd/applink

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/applink --shell /usr/sbin/nologin applink \
 && mkdir -p /var/lib/applink /etc/applink \
 && chown applink:applink /var/lib/applink
COPY --from=build /out/applink /usr/bin/applink
# The demo config, so that the image runs as is, and the one file it reads:
# the demo consumer's PUBLIC key. No private key is in the image. In
# production, mount your own Caddyfile over /etc/applink/Caddyfile and your
# keys beside it.
COPY Caddyfile.example /etc/applink/Caddyfile
COPY examples/keys/demo-consumer.pub.pem /etc/applink/examples/keys/demo-consumer.pub.pem
# Caddy keeps its state (certificates, autosaved config, and applink's
# stores) under XDG_DATA_HOME / XDG_CONFIG_HOME: one volume for all of it.
ENV XDG_DATA_HOME=/var/lib/applink/data \
    XDG_CONFIG_HOME=/var/lib/applink/config
VOLUME /var/lib/applink
USER applink
WORKDIR /etc/applink
# 80: ACME's HTTP challenge and the redirect to HTTPS; 443: HTTPS; 8080: the
# demo config's proxy.
EXPOSE 80 443 8080
# Ready when the admin endpoint (localhost:2019, or $CADDY_ADMIN) says every
# state store answers.
HEALTHCHECK --interval=30s --timeout=10s --start-period=15s --retries=3 \
  CMD ["/usr/bin/applink", "health"]
ENTRYPOINT ["/usr/bin/applink"]
CMD ["run", "--config", "/etc/applink/Caddyfile", "--adapter", "caddyfile"]
