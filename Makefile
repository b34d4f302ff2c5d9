# monami — see README.md. Every target works on a fresh Debian machine with Go;
# what the tests and the demo need from Debian is installed when missing.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 20s
SCENARIO  ?=
export GOFLAGS := -mod=mod
export GOTOOLCHAIN := local

# Debian packages the demo, the namespace tests and the benchmarks use.
DEB_TOOLS := ip:iproute2 tc:iproute2 ping:iputils-ping iperf3:iperf3 ethtool:ethtool nft:nftables iptables:iptables

.PHONY: all build demo test test-unit test-netns race vet fuzz bench bench-tput bench-go deps clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

# deps installs the Debian tools that are missing (needs root; skipped otherwise).
deps:
	@missing=""; for t in $(DEB_TOOLS); do cmd=$${t%%:*}; pkg=$${t#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing:$$missing (run as root to install them; namespace tests will be skipped)"; fi; \
	fi

# demo: a mobile router with two uplinks and a home agent in network
# namespaces, traffic flowing, the paths visible. Needs root; Ctrl-C stops.
demo: deps build
	$(BIN)/monami-demo $(DEMOFLAGS)

# test: vet, unit and in-process end-to-end tests, then (as root) the
# network-namespace tests with real TUN devices.
test: deps vet test-unit test-netns

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags netns ./...

test-unit:
	$(GO) test -shuffle=on -timeout 10m ./...

test-netns: build
	@if [ "$$(id -u)" != 0 ]; then echo "test-netns: not root, namespace tests skipped"; exit 0; fi; \
	$(GO) test -tags netns -count=1 -p 1 -timeout 15m ./...

race:
	CI_RACE=1 $(GO) test -race -shuffle=on -timeout 20m ./...

# fuzz runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

# bench runs the network-namespace benchmark harness (root); SCENARIO=name
# runs one scenario. bench-go runs the Go micro-benchmarks.
bench: deps build
	$(GO) run ./bench/cmd/bench -bin $(BIN) $(if $(SCENARIO),-scenario $(SCENARIO),)

# bench-tput: single-uplink TCP throughput of monami vs wireguard-go vs no
# tunnel, interleaved in one run (root). REPS and DUR tune it.
REPS ?= 3
DUR  ?= 5s
bench-tput: deps build
	$(GO) run ./bench/cmd/tput -bin $(BIN) -reps $(REPS) -dur $(DUR)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN)
