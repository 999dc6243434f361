#!/usr/bin/env bash
# Install the advice line into .venv and run it with demo data.
# No PostgreSQL or Redis needed: embedded ones start in ./var (ADVICE_LINE_DATA_DIR) and keep
# their data between runs. Extra arguments go to `advice-line serve` (e.g. --port 9000).
source "$(dirname "$0")/_venv.sh" ""
export ADVICE_LINE_DATA_DIR="${ADVICE_LINE_DATA_DIR:-$ROOT/var}"
exec .venv/bin/advice-line serve --demo "$@"
