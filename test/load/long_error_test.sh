#!/usr/bin/env bash
# Long error texts reach a client in another encoding intact.  Errors that
# travel from a background worker to the waiting backend go through
# fixed-size buffers (the run's failure detail, the start error); a text cut
# there in the middle of a UTF-8 character would be invalid, and a LATIN1
# client would get an encoding error instead of the error.  Texts are cut on
# character boundaries: a task raising 5,000 'é' (representable in LATIN1)
# and a resume naming a 2,000-'é' task give LATIN1 clients proper errors.
set -euo pipefail
db=long_error_test
dir=$(mktemp -d /tmp/pgetl_long_error.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db ENCODING 'UTF8' TEMPLATE template0"
PGCLIENTENCODING=UTF8 psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION pgetl;
SELECT pgetl_create_pipeline('long_error');
SELECT pgetl_add_task('long_error', 'boom',
    $t$DO $d$BEGIN RAISE EXCEPTION '%', repeat('é', 5000); END$d$$t$);
SQL

# check FILE WHAT: FILE holds a LATIN1 client's psql output; it must have an
# ERROR line, no encoding complaint, and every line must be valid LATIN1
# text whose 'é' runs are whole (no stray bytes where a character was cut).
check() {
    python3 - "$1" "$2" <<'PY'
import sys
raw = open(sys.argv[1], 'rb').read()
what = sys.argv[2]
text = raw.decode('latin-1')
print(text[:300].replace('\n', ' | '), '...')
for bad in ('invalid byte sequence', 'has no equivalent', 'could not convert', 'encoding'):
    if bad in text:
        sys.exit('FAIL (%s): the client got an encoding error: %s' % (what, bad))
if 'ERROR:' not in text:
    sys.exit('FAIL (%s): no ERROR line' % what)
# in LATIN1, é is the single byte 0xE9; a UTF-8 é cut in two would have
# shown up as a conversion error above, and anything else but é, ASCII and
# newlines means a garbled text
for b in raw:
    if b >= 0x80 and b != 0xE9:
        sys.exit('FAIL (%s): unexpected byte 0x%02X in the LATIN1 output' % (what, b))
print('ok (%s): %d x é, %d bytes' % (what, raw.count(b'\xe9'), len(raw)))
PY
}

# 1. A failed run: pgetl_run raises with the task's error in DETAIL, which
#    is carried from the coordinator in a 2,048-byte buffer.
PGCLIENTENCODING=LATIN1 psql -X -d "$db" -c "SELECT pgetl_run('long_error')" > "$dir/run.out" 2>&1 && {
    echo "FAIL: the run did not fail"; exit 1; }
check "$dir/run.out" "failed run"
grep -q 'ERROR:  run [0-9]* failed (failed tasks: boom)' "$dir/run.out" || { echo "FAIL: message"; exit 1; }
grep -aq '^DETAIL:  Task "boom" (try 1) failed: ' "$dir/run.out" || { echo "FAIL: detail"; exit 1; }
# the whole error is kept in the run history
[ "$(psql -X -At -d "$db" -c "SELECT max(length(error)) >= 5000 FROM pgetl.task_run")" = t ] || {
    echo "FAIL: task_run.error is not whole"; exit 1; }

# 2. A resume that fails as it starts: the coordinator's error (1,024 bytes
#    per field) names the unknown task.
run_id=$(psql -X -At -d "$db" -c "SELECT max(run_id) FROM pgetl.pipeline_run")
PGCLIENTENCODING=LATIN1 psql -X -d "$db" \
    -c "SELECT pgetl_resume($run_id, rerun => ARRAY[repeat(chr(233), 2000)])" > "$dir/resume.out" 2>&1 && {
    echo "FAIL: the resume did not fail"; exit 1; }
check "$dir/resume.out" "failed resume"
# (the message names the task first, so the cut falls inside its name)
grep -aq '^ERROR:  task "' "$dir/resume.out" || { echo "FAIL: resume message"; exit 1; }
echo "ok"
