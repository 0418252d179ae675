#!/usr/bin/env bash
# pgetl_graph's SVG, read as XML (xmllint): one node per task and one edge
# per dependency, by the <title> of each <g class="node"> / <g class="edge">,
# each node filled with the colour of its task's state in the run, and a
# legend of the states present.  The DOT is valid Graphviz (dot -Tsvg), and
# describes the same nodes and edges.  libgvc is mapped only into a backend
# that drew an SVG.
source "$(dirname "$0")/../engine/lib.sh"
setup_db
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT pgetl_create_pipeline('pic');
SELECT pgetl_add_task('pic', 'extract', 'SELECT 1');
SELECT pgetl_add_task('pic', 'clean', 'SELECT 1/0', '{extract}', retries => 1, retry_delay => '0 s');
SELECT pgetl_add_task('pic', 'enrich "geo" <b>&', 'SELECT true', '{extract}', kind => 'check');
SELECT pgetl_add_task('pic', 'report', 'SELECT 1', ARRAY['clean', 'enrich "geo" <b>&'], trigger_rule => 'all_done');
SELECT pgetl_add_task('pic', 'notify', 'SELECT 1', '{clean}');
SELECT pgetl_add_task('pic', 'cleanup', 'SELECT 1', '{report}', trigger_rule => 'one_failed');
SQL
psql -X -q -c "SELECT pgetl_run('pic')" >/dev/null 2>&1 || true
[ "$(q "SELECT state FROM pgetl.pipeline_run")" = failed ] || fail "the run did not fail"

# libgvc is loaded only by a backend that draws an SVG
maps="SELECT pg_read_file('/proc/self/maps') LIKE '%libgvc%'"
[ "$(psql -X -A -t -q -c "SELECT length(pgetl_graph('pic', format => 'dot')) > 0" -c "$maps" | tail -n 1)" = f ] \
    || fail "libgvc mapped after drawing DOT"
[ "$(psql -X -A -t -q -c "SELECT length(pgetl_graph('pic', format => 'mermaid')) > 0" -c "$maps" | tail -n 1)" = f ] \
    || fail "libgvc mapped after drawing Mermaid"
[ "$(psql -X -A -t -q -c "SELECT length(pgetl_graph('pic')) > 0" -c "$maps" | tail -n 1)" = t ] \
    || fail "libgvc not mapped after drawing SVG (the check proves nothing)"
ok "libgvc is loaded only by a backend that draws an SVG"

q "SELECT pgetl_graph('pic')" > "$tmp/run.svg"
q "SELECT pgetl_graph('pic', format => 'dot')" > "$tmp/run.dot"
xmllint --noout "$tmp/run.svg" || fail "the SVG is not well-formed XML"

x() { xmllint --xpath "$1" "$2"; }
# texts SET CHILD FILE: string(CHILD) of each element of SET, one a line
# (string() gives the text itself, not its XML serialization)
texts() {
    local n i
    n=$(x "count($1)" "$3")
    for ((i = 1; i <= n; i++)); do printf "%s\n" "$(x "string(($1)[$i]/$2)" "$3")"; done
}
G="//*[local-name()='g']"
T="*[local-name()='title']"

# nodes: one per task, titled by its name
texts "$G[@class='node']" "$T" "$tmp/run.svg" | sort > "$tmp/nodes"
q "SELECT task FROM pgetl.tasks WHERE pipeline = 'pic'" | sort > "$tmp/tasks"
[ "$(wc -l < "$tmp/tasks")" -eq 6 ] || fail "expected 6 tasks"
diff "$tmp/tasks" "$tmp/nodes" || fail "SVG nodes are not the tasks"
ok "one SVG node per task: $(paste -sd, "$tmp/nodes")"

