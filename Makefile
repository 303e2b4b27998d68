# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Pinned tool versions, installed into ./.venv (never system-wide).
MOTO_VERSION := 5.2.5
CFN_LINT_VERSION := 1.58.0
CARGO_LAMBDA_VERSION := 1.9.2
# The loopback SMTP sink of the send_email tests (tests/it/support/smtp_sink.py).
AIOSMTPD_VERSION := 1.4.6
# Checks GET /openapi.json against the OpenAPI specification (tests/it/openapi.rs).
OPENAPI_SPEC_VALIDATOR_VERSION := 0.9.0
# Validates examples/ against schemas/workflow.schema.json, independently of the Rust side
# (tests/it/workflow_schema.rs).
JSONSCHEMA_VERSION := 4.26.0

.PHONY: run test build lint fmt clippy venv invoke bench fuzz clean screenshots

## Build and start the service locally on the embedded store (./.data), with a demo workflow.
run:
	cargo build --bin webhook-trigger
	./target/debug/webhook-trigger serve --addr 127.0.0.1:3000 --store .data/webhook-trigger.db --demo

## Install test tools, start moto on loopback, run every test, stop moto.
test: venv
	./scripts/test.sh

build:
	cargo build --release

## Retake the console screenshots in docs/ (headless chromium, the browser test's own pages).
screenshots:
	WEBHOOK_CONSOLE_SCREENSHOTS=$(CURDIR)/docs cargo test --test it console_browser

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --all-targets -- -D warnings

lint: fmt clippy venv
	$(VENV)/bin/cfn-lint template.yaml

venv: $(VENV)/.installed-$(MOTO_VERSION)-$(CFN_LINT_VERSION)-$(CARGO_LAMBDA_VERSION)-$(AIOSMTPD_VERSION)-$(OPENAPI_SPEC_VALIDATOR_VERSION)-$(JSONSCHEMA_VERSION)

$(VENV)/.installed-$(MOTO_VERSION)-$(CFN_LINT_VERSION)-$(CARGO_LAMBDA_VERSION)-$(AIOSMTPD_VERSION)-$(OPENAPI_SPEC_VALIDATOR_VERSION)-$(JSONSCHEMA_VERSION):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
		"moto[server]==$(MOTO_VERSION)" "cfn-lint==$(CFN_LINT_VERSION)" "cargo-lambda==$(CARGO_LAMBDA_VERSION)" \
		"aiosmtpd==$(AIOSMTPD_VERSION)" "openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)" \
		"jsonschema==$(JSONSCHEMA_VERSION)"
	touch $@

## Run one events/ file through a function under cargo-lambda's emulator: make invoke EVENT=events/x.json
invoke: venv
	./scripts/invoke.sh $(EVENT)

## Every benchmark of BENCHMARKS.md (long: the arm64 size builds alone take about two hours).
bench: venv
	./scripts/bench.sh

## Fuzz every target for FUZZ_SECONDS each (default 60). Needs a nightly toolchain
## (`rustup toolchain install nightly`) and cargo-fuzz (`cargo install cargo-fuzz`); `make test`
## does not: it replays fuzz/corpus/ on stable. New inputs go to fuzz/.work/<target>/ (not
## checked in); copy a finding into fuzz/corpus/<target>/ once it is fixed.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := webhook_request sns_parse template_render workflow_file
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "needs cargo-fuzz: cargo install cargo-fuzz (and a nightly toolchain)" >&2; exit 1; }
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/.work/$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		cargo +nightly fuzz run $$t fuzz/.work/$$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

clean:
	cargo clean
	rm -rf $(VENV) .data
