#!/usr/bin/env bash
# A run waiting queued (beyond its pipeline's max_active_runs) is shown as
# queued, not running, by pgetl_report (text, html) and pgetl_gantt (svg,
# mermaid), with when it was asked: a pipeline with max_active_runs 1 whose
# first run holds its one task until the test lets it go (a row in rq.go),
# so that a second date's run stays queued while the pictures are drawn.
# Then it runs, and its report says what it did.
source "$(dirname "$0")/lib.sh"
setup_db
qq "CREATE SCHEMA rq; CREATE TABLE rq.go (x integer)"
qq "SELECT pgetl_create_pipeline('rq', max_active_runs => 1)"
qq "SELECT pgetl_add_task('rq', 'hold', \$t\$DO \$d\$BEGIN WHILE NOT EXISTS (SELECT 1 FROM rq.go) LOOP PERFORM pg_sleep(0.05); END LOOP; END\$d\$\$t\$)"
first=$(q "SELECT pgetl_run('rq', logical_date => '2024-03-01', wait => false)")
second=$(q "SELECT pgetl_run('rq', logical_date => '2024-03-02', wait => false)")
wait_for "SELECT state = 'running' FROM pgetl.pipeline_run WHERE run_id = $first" 30 || fail "run $first did not start"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $second")" = queued ] \
    || fail "run $second is not queued: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $second")"

text=$(q "SELECT pgetl_report($second)")
sed 's/^/  | /' <<<"$text"
header=$(head -n 4 <<<"$text")
grep -q "^== run $second of rq: queued$" <<<"$header" || fail "text report's title: $(head -n 1 <<<"$header")"
grep -qi "running" <<<"$(head -n 2 <<<"$header")" && fail "the text report's header of a queued run says running"
grep -q "^logical date 2024-03-02, asked by postgres at .*, queued: not started yet$" <<<"$header" \
    || fail "the text report does not say since when it waits queued: $(sed -n 2p <<<"$header")"
grep -q "^reason: waiting: .*max_active_runs is 1" <<<"$header" || fail "the text report's reason: $header"
ok "text report of a queued run: $(sed -n 2p <<<"$header")"

html=$(q "SELECT pgetl_report($second, 'html')")
grep -q "still running" <<<"$html" && fail "the html report of a queued run says still running"
grep -q '<span class="state"[^>]*>queued</span>' <<<"$html" || fail "the html report's state is not queued"
grep -q "asked by postgres at .* &#183; queued: not started yet &#183; 1 tasks" <<<"$html" \
    || fail "the html report does not say since when it waits queued: $(grep -o '<p class="meta">logical[^<]*' <<<"$html")"
ok "html report of a queued run: $(grep -o '<p class="meta">logical[^<]*' <<<"$html")"

svg=$(q "SELECT pgetl_gantt($second)")
meta=$(grep -o '<text x="10" y="40"[^<]*</text>' <<<"$svg" || true)
grep -q "running" <<<"$meta" && fail "the Gantt chart of a queued run says running: $meta"
grep -q "queued" <<<"$meta" || fail "the Gantt chart of a queued run does not say queued: $meta"
grep -q "run $second &#8212; queued" <<<"$svg" || fail "the Gantt chart's title"
grep -q "title rq run $second (queued)" <<<"$(q "SELECT pgetl_gantt($second, 'mermaid')")" || fail "the Mermaid chart's title"
ok "Gantt chart of a queued run: $meta"

# control: the running run is still shown running
grep -q "still running" <<<"$(q "SELECT pgetl_report($first)")" || fail "the running run's report does not say still running"
grep -q '>logical date [^<]*running</text>' <<<"$(q "SELECT pgetl_gantt($first)")" || fail "the running run's Gantt chart does not say running"
ok "the running run is shown running"

qq "INSERT INTO rq.go VALUES (1)"
wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $second" 60 || fail "run $second did not finish"
text=$(q "SELECT pgetl_report($second)")
grep -q "^logical date 2024-03-02, started by .*, took [0-9.]* s$" <<<"$text" || fail "the finished run's report: $(sed -n 2p <<<"$text")"
ok "once it ran: $(sed -n 2p <<<"$text")"
