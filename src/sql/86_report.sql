-- Pictures and reports of a run: the colours of task states, the Gantt
-- chart of a run's tries (pgetl_gantt) and the run report (pgetl_report).
-- Both functions run as the caller and read the history through the user
-- views (pgetl.pipeline_run, pgetl.task_run, pgetl.load_history,
-- pgetl.reject, pgetl.tasks): a role reports only on runs it may see.
-- search_path is pinned, so a caller's search_path cannot redirect them.
-- New in 0.2: the upgrade script runs this file as it is (Makefile).

CREATE FUNCTION @extschema@.pgetl_state_colors(OUT state text, OUT color text, OUT text_color text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'pgetl_state_colors_sql' LANGUAGE C IMMUTABLE;
COMMENT ON FUNCTION @extschema@.pgetl_state_colors() IS
'the colour of each task run state in pgetl''s pictures (Airflow''s, #RRGGBB), with the colour of text on it, in the order of their legends; no_status: a task without a try in the run';

CREATE FUNCTION @extschema@.pgetl_gantt(run_id bigint, format text DEFAULT 'svg')
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    p_run_id CONSTANT bigint := run_id;
    fmt text := lower(btrim(format));
    r record;
    t record;
    b record;
    t0 timestamptz;
    t1 timestamptz;
    span_ms numeric;
    step_ms bigint;
    ntasks integer;
    crit text[] := '{}';
    cur text;
    nxt text;
    -- layout (px)
    width CONSTANT integer := 1000;
    plot_x CONSTANT integer := 250;
    plot_w CONSTANT integer := 610;
    row_h CONSTANT integer := 26;
    bar_h CONSTANT integer := 16;
    top_y CONSTANT integer := 74;
    height integer;
    y integer;
    v bigint;
    label text;
    svg text := '';
    legend_x integer;
BEGIN
    IF p_run_id IS NULL THEN
        RAISE EXCEPTION 'run_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF fmt IS NULL OR fmt NOT IN ('svg', 'mermaid') THEN
        RAISE EXCEPTION 'unknown format "%" for pgetl_gantt', coalesce(format, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use format => ''svg'' or ''mermaid''.';
    END IF;
    SELECT pr.run_id, pr.pipeline, pr.state, pr.started_at, pr.finished_at, pr.logical_date, pr.queued_at
      INTO r FROM pgetl.pipeline_run pr WHERE pr.run_id = p_run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run_id
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Runs of pipelines whose owner you are not a member of are not shown to you.',
                  HINT = 'SELECT * FROM pgetl.pipeline_run lists the runs you may see.';
    END IF;

    -- The time span: from the run's start to its end (now while it runs;
    -- a run waiting queued beyond max_active_runs: from when it was asked).
    SELECT least(r.started_at, min(tr.queued_at), min(tr.started_at)),
           greatest(r.finished_at, max(tr.finished_at),
                    CASE WHEN r.finished_at IS NULL OR bool_or(tr.finished_at IS NULL AND tr.started_at IS NOT NULL)
                         THEN now() END),
           count(DISTINCT tr.task)
      INTO t0, t1, ntasks
      FROM pgetl.task_run tr WHERE tr.run_id = p_run_id;
    t0 := coalesce(t0, r.started_at, r.queued_at);
    t1 := greatest(coalesce(t1, t0), t0);
    span_ms := greatest((extract(epoch FROM t1 - t0) * 1000)::numeric, 1);

    -- The critical path: from the task that finished last, each step back
    -- to the upstream task (of this run) that finished last, as final tries.
    SELECT f.task INTO cur
      FROM (SELECT DISTINCT ON (tr.task) tr.task, tr.finished_at, tr.started_at
              FROM pgetl.task_run tr WHERE tr.run_id = p_run_id AND tr.map_index IS NULL
             ORDER BY tr.task, tr.try_number DESC) f
     ORDER BY coalesce(f.finished_at, CASE WHEN f.started_at IS NOT NULL THEN t1 END) DESC NULLS LAST, f.task
     LIMIT 1;
    WHILE cur IS NOT NULL AND NOT cur = ANY (crit) LOOP
        crit := crit || cur;
        SELECT f.task INTO nxt
          FROM pgetl.tasks d
         CROSS JOIN LATERAL unnest(d.upstream) AS u(name)
          JOIN (SELECT DISTINCT ON (tr.task) tr.task, tr.finished_at, tr.started_at
                  FROM pgetl.task_run tr WHERE tr.run_id = p_run_id AND tr.map_index IS NULL
                 ORDER BY tr.task, tr.try_number DESC) f ON f.task = u.name
         WHERE d.pipeline = r.pipeline AND d.task = cur
         ORDER BY coalesce(f.finished_at, CASE WHEN f.started_at IS NOT NULL THEN t1 END) DESC NULLS LAST, f.task
         LIMIT 1;
        cur := CASE WHEN FOUND THEN nxt END;
    END LOOP;

    IF fmt = 'mermaid' THEN
        svg := 'gantt' || E'\n'
            || '    title ' || regexp_replace(format('%s run %s (%s)', r.pipeline, r.run_id, r.state), '[:;#\n\r]', ' ', 'g') || E'\n'
            || '    dateFormat x' || E'\n'
            || '    axisFormat ' || CASE WHEN span_ms < 60000 THEN '%M:%S.%L' ELSE '%H:%M:%S' END || E'\n';
        FOR t IN
            SELECT tr.task, tr.try_number, tr.state, tr.queued_at,
                   coalesce(tr.started_at, tr.finished_at, tr.queued_at, tr.scheduled_at) AS b_start,
                   coalesce(tr.finished_at, CASE WHEN tr.started_at IS NOT NULL THEN t1 END,
                            tr.started_at, tr.queued_at, tr.scheduled_at) AS b_end,
                   tr.try_number = max(tr.try_number) OVER (PARTITION BY tr.task) AS final,
                   min(coalesce(tr.started_at, tr.queued_at, tr.finished_at, tr.scheduled_at))
                       OVER (PARTITION BY tr.task) AS first_at
              FROM pgetl.task_run tr WHERE tr.run_id = p_run_id
             ORDER BY first_at, tr.task, tr.try_number
        LOOP
            IF t.try_number = 1 OR t.b_start IS NULL THEN
                svg := svg || '    section ' || regexp_replace(t.task, '[:;#\n\r]', ' ', 'g') || E'\n';
            END IF;
            svg := svg || format(E'    try %s %s :%s%s, %s\n', t.try_number, t.state,
                CASE WHEN t.final AND t.task = ANY (crit) THEN 'crit, '
                     WHEN t.state = 'running' THEN 'active, '
                     WHEN t.state IN ('success', 'skipped') THEN 'done, ' ELSE '' END,
                (extract(epoch FROM t.b_start) * 1000)::bigint,
                greatest((extract(epoch FROM t.b_end) * 1000)::bigint, (extract(epoch FROM t.b_start) * 1000)::bigint + 1));
        END LOOP;
        RETURN svg;
    END IF;

    -- Tick step: the first of 1, 2, 5 ms ... 500 ms, 1, 2, 5, 10, 15, 30 s,
    -- 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1, 2, 5, 10 ... days giving
    -- at most 8 intervals.
    SELECT s INTO step_ms
      FROM unnest(ARRAY[1, 2, 5, 10, 20, 50, 100, 200, 500,
                        1000, 2000, 5000, 10000, 15000, 30000,
                        60000, 120000, 300000, 600000, 900000, 1800000,
                        3600000, 7200000, 10800000, 21600000, 43200000]::bigint[]
                  || ARRAY(SELECT m * 86400000::bigint * 10::bigint ^ k
                             FROM generate_series(0, 6) k, unnest('{1,2,5}'::bigint[]) m
                            ORDER BY 1)) WITH ORDINALITY AS l(s, n)
     WHERE span_ms / s <= 8
     ORDER BY n LIMIT 1;

    height := top_y + greatest(ntasks, 1) * row_h + 52;
    svg := format('<svg xmlns="http://www.w3.org/2000/svg" class="pgetl-gantt" width="%s" height="%s" viewBox="0 0 %s %s" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="12" data-run-id="%s" data-t0="%s" data-span-ms="%s" data-plot-x="%s" data-plot-width="%s">',
                  width, height, width, height, r.run_id,
                  to_char(t0 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), round(span_ms, 3), plot_x, plot_w) || E'\n'
        || format('<title>%s</title>', replace(replace(replace(format('Gantt chart of run %s of %s (%s)', r.run_id, r.pipeline, r.state), '&', '&amp;'), '<', '&lt;'), '>', '&gt;')) || E'\n'
        || format('<rect x="0" y="0" width="%s" height="%s" fill="white"/>', width, height) || E'\n'
        || format('<text x="10" y="22" font-size="15" font-weight="bold">%s</text>',
                  replace(replace(replace(r.pipeline, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')
                  || format(' &#8212; run %s &#8212; %s', r.run_id, r.state)) || E'\n'
        || format('<text x="10" y="40" fill="#555">logical date %s &#183; %s &#183; %s</text>',
                  r.logical_date,
                  CASE WHEN r.state = 'queued' THEN 'queued ' || to_char(r.queued_at, 'YYYY-MM-DD HH24:MI:SS.MS')
                       ELSE 'started ' || to_char(r.started_at, 'YYYY-MM-DD HH24:MI:SS.MS') END,
                  CASE WHEN r.state = 'queued' THEN 'not started yet'
                       WHEN r.finished_at IS NULL THEN 'running' ELSE 'took ' ||
                       (SELECT CASE WHEN ms < 1000 THEN round(ms) || ' ms'
                                    WHEN ms < 60000 THEN to_char(ms / 1000, 'FM999990.00') || ' s'
                                    WHEN ms < 3600000 THEN floor(ms / 60000) || ' min ' || floor(ms / 1000)::bigint % 60 || ' s'
                                    ELSE floor(ms / 3600000) || ' h ' || floor(ms / 60000)::bigint % 60 || ' min' END
                          FROM (SELECT (extract(epoch FROM r.finished_at - r.started_at) * 1000)::numeric AS ms) d) END)
        || E'\n';

    -- Time axis: ticks with labels above the rows, grid lines through them.
    svg := svg || '<g class="axis" fill="#333" font-size="11">' || E'\n';
    v := 0;
    WHILE v <= span_ms LOOP
        label := CASE
            WHEN v = 0 THEN '0'
            WHEN step_ms < 1000 AND v < 1000 THEN v || ' ms'
            WHEN step_ms < 1000 THEN rtrim(rtrim(to_char(v / 1000.0, 'FM999999990.000'), '0'), '.') || ' s'
            WHEN step_ms < 60000 AND v < 60000 THEN v / 1000 || ' s'
            WHEN step_ms < 60000 THEN v / 60000 || ' min' || CASE WHEN v % 60000 > 0 THEN ' ' || v % 60000 / 1000 || ' s' ELSE '' END
            WHEN step_ms < 3600000 AND v < 3600000 THEN v / 60000 || ' min'
            WHEN step_ms < 3600000 THEN v / 3600000 || ' h' || CASE WHEN v % 3600000 > 0 THEN ' ' || v % 3600000 / 60000 || ' min' ELSE '' END
            WHEN step_ms < 86400000 AND v < 86400000 THEN v / 3600000 || ' h'
            ELSE v / 86400000 || ' d' || CASE WHEN v % 86400000 > 0 THEN ' ' || v % 86400000 / 3600000 || ' h' ELSE '' END
        END;
        svg := svg || format('<line x1="%2$s" y1="%3$s" x2="%2$s" y2="%4$s" stroke="#ddd"/><text x="%2$s" y="%5$s" text-anchor="middle" class="tick" data-ms="%6$s">%1$s</text>',
                             label, round(plot_x + v / span_ms * plot_w, 1), top_y - 6, top_y + greatest(ntasks, 1) * row_h,
                             top_y - 10, v) || E'\n';
        v := v + step_ms;
    END LOOP;
    svg := svg || '</g>' || E'\n';

    -- One row per task (in order of its first activity), one bar per try.
    y := top_y;
    FOR t IN
        WITH tries AS (
            SELECT tr.*, coalesce(c.color, 'white') AS color,
                   min(coalesce(tr.started_at, tr.queued_at, tr.finished_at, tr.scheduled_at))
                       OVER (PARTITION BY tr.task) AS first_at
              FROM pgetl.task_run tr
              LEFT JOIN @extschema@.pgetl_state_colors() c ON c.state = tr.state
             WHERE tr.run_id = p_run_id)
        -- (a mapped task: a bar per try of its instances too; its state is its own try's)
        SELECT tries.task, count(*) AS ntries, max(try_number) FILTER (WHERE map_index IS NULL) AS last_try,
               (array_agg(state ORDER BY map_index IS NULL DESC, try_number DESC))[1] AS final_state,
               (array_agg(extract(epoch FROM tries.duration) * 1000 ORDER BY map_index IS NULL DESC, try_number DESC))[1]::numeric AS final_ms,
               tries.task = ANY (crit) AS critical
          FROM tries
         GROUP BY tries.task, first_at
         ORDER BY first_at NULLS LAST, tries.task
    LOOP
        svg := svg || format('<g class="task%s" data-task="%s">', CASE WHEN t.critical THEN ' critical' ELSE '' END,
                             replace(replace(replace(replace(regexp_replace(t.task, '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g'), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;')) || E'\n';
        IF (y - top_y) / row_h % 2 = 1 THEN
            svg := svg || format('<rect x="0" y="%s" width="%s" height="%s" fill="#f4f4f4" fill-opacity="0.6"/>', y, width, row_h);
        END IF;
        svg := svg || format('<text x="10" y="%s"%s>%s<title>%s</title></text>', y + 17,
                             CASE WHEN t.critical THEN ' font-weight="bold"' ELSE '' END,
                             replace(replace(replace(regexp_replace(CASE WHEN length(t.task) > 34 THEN left(t.task, 32) || '...' ELSE t.task END, '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g'), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
                             replace(replace(replace(regexp_replace(t.task, '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g'), '&', '&amp;'), '<', '&lt;'), '>', '&gt;')) || E'\n';
        FOR b IN
            SELECT tr.try_number, tr.state, coalesce(c.color, 'white') AS color,
                   tr.queued_at, tr.started_at, tr.finished_at,
                   coalesce(tr.started_at, tr.finished_at, tr.queued_at, tr.scheduled_at) AS b_start,
                   coalesce(tr.finished_at, CASE WHEN tr.started_at IS NOT NULL THEN t1 END,
                            tr.started_at, tr.queued_at, tr.scheduled_at) AS b_end,
                   -- the title: what happened, and the full error
                   replace(replace(replace(regexp_replace(
                       format('%s: try %s of %s, %s', tr.task, tr.try_number, t.ntries, tr.state)
                       || E'\n' || concat_ws(', ',
                              'queued ' || to_char(tr.queued_at, 'HH24:MI:SS.MS'),
                              'started ' || to_char(tr.started_at, 'HH24:MI:SS.MS'),
                              'finished ' || to_char(tr.finished_at, 'HH24:MI:SS.MS'))
                       || coalesce(E'\nduration ' || to_char(extract(epoch FROM tr.duration), 'FM9999999990.000') || ' s', '')
                       || coalesce(E'\nqueued for ' || to_char(extract(epoch FROM tr.started_at - tr.queued_at), 'FM9999999990.000') || ' s', '')
                       || coalesce(E'\nerror' || coalesce(' [' || tr.sqlstate || ']', '') || ': ' || tr.error, '')
                       || coalesce(E'\ndetail: ' || tr.detail, '')
                       || coalesce(E'\nhint: ' || tr.hint, ''),
                       '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g'), '&', '&amp;'), '<', '&lt;'), '>', '&gt;') AS title
              FROM pgetl.task_run tr
              LEFT JOIN @extschema@.pgetl_state_colors() c ON c.state = tr.state
             WHERE tr.run_id = p_run_id AND tr.task = t.task
             ORDER BY tr.try_number
        LOOP
            svg := svg || format('<g class="try" data-try="%s" data-state="%s" data-color="%s"><title>%s</title>',
                                 b.try_number, b.state, b.color, b.title);
            -- waiting for a worker: the same colour, lighter
            IF b.queued_at IS NOT NULL AND coalesce(b.started_at, b.finished_at, t1) > b.queued_at THEN
                svg := svg || format('<rect class="queued" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.35"/>',
                                     round(plot_x + extract(epoch FROM b.queued_at - t0) * 1000 / span_ms * plot_w, 1),
                                     y + (row_h - bar_h) / 2,
                                     round(extract(epoch FROM coalesce(b.started_at, b.finished_at, t1) - b.queued_at) * 1000 / span_ms * plot_w, 1),
                                     bar_h, b.color);
            END IF;
            svg := svg || format('<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"%s/></g>',
                                 round(plot_x + extract(epoch FROM b.b_start - t0) * 1000 / span_ms * plot_w, 1),
                                 y + (row_h - bar_h) / 2,
                                 greatest(round(extract(epoch FROM b.b_end - b.b_start) * 1000 / span_ms * plot_w, 1), 2),
                                 bar_h, b.color,
                                 CASE WHEN t.critical AND b.try_number = t.last_try
                                      THEN ' stroke="black" stroke-width="2"' ELSE ' stroke="#333" stroke-width="0.5"' END)
                || E'\n';
        END LOOP;
        -- the final try's duration, and the number of tries
        svg := svg || format('<text x="%s" y="%s" class="duration">%s</text>', plot_x + plot_w + 10, y + 17,
                   coalesce((SELECT CASE WHEN ms < 1000 THEN round(ms) || ' ms'
                                         WHEN ms < 60000 THEN to_char(ms / 1000, 'FM999990.00') || ' s'
                                         WHEN ms < 3600000 THEN floor(ms / 60000) || ' min ' || floor(ms / 1000)::bigint % 60 || ' s'
                                         ELSE floor(ms / 3600000) || ' h ' || floor(ms / 60000)::bigint % 60 || ' min' END
                               FROM (SELECT t.final_ms AS ms) d), t.final_state)
                   || CASE WHEN t.ntries > 1 THEN format(' &#183; %s tries', t.ntries) ELSE '' END) || E'\n'
            || '</g>' || E'\n';
        y := y + row_h;
    END LOOP;
    IF ntasks = 0 THEN
        svg := svg || format('<text x="%s" y="%s" fill="#555">no task has run</text>', plot_x, top_y + 17) || E'\n';
        y := y + row_h;
    END IF;

    -- Legend: the states shown, queued time, the critical path.
    y := y + 24;
    legend_x := 10;
    svg := svg || '<g class="legend" font-size="11">' || E'\n';
    FOR b IN
        SELECT c.state, c.color FROM @extschema@.pgetl_state_colors() WITH ORDINALITY AS c(state, color, text_color, n)
         WHERE c.state IN (SELECT tr.state FROM pgetl.task_run tr WHERE tr.run_id = p_run_id)
         ORDER BY c.n
    LOOP
        svg := svg || format('<rect x="%s" y="%s" width="12" height="12" fill="%s" stroke="#333" stroke-width="0.5"/><text x="%s" y="%s">%s</text>',
                             legend_x, y - 10, b.color, legend_x + 16, y, b.state);
        legend_x := legend_x + 24 + 7 * length(b.state);
    END LOOP;
    svg := svg || format('<rect x="%s" y="%s" width="12" height="12" fill="gray" fill-opacity="0.35"/><text x="%s" y="%s">lighter: queued for a worker</text>',
                         legend_x, y - 10, legend_x + 16, y)
        || format('<rect x="%s" y="%s" width="12" height="12" fill="white" stroke="black" stroke-width="2"/><text x="%s" y="%s">critical path: %s</text>',
                  legend_x + 200, y - 10, legend_x + 216, y, cardinality(crit) || CASE WHEN cardinality(crit) = 1 THEN ' task' ELSE ' tasks' END)
        || E'\n</g>\n</svg>\n';
    RETURN svg;
END
$fn$;
COMMENT ON FUNCTION @extschema@.pgetl_gantt(bigint, text) IS
'the Gantt chart of a run you may see: one row per task, one bar per try coloured by its state, queued time lighter, the critical path outlined, the error on hover; format svg or mermaid';

CREATE FUNCTION @extschema@.pgetl_report(run_id bigint, format text DEFAULT 'text')
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    p_run_id CONSTANT bigint := run_id;
    fmt text := lower(btrim(format));
    r record;
    sec jsonb;
    sections jsonb := '[]';
    widths integer[];
    numeric_col boolean[];
    ncols integer;
    line text;
    val text;
    out text := '';
    e record;
    head text;
    dag text;
    gantt text;
    colors jsonb;
BEGIN
    IF p_run_id IS NULL THEN
        RAISE EXCEPTION 'run_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF fmt IS NULL OR fmt NOT IN ('text', 'html') THEN
        RAISE EXCEPTION 'unknown format "%" for pgetl_report', coalesce(format, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use format => ''text'' or ''html''.';
    END IF;
    SELECT pr.* INTO r FROM pgetl.pipeline_run pr WHERE pr.run_id = p_run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run_id
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Runs of pipelines whose owner you are not a member of are not shown to you.',
                  HINT = 'SELECT * FROM pgetl.pipeline_run lists the runs you may see.';
    END IF;
    SELECT jsonb_object_agg(c.state, jsonb_build_array(c.color, c.text_color))
      INTO colors FROM @extschema@.pgetl_state_colors() c;

    -- The sections: a title, column names, rows of text values.
    sections := sections || jsonb_build_object(
        'title', 'tasks (the latest try of each)', 'id', 'tasks',
        'columns', jsonb_build_array('task', 'state', 'try', 'seconds', 'error'),
        'rows', coalesce((
            SELECT jsonb_agg(jsonb_build_array(l.task, l.state, l.try_number::text,
                                               coalesce(round(extract(epoch FROM l.duration)::numeric, 3)::text, ''),
                                               coalesce(l.error, ''))
                             ORDER BY l.started_at NULLS LAST, l.task)
              FROM (SELECT DISTINCT ON (tr.task) tr.task, tr.state, tr.try_number, tr.started_at,
                           tr.duration, tr.error
                      FROM pgetl.task_run tr WHERE tr.run_id = p_run_id AND tr.map_index IS NULL
                     ORDER BY tr.task, tr.try_number DESC) l), '[]'),
        'empty', 'no task has run');
    sections := sections || jsonb_build_object(
        'title', 'loads: rows read = loaded + rejected + skipped', 'id', 'loads',
        'columns', jsonb_build_array('load', 'source', 'read', 'loaded', 'rejected', 'skipped', 'all accounted'),
        'rows', coalesce((
            SELECT jsonb_agg(jsonb_build_array(l.load_name, l.source, l.rows_read::text, l.rows_loaded::text,
                                               l.rows_rejected::text,
                                               (coalesce(l.rows_skipped_by_trigger, 0) + coalesce(l.rows_skipped_on_conflict, 0))::text,
                                               CASE WHEN l.rows_read = l.rows_loaded + l.rows_rejected
                                                        + coalesce(l.rows_skipped_by_trigger, 0) + coalesce(l.rows_skipped_on_conflict, 0)
                                                    THEN 'yes' ELSE 'NO' END)
                             ORDER BY l.load_id)
              FROM pgetl.load_history l WHERE l.run_id = p_run_id), '[]'),
        'empty', 'no load in this run');
    sections := sections || jsonb_build_object(
        'title', 'top reject reasons per load', 'id', 'rejects',
        'columns', jsonb_build_array('load', 'rule', 'column', 'rejects', 'example'),
        'rows', coalesce((
            SELECT jsonb_agg(jsonb_build_array(x.load_name, x.rule, x.column_name, x.rejects::text, x.example)
                             ORDER BY x.load_name, x.rejects DESC, x.rule, x.column_name)
              FROM (SELECT j.load_name, j.rule, coalesce(j.column_name, '') AS column_name,
                           count(*) AS rejects, left(min(j.message), 110) AS example,
                           row_number() OVER (PARTITION BY j.load_name
                                              ORDER BY count(*) DESC, j.rule, coalesce(j.column_name, '')) AS rank
                      FROM pgetl.reject j WHERE j.run_id = p_run_id AND j.severity = 'error'
                     GROUP BY j.load_name, j.rule, j.column_name) x
             WHERE x.rank <= 5), '[]'),
        'empty', 'no rejected record');
    sections := sections || jsonb_build_object(
        'title', 'exports', 'id', 'exports',
        'columns', jsonb_build_array('task', 'path', 'rows'),
        'rows', coalesce((
            SELECT jsonb_agg(jsonb_build_array(x.task, x.result ->> 'path', x.result ->> 'rows') ORDER BY x.task)
              FROM (SELECT DISTINCT ON (tr.task) tr.task, tr.result, tr.state
                      FROM pgetl.task_run tr
                      JOIN pgetl.tasks d ON d.pipeline = tr.pipeline AND d.task = tr.task AND d.kind = 'export'
                     WHERE tr.run_id = p_run_id AND tr.map_index IS NULL
                     ORDER BY tr.task, tr.try_number DESC) x
             WHERE x.state = 'success'), '[]'),
        'empty', 'no export succeeded in this run');
    -- The first lines of each exported file, for a caller who may read it.
    FOR e IN
        SELECT x.task, x.result ->> 'path' AS path
          FROM (SELECT DISTINCT ON (tr.task) tr.task, tr.result, tr.state
                  FROM pgetl.task_run tr
                  JOIN pgetl.tasks d ON d.pipeline = tr.pipeline AND d.task = tr.task AND d.kind = 'export'
                 WHERE tr.run_id = p_run_id AND tr.map_index IS NULL
                 ORDER BY tr.task, tr.try_number DESC) x
         WHERE x.state = 'success' AND x.result ->> 'path' IS NOT NULL
         ORDER BY x.task
    LOOP
        IF has_function_privilege('pg_catalog.pg_read_file(text, bigint, bigint, boolean)', 'EXECUTE') THEN
            sections := sections || jsonb_build_object(
                'title', format('%s: the first lines of %s', e.task, e.path), 'id', 'export-file',
                'columns', jsonb_build_array('line'),
                'rows', coalesce((
                    SELECT jsonb_agg(jsonb_build_array(l.line) ORDER BY l.n)
                      FROM regexp_split_to_table(pg_read_file(e.path, 0, 65536, true), E'\n')
                           WITH ORDINALITY AS l(line, n)
                     WHERE l.line <> '' AND l.n <= 11), '[]'),
                'empty', 'the file is empty or gone');
        END IF;
    END LOOP;

    IF fmt = 'text' THEN
        out := format(E'== run %s of %s: %s\n', r.run_id, r.pipeline, r.state)
            || CASE WHEN r.state = 'queued'
                    -- waiting beyond max_active_runs: not started, not running
                    THEN format(E'logical date %s, asked by %s at %s, queued: not started yet\n', r.logical_date,
                                r.started_by, to_char(r.queued_at, 'YYYY-MM-DD HH24:MI:SS.MS TZ'))
                    ELSE format(E'logical date %s, started by %s at %s, %s\n', r.logical_date, r.started_by,
                                to_char(r.started_at, 'YYYY-MM-DD HH24:MI:SS.MS TZ'),
                                coalesce('took ' || round(extract(epoch FROM r.duration)::numeric, 3) || ' s', 'still running'))
               END
            || format(E'tasks: %s', r.tasks_total)
            || coalesce(' (' || nullif(concat_ws(', ',
                   nullif(r.tasks_success, 0) || ' success', nullif(r.tasks_failed, 0) || ' failed',
                   nullif(r.tasks_upstream_failed, 0) || ' upstream_failed', nullif(r.tasks_skipped, 0) || ' skipped',
                   nullif(r.tasks_cancelled, 0) || ' cancelled', nullif(r.tasks_running, 0) || ' running',
                   nullif(r.tasks_queued, 0) || ' queued', nullif(r.tasks_scheduled, 0) || ' scheduled',
                   nullif(r.tasks_up_for_retry, 0) || ' up_for_retry',
                   nullif(r.tasks_up_for_reschedule, 0) || ' up_for_reschedule'), '') || ')', '') || E'\n'
            || coalesce(E'reason: ' || nullif(r.reason, '') || E'\n', '');
        FOR sec IN SELECT s FROM jsonb_array_elements(sections) s LOOP
            out := out || E'\n== ' || (sec ->> 'title') || E'\n';
            IF jsonb_array_length(sec -> 'rows') = 0 THEN
                out := out || '(' || (sec ->> 'empty') || E')\n';
                CONTINUE;
            END IF;
            ncols := jsonb_array_length(sec -> 'columns');
            -- column widths (longest line of a cell), numbers right-aligned
            SELECT array_agg(w ORDER BY i), array_agg(num ORDER BY i) INTO widths, numeric_col
              FROM (SELECT c.i, greatest(length(c.name),
                                         (SELECT max(length(l)) FROM jsonb_array_elements(sec -> 'rows') rw,
                                                 regexp_split_to_table(rw ->> (c.i - 1)::integer, E'\n') l)) AS w,
                           (SELECT bool_and(rw ->> (c.i - 1)::integer ~ '^-?[0-9]+(\.[0-9]+)?$' OR rw ->> (c.i - 1)::integer = '')
                              FROM jsonb_array_elements(sec -> 'rows') rw) AS num
                      FROM jsonb_array_elements_text(sec -> 'columns') WITH ORDINALITY AS c(name, i)) x;
            line := '';
            FOR i IN 1 .. ncols LOOP
                line := line || CASE WHEN i > 1 THEN ' | ' ELSE ' ' END
                    || rpad(sec -> 'columns' ->> (i - 1), widths[i]);
            END LOOP;
            out := out || rtrim(line) || E'\n';
            line := '';
            FOR i IN 1 .. ncols LOOP
                line := line || CASE WHEN i > 1 THEN '+' ELSE '' END || repeat('-', widths[i] + 2);
            END LOOP;
            out := out || rtrim(line, ' ') || E'\n';
            FOR e IN SELECT rw FROM jsonb_array_elements(sec -> 'rows') rw LOOP
                line := '';
                FOR i IN 1 .. ncols LOOP
                    -- a multi-line cell continues on the next lines of its column
                    val := split_part(coalesce(e.rw ->> (i - 1), ''), E'\n', 1);
                    line := line || CASE WHEN i > 1 THEN ' | ' ELSE ' ' END
                        || CASE WHEN numeric_col[i] THEN lpad(val, widths[i]) ELSE rpad(val, widths[i]) END;
                END LOOP;
                out := out || rtrim(line) || E'\n';
                -- continuation lines of multi-line cells
                FOR k IN 2 .. (SELECT max(array_length(string_to_array(coalesce(e.rw ->> (i - 1), ''), E'\n'), 1))
                                 FROM generate_series(1, ncols) i) LOOP
                    line := '';
                    FOR i IN 1 .. ncols LOOP
                        line := line || CASE WHEN i > 1 THEN ' | ' ELSE ' ' END
                            || rpad(coalesce(split_part(coalesce(e.rw ->> (i - 1), ''), E'\n', k), ''), widths[i]);
                    END LOOP;
                    out := out || rtrim(line) || E'\n';
                END LOOP;
            END LOOP;
        END LOOP;
        RETURN out;
    END IF;

    -- html: one self-contained page, the DAG and the Gantt chart inline.
    gantt := @extschema@.pgetl_gantt(p_run_id, 'svg');
    BEGIN
        dag := @extschema@.pgetl_graph(r.pipeline, p_run_id, 'svg');
        dag := substr(dag, strpos(dag, '<svg'));    -- no XML declaration or DOCTYPE inline
    EXCEPTION WHEN undefined_object THEN
        dag := NULL;            -- the pipeline was dropped since the run
    END;
    head := replace(replace(replace(r.pipeline, '&', '&amp;'), '<', '&lt;'), '>', '&gt;');
    out := E'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        || format(E'<title>pgetl: run %s of %s</title>\n', r.run_id, head)
        || E'<style>\n'
        || E'body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; font-size: 14px; margin: 24px; color: #222; background: #fff; }\n'
        || E'h1 { font-size: 22px; margin: 0 0 6px 0; } h2 { font-size: 17px; margin: 26px 0 8px 0; border-bottom: 1px solid #ccc; }\n'
        || E'.state { display: inline-block; padding: 1px 8px; border-radius: 4px; border: 1px solid #555; }\n'
        || E'.meta { color: #555; margin: 0; }\n'
        || E'figure { margin: 0; } figure svg { max-width: 100%; height: auto; display: block; }\n'
        || E'table { border-collapse: collapse; margin: 4px 0; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }\n'
        || E'th { background: #f0f0f0; } td.num { text-align: right; } td.error { white-space: pre-wrap; max-width: 520px; }\n'
        || E'pre { background: #f6f6f6; padding: 6px; margin: 4px 0; overflow-x: auto; } .empty { color: #777; font-style: italic; }\n'
        || E'</style>\n</head>\n<body>\n'
        || format(E'<h1>Run %s of %s <span class="state" style="background:%s;color:%s">%s</span></h1>\n',
                  r.run_id, head, colors -> r.state ->> 0, colors -> r.state ->> 1, r.state)
        || format(E'<p class="meta">logical date %s &#183; %s by %s at %s &#183; %s &#183; %s tasks</p>\n',
                  r.logical_date, CASE WHEN r.state = 'queued' THEN 'asked' ELSE 'started' END,
                  replace(replace(replace(r.started_by::text, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
                  to_char(CASE WHEN r.state = 'queued' THEN r.queued_at ELSE r.started_at END, 'YYYY-MM-DD HH24:MI:SS TZ'),
                  CASE WHEN r.state = 'queued' THEN 'queued: not started yet'
                       ELSE coalesce('took ' || round(extract(epoch FROM r.duration)::numeric, 3) || ' s', 'still running') END,
                  r.tasks_total)
        || coalesce('<p class="meta">reason: '
                    || replace(replace(replace(nullif(r.reason, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;')
                    || E'</p>\n', '')
        || E'<h2>DAG</h2>\n'
        || coalesce(E'<figure id="dag">\n' || dag || E'</figure>\n',
                    E'<p class="empty">no graph: the pipeline was dropped</p>\n')
        || E'<h2>Timeline</h2>\n<figure id="gantt">\n' || gantt || E'</figure>\n';
    FOR sec IN SELECT s FROM jsonb_array_elements(sections) s LOOP
        out := out || format(E'<h2 id="%s">%s</h2>\n', sec ->> 'id',
                             replace(replace(replace(sec ->> 'title', '&', '&amp;'), '<', '&lt;'), '>', '&gt;'));
        IF jsonb_array_length(sec -> 'rows') = 0 THEN
            out := out || format(E'<p class="empty">%s</p>\n', sec ->> 'empty');
            CONTINUE;
        END IF;
        IF sec ->> 'id' = 'export-file' THEN
            out := out || '<pre>' || (SELECT string_agg(replace(replace(replace(rw ->> 0, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), E'\n')
                                        FROM jsonb_array_elements(sec -> 'rows') rw) || E'</pre>\n';
            CONTINUE;
        END IF;
        out := out || '<table><tr>' || (SELECT string_agg('<th>' || c || '</th>', '')
                                          FROM jsonb_array_elements_text(sec -> 'columns') c) || E'</tr>\n';
        FOR e IN SELECT rw FROM jsonb_array_elements(sec -> 'rows') rw LOOP
            out := out || '<tr>' || (
                SELECT string_agg(
                    CASE WHEN sec -> 'columns' ->> (c.i - 1)::integer = 'state' AND colors ? v
                         THEN format('<td class="state-cell" style="background:%s;color:%s">%s</td>',
                                     colors -> v ->> 0, colors -> v ->> 1, v)
                         ELSE format('<td%s>%s</td>',
                                     CASE WHEN v ~ '^-?[0-9]+(\.[0-9]+)?$' THEN ' class="num"'
                                          WHEN sec -> 'columns' ->> (c.i - 1)::integer IN ('error', 'example') THEN ' class="error"'
                                          ELSE '' END,
                                     replace(replace(replace(regexp_replace(v, '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g'),
                                                             '&', '&amp;'), '<', '&lt;'), '>', '&gt;'))
                    END, '' ORDER BY c.i)
                  FROM jsonb_array_elements_text(e.rw) WITH ORDINALITY AS c(v, i)) || E'</tr>\n';
        END LOOP;
        out := out || E'</table>\n';
    END LOOP;
    RETURN out || E'</body>\n</html>\n';
END
$fn$;
COMMENT ON FUNCTION @extschema@.pgetl_report(bigint, text) IS
'the report of a run you may see: the run, each task''s latest try, loads with their counts and top reject reasons, exports; format text, or html: one self-contained page with the DAG and the Gantt chart';
