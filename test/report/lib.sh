# Helpers for the report tests (sourced): a database with a controlled run
# of pipeline "rep", owned by the ordinary role rep_owner:
#   first -> ld (a load of staged data, one record rejected) -> flaky (fails
#   its first try, succeeds on its retry) -> boom (fails with an error full
#   of XML metacharacters) -> after (upstream_failed, never starts)
# The run fails; $run holds its id.  The cluster comes from PGHOST/PGPORT.
source "$(dirname "${BASH_SOURCE[0]}")/../engine/lib.sh"
# Debian's python3, with PIL (test/setup/deps.sh --test), not another one
# that may come first in PATH
py=/usr/bin/python3

make_run() {
    setup_db
    trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DROP ROLE IF EXISTS rep_owner" -c "DROP ROLE IF EXISTS rep_other" >/dev/null 2>&1 || true' EXIT
    psql -X -q -d postgres -v ON_ERROR_STOP=1 <<'SQL'
DROP ROLE IF EXISTS rep_owner;
DROP ROLE IF EXISTS rep_other;
CREATE ROLE rep_owner LOGIN;
CREATE ROLE rep_other LOGIN;
SQL
    q "GRANT CREATE ON DATABASE $PGDATABASE TO rep_owner"
    psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET ROLE rep_owner;
CREATE SCHEMA rep;
CREATE SEQUENCE rep.flaky_tries;
CREATE TABLE rep.target (id integer NOT NULL, name text);
SELECT pgetl_stage('rep_input', convert_to(E'id,name\n1,one\n2,two\nthree,3\n', 'UTF8'));
SELECT pgetl_define_load('rep_load', 'rep.target', '[{"name": "id", "type": "integer"}, {"name": "name"}]');
SELECT pgetl_create_pipeline('rep', params => '{"retry_delay": "0 s"}');
SELECT pgetl_add_task('rep', 'first', 'SELECT 1 AS one');
SELECT pgetl_add_task('rep', 'ld', NULL, '{first}', kind => 'load',
                      config => '{"load": "rep_load", "source": "rep_input"}');
SELECT pgetl_add_task('rep', 'flaky', $$SELECT 1 / (nextval('rep.flaky_tries') - 1) AS ok$$,
                      '{ld}', retries => 2);
SELECT pgetl_add_task('rep', 'boom', $t$DO $d$BEGIN RAISE EXCEPTION 'bad <row> & "quote" ''here''' USING HINT = 'Fix <it>.'; END$d$$t$,
                      '{flaky}');
SELECT pgetl_add_task('rep', 'after', 'SELECT 1', '{boom}');
SQL
    run=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET ROLE rep_owner" -c "SELECT pgetl_run('rep', logical_date => '2024-01-02', wait => false)")
    wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 60 || fail "run $run did not finish"
    [ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = failed ] || fail "run $run did not fail"
}
