# `make bench`: the four transports compared, through the broker and straight to the logger, then the
# broker's mail and auth actions. Included by the Makefile; see project/labrun/bench.py. Results go to
# project/bench-results/. C=1 is the single-client mode: one request at a time, each latency its own.
N ?= 2000
C ?= 8
CONCURRENCY ?= $(C)
# Logins: each is a bcrypt hash at the authentication service's cost; empty means N, at most 200.
AUTH_N ?=
BROKER_URL ?= http://127.0.0.1:8080
# Where the run's mails are counted: the SMTP catcher's API (MailHog's; the native catcher answers it too).
MAIL_CATCHER_URL ?= http://127.0.0.1:8025

.PHONY: bench

bench: venv ## Benchmark every path (N=2000 C=8 AUTH_N= BROKER_URL= MAIL_CATCHER_URL=); starts the lab if none answers
	cd $(ROOT)/project && PYTHONPATH=$(ROOT)/project $(PY) -m labrun.bench \
		--n $(N) --concurrency $(CONCURRENCY) $(if $(AUTH_N),--auth-n $(AUTH_N)) \
		--broker-url $(BROKER_URL) --mail-catcher-url $(MAIL_CATCHER_URL)
