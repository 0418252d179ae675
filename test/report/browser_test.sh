#!/usr/bin/env bash
# The HTML report in a browser: headless Chromium (test/setup/deps.sh
# --test installs it) renders pgetl_report(run, 'html') of a controlled run
# (test/report/lib.sh) to a PNG.  The page is not blank, and what the SVGs
# say is where the browser draws it: at the centre of each task node of the
# DAG (pgetl_graph) and of each bar of the Gantt chart (pgetl_gantt), the
# pixel has the colour of the state the SVG gives it.  Where each SVG lands
# on the page is asked of the same browser (a copy of the page with a
# script that records the SVGs' boxes, read back with --dump-dom).
source "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || fail "chromium is not installed (test/setup/deps.sh --test installs it)"
"$py" -c 'import PIL' || fail "python3-pil is not installed (test/setup/deps.sh --test installs it)"
make_run
dir=$(mktemp -d /tmp/pgetl_browser.XXXXXX)
chmod 755 "$dir"
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DROP ROLE IF EXISTS rep_owner" -c "DROP ROLE IF EXISTS rep_other" >/dev/null 2>&1 || true' EXIT

psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET ROLE rep_owner" -c "SELECT pgetl_report($run, 'html')" -o "$dir/report.html"
sed 's|</body>|<script>document.body.setAttribute("data-boxes", JSON.stringify(Array.from(document.querySelectorAll("figure > svg")).map(function (s) { var r = s.getBoundingClientRect(); return {id: s.parentNode.id, x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}; })));</script></body>|' \
    "$dir/report.html" > "$dir/probe.html"

browser() {
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --force-device-scale-factor=1 --window-size=1200,1600 \
        --user-data-dir="$(mktemp -d "$dir/profile.XXXXXX")" "$@" 2>>"$dir/chromium.log"
}
browser --screenshot="$dir/report.png" "file://$dir/report.html" >/dev/null \
    || { tail -n 20 "$dir/chromium.log"; fail "chromium could not render the report"; }
[ -s "$dir/report.png" ] || fail "no screenshot"
browser --dump-dom "file://$dir/probe.html" > "$dir/probe.dom" \
    || { tail -n 20 "$dir/chromium.log"; fail "chromium could not load the probe page"; }

"$py" - "$dir/report.html" "$dir/probe.dom" "$dir/report.png" <<'PY' || fail "the rendering does not match the SVGs (above)"
import html, json, re, sys
import xml.etree.ElementTree as ET
from PIL import Image

SVG = "{http://www.w3.org/2000/svg}"
page = open(sys.argv[1]).read()
boxes = {b["id"]: b for b in json.loads(html.unescape(re.search(r'data-boxes="([^"]*)"', open(sys.argv[2]).read()).group(1)))}
img = Image.open(sys.argv[3]).convert("RGB")
W, H = img.size
assert (W, H) == (1200, 1600), img.size

# not blank: a good share of the page is drawn, in more than a few colours
px = list(img.getdata())
ink = sum(1 for p in px if sum(p) < 720) / len(px)
colours = len(set(px))
assert ink > 0.03 and colours > 20, f"blank page? ink {ink:.3f}, {colours} colours"
print(f"page: {ink:.1%} of pixels not white, {colours} colours")

def figure_svg(fid):
    m = re.search(r'<figure id="%s">\s*(<svg.*?</svg>)' % fid, page, re.S)
    assert m, f"no figure {fid}"
    return ET.fromstring(m.group(1))

def rgb(hexcolour):
    h = hexcolour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))

def near(a, b, tol=40):
    return all(abs(x - y) <= tol for x, y in zip(a, b))

def check(fid, shapes):
    """shapes: (name, x, y, colour) in the SVG's user units"""
    svg, box = figure_svg(fid), boxes[fid]
    vb = [float(v) for v in svg.get("viewBox").split()]
    sx, sy = box["w"] / vb[2], box["h"] / vb[3]
    bad = 0
    for name, x, y, colour in shapes:
        X, Y = round(box["x"] + (x - vb[0]) * sx), round(box["y"] + (y - vb[1]) * sy)
        assert 0 <= X < W and 0 <= Y < H, f"{fid} {name} at ({X},{Y}) is off the screenshot"
        got = img.getpixel((X, Y))
        ok = near(got, rgb(colour))
        bad += not ok
        print(f"{fid}: {name:<28} at ({X:4},{Y:4}) want {colour} got #{got[0]:02X}{got[1]:02X}{got[2]:02X}"
              + ("" if ok else "  <-- wrong"))
    assert len(shapes) > 0 and bad == 0, f"{fid}: {bad} of {len(shapes)} shapes not where the SVG draws them"

# The Gantt chart: the centre of each bar at least 6 units wide.
shapes = []
for task in figure_svg("gantt").iter(SVG + "g"):
    if task.get("data-task") is None:
        continue
    for t in task.findall(SVG + "g[@class='try']"):
        bar = t.find(SVG + "rect[@class='bar']")
        x, y, w, h = (float(bar.get(k)) for k in ("x", "y", "width", "height"))
        if w >= 6:
            shapes.append((f"{task.get('data-task')} try {t.get('data-try')}", x + w / 2, y + h / 2, bar.get("fill")))
check("gantt", shapes)

# The DAG: each node's shape, sampled inside its left edge at mid-height
# (its labels are centred), moved by the graph's translate().
dag = figure_svg("dag")
g0 = dag.find(SVG + "g")
tx, ty = (float(v) for v in re.search(r"translate\(([-\d.]+)[ ,]([-\d.]+)\)", g0.get("transform")).groups())
shapes = []
for node in g0.findall(SVG + "g[@class='node']"):
    shape = next(e for e in node if e.tag in (SVG + "path", SVG + "polygon", SVG + "ellipse") and e.get("fill") not in (None, "none"))
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", shape.get("d") or shape.get("points"))]
    xs, ys = nums[0::2], nums[1::2]
    shapes.append((node.find(SVG + "title").text, min(xs) + 4 + tx, (min(ys) + max(ys)) / 2 + ty, shape.get("fill")))
assert len(shapes) == 5, f"DAG nodes: {shapes}"
check("dag", shapes)
PY
ok "chromium renders the report: not blank, DAG nodes and Gantt bars in their states' colours where the SVGs put them"
