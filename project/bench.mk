# `make bench`: the four transports compared, through the broker and straight to the logger.
# Included by the Makefile; see project/labrun/bench.py. Results go to project/bench-results/.
N ?= 2000
CONCURRENCY ?= 8
BROKER_URL ?= http://127.0.0.1:8080

.PHONY: bench

bench: venv ## Benchmark the transports (N=2000 CONCURRENCY=8 BROKER_URL=...); starts the lab if none answers
	cd $(ROOT)/project && PYTHONPATH=$(ROOT)/project $(PY) -m labrun.bench \
		--n $(N) --concurrency $(CONCURRENCY) --broker-url $(BROKER_URL)