# edges: one per dependency, upstream -> downstream
texts "$G[@class='edge']" "$T" "$tmp/run.svg" | sort > "$tmp/edges"
q "SELECT u || '->' || task FROM pgetl.tasks, unnest(upstream) u WHERE pipeline = 'pic'" | sort > "$tmp/deps"
[ "$(wc -l < "$tmp/deps")" -eq 6 ] || fail "expected 6 dependencies"
diff "$tmp/deps" "$tmp/edges" || fail "SVG edges are not the dependencies"
ok "one SVG edge per dependency, upstream -> downstream"

# each node filled with Airflow's colour of its task's latest state
declare -A colour=([success]='#008000' [failed]='#ff0000' [upstream_failed]='#ffa500'
                   [skipped]='#ff69b4' [up_for_retry]='#ffd700' [no_status]='#add8e6')
n=$(x "count($G[@class='node'])" "$tmp/run.svg")
for ((i = 1; i <= n; i++)); do
    title=$(x "string(($G[@class='node'])[$i]/$T)" "$tmp/run.svg")
    fill=$(x "string(($G[@class='node'])[$i]/*[local-name()='path'][1]/@fill)" "$tmp/run.svg" | tr 'A-F' 'a-f')
    state=$(psql -X -A -t -q -v t="$title" <<'SQL'
SELECT state FROM pgetl.task_run WHERE task = :'t' ORDER BY try_number DESC LIMIT 1
SQL
)
    [ -n "$state" ] || fail "no state for node $title"
    [ "$fill" = "${colour[$state]}" ] || fail "node $title ($state) is filled $fill, not ${colour[$state]}"
    echo "  $title: $state $fill"
done
states=$(q "SELECT string_agg(DISTINCT state, ',' ORDER BY state) FROM (SELECT DISTINCT ON (task) state FROM pgetl.task_run ORDER BY task, try_number DESC) l")
[ "$states" = "failed,skipped,success,upstream_failed" ] || fail "unexpected states $states"
ok "each node has the colour of its task's state ($states)"

# the legend (the graph's label): each state present, on its colour
legend=$(texts "$G[@class='graph']/*[local-name()='text']" "self::*" "$tmp/run.svg")
for s in ${states//,/ }; do
    grep -qx "$s" <<<"$legend" || fail "state $s not in the legend: $legend"
    [ "$(x "count($G[@class='graph']/*[local-name()='polygon'][translate(@fill, 'ABCDEF', 'abcdef')='${colour[$s]}'])" "$tmp/run.svg")" -ge 1 ] \
        || fail "no legend cell of colour ${colour[$s]} for $s"
done
[ "$(grep -cx 'up_for_retry\|running\|queued' <<<"$legend")" -eq 0 ] || fail "legend shows absent states"
grep -qx 'pic, run 1: failed' <<<"$legend" || fail "the legend does not name the run: $legend"
ok "the legend shows the states present, on their colours, and the run"

# the DOT is valid Graphviz, with the same nodes and edges
dot -Tsvg "$tmp/run.dot" > "$tmp/cli.svg" || fail "dot -Tsvg refused the DOT"
texts "$G[@class='node']" "$T" "$tmp/cli.svg" | sort | diff "$tmp/tasks" - || fail "dot's nodes differ"
texts "$G[@class='edge']" "$T" "$tmp/cli.svg" | sort | diff "$tmp/deps" - || fail "dot's edges differ"
ok "dot -Tsvg reads the DOT: same nodes and edges"

# a pipeline that never ran: no fill colour but white, no legend states
q "SELECT pgetl_create_pipeline('never')" >/dev/null
q "SELECT pgetl_add_task('never', 'a', 'SELECT 1')" >/dev/null
q "SELECT pgetl_graph('never')" > "$tmp/never.svg"
xmllint --noout "$tmp/never.svg" || fail "the SVG of a pipeline that never ran is not XML"
[ "$(x "string($G[@class='node']/*[local-name()='path'][1]/@fill)" "$tmp/never.svg" | tr 'A-F' 'a-f')" = '#ffffff' ] \
    || fail "a task without a run is not white"
ok "a pipeline that never ran is drawn without states"
