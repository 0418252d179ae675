#!/usr/bin/env bash
# pgetl_gantt and pgetl_report on a controlled run (test/report/lib.sh):
# the SVG is well-formed XML with one row per task and one bar per try, each
# in its try's state colour, the full error in <title>, ticks of 1/2/5
# steps, the critical path; Mermaid; the text report exactly (times
# masked); bad inputs with their SQLSTATE; what other roles see.
source "$(dirname "$0")/lib.sh"
make_run
dir=$(mktemp -d /tmp/pgetl_gantt.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DROP ROLE IF EXISTS rep_owner" -c "DROP ROLE IF EXISTS rep_other" >/dev/null 2>&1 || true' EXIT
as_owner() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET ROLE rep_owner" -c "$1"; }

as_owner "SELECT pgetl_gantt($run)" > "$dir/gantt.svg"
# the tries as the history has them: task try state colour
q "SELECT t.task, t.try_number, t.state, c.color FROM pgetl.task_run t
     JOIN pgetl_state_colors() c ON c.state = t.state WHERE t.run_id = $run ORDER BY 1, 2" > "$dir/tries"
[ "$(wc -l < "$dir/tries")" -eq 6 ] || fail "expected 6 tries: $(cat "$dir/tries")"
last=$(q "SELECT task FROM pgetl.task_run WHERE run_id = $run ORDER BY finished_at DESC LIMIT 1")
"$py" - "$dir/gantt.svg" "$dir/tries" "$last" <<'PY' || fail "the Gantt SVG is wrong (above)"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
svg = ET.parse(sys.argv[1]).getroot()          # well-formed XML, or this raises
want = {}
for line in open(sys.argv[2]):
    task, try_, state, color = line.rstrip("\n").split("|")
    want.setdefault(task, []).append((int(try_), state, color))
rows = svg.findall(".//s:g[@data-task]", ns)
got = {g.get("data-task"): g for g in rows}
assert len(rows) == len(want) == 5, f"rows {sorted(got)} want {sorted(want)}"
for task, tries in want.items():
    bars = got[task].findall("s:g[@class='try']", ns)
    assert [(int(b.get("data-try")), b.get("data-state")) for b in bars] == [(t, s) for t, s, _ in tries], \
        f"{task}: bars {[(b.get('data-try'), b.get('data-state')) for b in bars]} want {tries}"
    for b, (_, state, color) in zip(bars, tries):
        assert b.find("s:rect[@class='bar']", ns).get("fill") == color, f"{task} {state}: fill"
        q = b.find("s:rect[@class='queued']", ns)
        if q is not None:
            assert q.get("fill") == color and float(q.get("fill-opacity")) < 1, f"{task}: queued not lighter"
assert [b.get("data-state") for b in got["flaky"].findall("s:g[@class='try']", ns)] == ["up_for_retry", "success"]
title = got["boom"].find("s:g[@class='try']/s:title", ns).text
assert "error [P0001]: bad <row> & \"quote\" 'here'" in title and "hint: Fix <it>." in title, title
assert "division by zero" in got["flaky"].find("s:g[@class='try']/s:title", ns).text
# critical path: ends at the task that finished last, back to the root
crit = {g.get("data-task") for g in rows if "critical" in g.get("class").split()}
assert sys.argv[3] in crit and "first" in crit, f"critical path {crit}"
# ticks: multiples of one step of 1, 2 or 5 x 10^k ms (or minutes, hours)
ms = [int(t.get("data-ms")) for t in svg.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "tick"]
step = ms[1] - ms[0]
assert ms[0] == 0 and len(ms) >= 2 and all(b - a == step for a, b in zip(ms, ms[1:])), ms
assert int(str(step).rstrip("0") or 0) in (1, 2, 5, 15, 3, 6), step
print("ok - gantt svg:", len(rows), "rows,", sum(len(v) for v in want.values()), "bars, critical", sorted(crit), "ticks", ms)
PY
ok "Gantt SVG: well-formed, one row per task, one bar per try in its state's colour, error in <title>, critical path, ticks"

mm=$(as_owner "SELECT pgetl_gantt($run, 'mermaid')")
[ "$(printf '%s\n' "$mm" | head -n 1)" = gantt ] || fail "mermaid: $mm"
[ "$(printf '%s\n' "$mm" | grep -c '^    try ')" -eq 6 ] || fail "mermaid: not one bar per try: $mm"
[ "$(printf '%s\n' "$mm" | grep -c '^    section ')" -eq 5 ] || fail "mermaid: not one section per task: $mm"
ok "Mermaid gantt: one section per task, one bar per try"

# The text report, exactly, with times and durations masked.
as_owner "SELECT pgetl_report($run)" \
    | sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ [A-Z+0-9-]+/TIME/' -e 's/[0-9]+\.[0-9]{3}/N.NNN/g' \
          -e "s/^== run $run /== run RUN /" > "$dir/report.txt"
cat > "$dir/expected.txt" <<'TXT'
== run RUN of rep: failed
logical date 2024-01-02, started by rep_owner at TIME, took N.NNN s
tasks: 5 (3 success, 1 failed, 1 upstream_failed)
reason: task failed: boom

== tasks (the latest try of each)
 task  | state           | try | seconds | error
-------+-----------------+-----+---------+----------------------------
 first | success         |   1 |   N.NNN |
 ld    | success         |   1 |   N.NNN |
 flaky | success         |   2 |   N.NNN |
 boom  | failed          |   1 |   N.NNN | bad <row> & "quote" 'here'
 after | upstream_failed |   1 |         |

== loads: rows read = loaded + rejected + skipped
 load     | source    | read | loaded | rejected | skipped | all accounted
----------+-----------+------+--------+----------+---------+---------------
 rep_load | rep_input |    3 |      2 |        1 |       0 | yes

== top reject reasons per load
 load     | rule | column | rejects | example
----------+------+--------+---------+------------------------------------------------
 rep_load | type | id     |       1 | invalid input syntax for type integer: "three"

== exports
(no export succeeded in this run)

TXT
diff -u "$dir/expected.txt" "$dir/report.txt" || fail "the text report differs (above)"
ok "text report exact on a controlled run"

as_owner "SELECT pgetl_report($run, 'html')" > "$dir/report.html"
"$py" - "$dir/report.html" <<'PY' || fail "the HTML report is wrong (above)"
import sys, re, html.parser
page = open(sys.argv[1]).read()
assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
assert not re.search(r'(src|href)\s*=\s*"(https?:|//)', page), "external resource"
assert page.count("<svg") >= 1 and 'class="pgetl-gantt"' in page
assert "bad &lt;row&gt; &amp; \"quote\"" in page, "error not escaped"
html.parser.HTMLParser().feed(page)
print("ok - html report self-contained")
PY
ok "HTML report: one page, Gantt SVG inline, escaped, no external resource"

# Bad inputs: SQLSTATE, message, hint.
err() { psql -X -q -v VERBOSITY=verbose -c "SET ROLE ${2:-rep_owner}" -c "$1" 2>&1 >/dev/null | grep -E '^(ERROR|HINT)' || true; }
for f in pgetl_gantt pgetl_report; do
    out=$(err "SELECT $f(999999)")
    grep -q '^ERROR:  42704: run 999999 does not exist$' <<<"$out" || fail "$f unknown run: $out"
    grep -q '^HINT:  SELECT \* FROM pgetl.pipeline_run lists the runs you may see.$' <<<"$out" || fail "$f hint: $out"
    out=$(err "SELECT $f($run)" rep_other)
    grep -q "^ERROR:  42704: run $run does not exist$" <<<"$out" || fail "$f as another role: $out"
    out=$(err "SELECT $f($run, 'png')")
    grep -q "^ERROR:  22023: unknown format \"png\" for $f$" <<<"$out" || fail "$f unknown format: $out"
    grep -q "^HINT:  Use format => '" <<<"$out" || fail "$f format hint: $out"
    out=$(err "SELECT $f(NULL)")
    grep -q "^ERROR:  22004: run_id must not be null$" <<<"$out" || fail "$f NULL: $out"
done
ok "unknown run and another role's run: 42704; unknown format: 22023; NULL: 22004"

# What other roles see: a member of the owner sees the run, others do not.
q "GRANT rep_owner TO rep_other"
[ "$(psql -X -A -t -q -c "SET ROLE rep_other" -c "SELECT pgetl_gantt($run) LIKE '<svg%'")" = t ] \
    || fail "a member of the owner cannot see the run"
[ "$(q "SELECT length(pgetl_report($run, 'html')) > 1000")" = t ] || fail "a superuser cannot see the run"
ok "members of the owner and superusers see the run"
