# Load and soak harness (cmd/applink-load); not part of `go test ./...`.
#   make bench                         ratios and latencies, 20 s per phase
#   make bench BENCH_DURATION=60s BENCH_FLAGS=-strict
#   make soak  SOAK_DURATION=5m        RSS of the proxy at full rate
BENCH_DURATION ?= 20s
SOAK_DURATION  ?= 5m
BENCH_FLAGS    ?=
SOAK_FLAGS     ?=

.PHONY: bench soak

bench:
	go run ./cmd/applink-load -mode bench -duration $(BENCH_DURATION) $(BENCH_FLAGS)

soak:
	go run ./cmd/applink-load -mode soak -soak-duration $(SOAK_DURATION) $(SOAK_FLAGS)
