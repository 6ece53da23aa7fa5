# Solstice CI — GitHub integration. `make run` brings up the local stack and shows a webhook become a job;
# `make test` installs, starts, tests and stops everything it needs. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
STACK := scripts/stack.sh

.PHONY: deps build run stop test lint format bench profile fuzz clean

deps:
	@$(STACK) deps

build: deps
	swift build -c release --product solstice-fcgi
	swift build -c release --product solstice-results

## run: build, start RabbitMQ + solstice-fcgi + nginx (HTTP_ADDR, default 127.0.0.1:8082) + S3 (moto) + solstice-results
## (against the GitHub stand-in unless GITHUB_APP_ID is exported), send a signed sample push and its JobResult
run: build
	@$(STACK) up run
	@. .solstice/run/stack.env && python3 scripts/demo.py

## stop: stop what `make run` started
stop:
	@$(STACK) down run

## test: unit tests, format lint, then the integration suite against a real nginx and RabbitMQ (own ports)
test: build
	swift build --build-tests
	swift test --skip-build
	$(MAKE) --no-print-directory lint
	@trap '$(STACK) down test' EXIT; \
	  $(STACK) down test >/dev/null 2>&1 || true; \
	  $(STACK) up test; \
	  . .solstice/test/stack.env; \
	  python3 -m pytest -q -p no:cacheprovider tests/integration tests/github_standin

lint:
	swift format lint --strict -r Sources Tests Package.swift
	python3 scripts/check-imports.py

format:
	swift format format -i -r Sources Tests Package.swift

## bench: the broker's ceiling for JobPublisher alone (publish-bench: 64 publishers, the responder's JobRequests, no
## HTTP), then wrk through nginx at concurrency 16 and 64 beside nginx's own static 202, with the ratios to both
## ceilings and peak RSS; the same ceiling and webhook cases against a local 3-node quorum cluster, next to the single
## node; the broker-down spool; the GitHub App against the stand-in; solstice-results; KDL parse throughput against
## ckdl on the same bytes, and workflow parses at the SPEC §5 limits (a 1 MB workflow, a 256-job workflow); payload
## decoding, EventMapper with JSONDecoder, with JSONTapeDecoder and straight from the tape (json-bench); the responder's
## own CPU per webhook, WebhookResponder.respond without HTTP or broker, on 1 and 2 threads (request-bench)
bench: build
	swift build -c release --product publish-bench
	@bash bench/run.sh
	@bash scripts/bench-kdl.sh --iterations 5
	swift build -c release --product json-bench
	.build/release/json-bench
	swift build -c release --product request-bench
	.build/release/request-bench
	.build/release/request-bench --threads 2 -n 2000

## profile: where solstice-fcgi's CPU goes on the webhook path (perf record during wrk at c=64 against the bench
## stack): the share and CPU microseconds per webhook of each stage
profile: build
	@bash bench/profile.sh $${PROFILE_SECONDS:-10} $${PROFILE_CONNECTIONS:-64}

## fuzz: libFuzzer on the KDL parser, the request path and the JSON reader, FUZZ_SECONDS each (default 60); crash
## inputs land in .build-fuzz/
fuzz:
	@bash scripts/fuzz-kdl.sh $${FUZZ_SECONDS:-60}
	@bash scripts/fuzz-request.sh $${FUZZ_SECONDS:-60}
	@bash scripts/fuzz-json.sh $${FUZZ_SECONDS:-60}

clean:
	rm -rf .build .solstice
	@# the stack's runtime directories (sockets, web-server files), one per profile of this checkout
	for p in run test bench; do rm -rf /tmp/solstice-$$p-$$(pwd -P | sha256sum | cut -c1-12); done
