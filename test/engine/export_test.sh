#!/usr/bin/env bash
# Export files appear under their final name only after the commit that
# records the task's success, and no temporary file outlives its export:
#   - a transaction that fails at COMMIT (a deferred constraint trigger)
#     leaves neither the file nor its temporary file;
#   - pgetl_cancel during the COPY removes the temporary file;
#   - kill -9 of the task worker: the recovery worker removes the temporary
#     file when the server is back;
#   - the next run of an export removes what dead exports left in its
#     directory, and leaves the files of live processes alone;
#   - a rename that fails after the commit is recorded on the task run.
source "$(dirname "$0")/lib.sh"
setup_db
dir=$(mktemp -d /tmp/pgetl-export.XXXXXX)
chmod 1777 "$dir"
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
tmps() { find "$dir" -maxdepth 1 -name '.*.pgetl-*.tmp' -printf '%f\n' | sort | tr '\n' ' '; }
wait_no_tmp() {
    local i
    for ((i = 0; i < ${1:-300}; i++)); do [ -z "$(tmps)" ] && return 0; sleep 0.1; done
    return 1
}
wait_tmp() {
    local i
    for ((i = 0; i < 300; i++)); do [ -n "$(tmps)" ] && return 0; sleep 0.1; done
    return 1
}

# 1. the task's transaction fails at COMMIT, after the COPY and the success
q "CREATE TABLE guard (x int)"
q "CREATE FUNCTION guard_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN RAISE EXCEPTION 'guard says no at commit' USING ERRCODE = 'check_violation'; END \$\$"
q "CREATE CONSTRAINT TRIGGER guard_deferred AFTER INSERT ON guard DEFERRABLE INITIALLY DEFERRED
   FOR EACH ROW EXECUTE FUNCTION guard_fail()"
q "CREATE FUNCTION touch_guard() RETURNS boolean LANGUAGE sql AS 'INSERT INTO guard VALUES (1) RETURNING true'"
qq "SELECT pgetl_create_pipeline('exp_commit')"
qq "SELECT pgetl_add_task('exp_commit', 'out', 'SELECT g FROM generate_series(1, 3) g WHERE touch_guard()',
     kind => 'export', config => '{\"path\": \"$dir/commit.csv\"}')"
q "SELECT pgetl_run('exp_commit')" >/dev/null 2>&1 && fail "the run should fail at commit"
[ "$(q "SELECT state || ':' || sqlstate || ':' || error FROM pgetl.task_run WHERE pipeline = 'exp_commit'")" \
    = "failed:23514:guard says no at commit" ] || fail "task: $(q "SELECT * FROM pgetl.task_run WHERE pipeline = 'exp_commit'")"
[ ! -e "$dir/commit.csv" ] || fail "the export failed at COMMIT but $dir/commit.csv exists: $(cat "$dir/commit.csv")"
[ -z "$(tmps)" ] || fail "temporary files left: $(tmps)"
ok "a task failing at COMMIT (deferred trigger) leaves no file, and no temporary file"

# a slow export: it waits inside the COPY until told to go on
q "CREATE TABLE go (ok boolean); INSERT INTO go VALUES (false)"
q "CREATE FUNCTION wait_go() RETURNS boolean LANGUAGE plpgsql AS \$\$
   BEGIN
     -- until go.ok, or until the final path has become a directory (test 5)
     WHILE NOT (SELECT ok FROM go) AND NOT coalesce((pg_stat_file(pgetl_param('final'), true)).isdir, false) LOOP
       PERFORM pg_sleep(0.05);
     END LOOP;
     RETURN true;
   END \$\$"
qq "SELECT pgetl_create_pipeline('exp_slow', params => '{\"final\": \"$dir/slow.csv\"}')"
qq "SELECT pgetl_add_task('exp_slow', 'out', 'SELECT g FROM generate_series(1, 3) g WHERE wait_go()',
     kind => 'export', config => '{\"path\": \"$dir/slow.csv\"}')"

