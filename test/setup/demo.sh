#!/usr/bin/env bash
# The main job on a throwaway cluster: defines the example pipeline
# (test/setup/demo.sql), runs it, and shows its history.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PGETL_SHARED=${PGETL_SHARED:-$(cd .. && pwd)/shared}
exec test/setup/cluster.sh bash -c '
    set -euo pipefail
    psql -X -q -c "CREATE DATABASE pgetl_demo"
    psql -X -v ON_ERROR_STOP=1 -v shared="$PGETL_SHARED" -d pgetl_demo -f test/setup/demo.sql
'
