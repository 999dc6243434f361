#!/usr/bin/env bash
# Install the advice line with its test and lint tools into .venv and run everything:
# linters, type checks and the whole test suite (unit, integration, browser).
# Uses embedded PostgreSQL and Redis unless ADVICE_LINE_TEST_DATABASE_URL and
# ADVICE_LINE_TEST_REDIS_URL name external servers. Extra arguments go to pytest.
source "$(dirname "$0")/_venv.sh" "dev"
if [ ! -x /usr/bin/chromium ]; then
  if [ -n "${CI:-}" ]; then
    echo "CI must run the browser tests, but /usr/bin/chromium is missing (.ci/run installs it)." >&2
    exit 1
  fi
  echo "NOTE: Chromium is not installed, so the browser tests will be SKIPPED." >&2
  echo "      Install it with: sudo apt-get install chromium" >&2
fi
if [ ! -x /usr/bin/turnserver ] && [ -z "${CI:-}" ]; then
  echo "NOTE: coturn is not installed, so the TURN tests will be SKIPPED." >&2
  echo "      Install it with: sudo apt-get install coturn" >&2
fi
echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy" >&2
.venv/bin/mypy
echo "== pytest" >&2
exec .venv/bin/python -m pytest "$@"
