# The commands of the README: `make serve`, `make demo` and `make test`. Each works from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# OASIS CSDL schemas for the $metadata validation test; fetched, never committed.
XSD_DIR := .cache/xsd

.PHONY: serve demo test fuzz lint bench xsd clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/bc-gateway serve --demo

# The whole loop on loopback: Sales simulator -> gateway in api mode -> BC simulator (tests/support/demo.py).
demo: $(STAMP)
	$(BIN)/python -m tests.support.demo $(DEMO_ARGS)

# The suite waits on servers more than it computes: more workers than cores still pays.
PYTEST_WORKERS ?= 4

test: $(STAMP) xsd
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The property/fuzz tests in their long mode (docs/RELIABILITY.md): 100,000 examples each.
fuzz: $(STAMP)
	BCGW_FUZZ_EXAMPLES=$${BCGW_FUZZ_EXAMPLES:-100000} $(BIN)/python -m pytest -m fuzz --timeout=0 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Issue 13's cases against a same-run bare aiohttp baseline; writes docs/BENCHMARKS.md (bench/README.md).
# PostgreSQL rows need a scratch database: BCGW_BENCH_POSTGRES_URL=postgresql+asyncpg://... make bench
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Best effort: without npm or a registry the XSD test is skipped and says why.
xsd:
	@test -f $(XSD_DIR)/edmx.xsd || ( mkdir -p $(XSD_DIR) && cd $(XSD_DIR) \
	  && npm pack --silent odata-csdl@0.11.2 >/dev/null 2>&1 \
	  && tar xzf odata-csdl-0.11.2.tgz --strip-components=2 package/schemas/edm.xsd package/schemas/edmx.xsd \
	  && rm -f odata-csdl-0.11.2.tgz ) || echo "note: could not fetch the OASIS CSDL XSDs; the \$$metadata XSD test will be skipped"

clean:
	rm -rf $(VENV) .cache .pytest_cache bcgw.db bcgw.db-wal bcgw.db-shm bcgw.db.key
