#!/usr/bin/env bash
# A local cluster on loopback, as in production but without containers: two `advice-line
# serve` nodes sharing one PostgreSQL and one Redis (embedded ones in a temporary directory,
# or --database-url/--redis-url), behind HAProxy running deploy/haproxy.cfg with a self-signed
# certificate. Seeds the demo data, prints the URL (the last line on standard output) and the
# logins, and stops everything on Ctrl-C or SIGTERM. Needs HAProxy: apt-get install haproxy.
# Options: --port N (the HTTPS port), --dir PATH (work directory: logs, stores).
source "$(dirname "$0")/_venv.sh" "test"
exec .venv/bin/python -m tests.cluster_helpers "$@"