# 2. cancelled during the COPY
run=$(q "SELECT pgetl_run('exp_slow', wait => false)")
wait_tmp || fail "no temporary file appeared"
[ "$(q "SELECT pgetl_cancel($run)")" = t ] || fail "cancel"
wait_no_tmp || fail "cancel left temporary files: $(tmps)"
[ ! -e "$dir/slow.csv" ] || fail "a cancelled export left $dir/slow.csv"
ok "a cancelled export removes its temporary file"

# 3. kill -9 of the task worker during the COPY: the server restarts, and the
# recovery worker removes the temporary file
run=$(q "SELECT pgetl_run('exp_slow', wait => false)")
wait_tmp || fail "no temporary file appeared (2)"
wait_for "SELECT EXISTS (SELECT FROM pgetl.task_run WHERE run_id = $run AND state = 'running')" || fail "not running"
pid=$(q "SELECT pid FROM pgetl.task_run WHERE run_id = $run AND state = 'running'")
left=$(tmps)
case "$left" in *".pgetl-$pid.tmp "*) ;; *) fail "temporary file of $pid: $left" ;; esac
kill -9 "$pid"
wait_for "SELECT true" 60 || fail "server did not come back"
wait_for "SELECT state = 'failed' FROM pgetl.pipeline_run WHERE run_id = $run" 60 || fail "run $run not recovered"
wait_no_tmp 300 || fail "after the crash, temporary files remain: $(tmps)"
[ ! -e "$dir/slow.csv" ] || fail "a killed export left $dir/slow.csv"
ok "kill -9 of the task worker: the recovery worker removed its temporary file ($left)"

# 4. the next run of an export removes the temporary files of dead exports
# in its directory, not those of live processes
launcher=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgetl launcher'")
[ -n "$launcher" ] || fail "no launcher"
q "COPY (SELECT 1) TO '$dir/.old.csv.pgetl-4194300.tmp'"
q "COPY (SELECT 1) TO '$dir/.live.csv.pgetl-$launcher.tmp'"
q "UPDATE go SET ok = true"
qq "SELECT pgetl_run('exp_slow')"
[ "$(tmps)" = ".live.csv.pgetl-$launcher.tmp " ] || fail "after the next run: $(tmps)"
[ "$(cat "$dir/slow.csv" | tr '\n' ' ')" = "g 1 2 3 " ] || fail "slow.csv: $(cat "$dir/slow.csv")"
ok "the next run removed a dead export's temporary file, kept a live process's, and wrote slow.csv"
rm -f "$dir/slow.csv"; q "COPY (SELECT 1) TO PROGRAM 'rm -f $dir/.live.csv.pgetl-$launcher.tmp'"

# 5. the rename fails after the commit (the final path became a directory
# while the COPY ran): the task succeeded, the failure is recorded
q "UPDATE go SET ok = false"
run=$(q "SELECT pgetl_run('exp_slow', wait => false)")
wait_tmp || fail "no temporary file appeared (3)"
mkdir "$dir/slow.csv"
wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $run" 30 \
    || fail "run $run: $(q "SELECT * FROM pgetl.task_run WHERE run_id = $run")"
wait_for "SELECT error IS NOT NULL FROM pgetl.task_run WHERE run_id = $run" 30 || fail "rename failure not recorded"
r=$(q "SELECT state || '|' || error || '|' || (result->>'temp_path') || '|' || (result ? 'rename_error') FROM pgetl.task_run WHERE run_id = $run")
case "$r" in
    "success|export committed, but could not rename file \"$dir/.slow.csv.pgetl-"*".tmp\" to \"$dir/slow.csv\": "*"|$dir/.slow.csv.pgetl-"*".tmp|true") ;;
    *) fail "after a failed rename: $r" ;;
esac
tmp=$(q "SELECT result->>'temp_path' FROM pgetl.task_run WHERE run_id = $run")
[ -s "$tmp" ] || fail "the rows are gone: $tmp"
ok "a rename failing after the commit is recorded on the task run; the rows stay in $tmp"
