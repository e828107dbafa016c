# Included by the top-level Makefile. Needs wrk, nginx and a local PostgreSQL
# (127.0.0.1:5432, user postgres); see bench/README.md. Not part of `make test`.

.PHONY: bench bench-web bench-live

## bench: seed PostgreSQL through the API, then load five targets with wrk and compare
bench: install
	$(BIN)/python -m bench.run

## bench-web: the home page's time to its first article list in Chromium, through NGINX
bench-web: install
	$(BIN)/python -m bench.web

## bench-live: 1,000 WebSocket clients through NGINX, a writer; latency, delivery, memory
bench-live: install
	$(BIN)/python -m bench.live
