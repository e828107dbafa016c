# Production-stack targets. Include from the Makefile, after BIN and `install` are defined:
#   include deploy/make/stack.mk
#
#   make serve          Gunicorn + Uvicorn workers alone on http://127.0.0.1:$(PORT) (8000)
#   make stack          NGINX on http://127.0.0.1:$(PORT) (8080) in front of Gunicorn (unix socket)
#   make stack PORT=9000 WORKERS=4
#   FASTBOARD_NGINX_TLS_CERT=… FASTBOARD_NGINX_TLS_KEY=… make stack TLS_PORT=8443
#
# Both migrate the database once before any worker starts. `serve` is `fastboard serve`,
# as on a server; `stack` is development tooling (dev/stack.py), run from the checkout.

WORKERS ?=
# The project's virtualenv: $(BIN) from the Makefile, else .venv/bin when used standalone
# (make -f deploy/make/stack.mk …). Not $(PYTHON): that names the interpreter to create
# the virtualenv with, which has none of the dependencies.
STACK_BIN ?= $(if $(BIN),$(BIN),.venv/bin)

.PHONY: serve stack

serve: $(if $(BIN),install)
	$(STACK_BIN)/python -m fastboard serve --bind 127.0.0.1:$(or $(PORT),8000) $(if $(WORKERS),--workers $(WORKERS))

stack: $(if $(BIN),install)
	$(STACK_BIN)/python -m dev.stack --port $(or $(PORT),8080) $(if $(WORKERS),--workers $(WORKERS)) $(if $(TLS_PORT),--tls-port $(TLS_PORT))
