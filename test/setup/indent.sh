#!/usr/bin/env bash
# PostgreSQL's source layout for pgetl's C (`make indent`): pg_bsd_indent,
# PostgreSQL's own indenter (Debian package pg-bsd-indent), with pgindent's
# settings, over src/*.c and src/*.h.  As pgindent does for code outside
# PostgreSQL's tree, the typedefs list is read from the debug information
# of the objects just built (every typedef the code uses, ours and
# PostgreSQL's), plus those the sources declare, plus "bool".  After indenting, one rule of pgindent's own
# post-processing: a single space before '*' in a function's return type.
#   test/setup/indent.sh          indent the files in place
#   test/setup/indent.sh --check  change nothing; print the diff and exit 1
#                                 when a file is not indented
# Needs the objects built (make all) with -g, as PGXS builds them.
set -euo pipefail
cd "$(dirname "$0")/../.."
check=false
[ "${1:-}" = --check ] && check=true
command -v pg_bsd_indent >/dev/null || { echo "indent: pg_bsd_indent is missing (Debian package pg-bsd-indent)" >&2; exit 2; }
objs=(src/*.o)
[ -e "${objs[0]}" ] || { echo "indent: build first (make all)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    objdump -W "${objs[@]}" | awk '/DW_TAG_typedef/ { t = 1; next }
        t && /DW_AT_name/ { print $NF; t = 0 }'
    # and the typedefs the sources declare (one an object may not use)
    perl -ne 'print "$1\n" if /^\}\s*(\w+);/ || /^typedef\s[^(]*?\b(\w+);\s*$/' src/*.[ch]
    # macros PostgreSQL's typedefs list has (regex_t is #defined to pg_regex_t)
    echo bool; echo regex_t
} | sort -u > "$tmp/typedefs"

# pgindent's options (src/tools/pgindent/pgindent in PostgreSQL's tree)
opts=(-bad -bap -bbb -bc -bl -cli1 -cp33 -cdb -nce -d0 -di12 -nfc1 -i4 -l79 -lp -lpl
      -nip -npro -sac -tpg -ts4 "-U$tmp/typedefs")
status=0
for f in src/*.c src/*.h; do
    out="$tmp/$(basename "$f")"
    pg_bsd_indent "${opts[@]}" "$f" "$out" > "$tmp/err" 2>&1 || { cat "$tmp/err" >&2; status=2; continue; }
    [ -s "$tmp/err" ] && { echo "indent: $f: $(cat "$tmp/err")" >&2; status=2; continue; }
    perl -0pi -e 's/^([A-Za-z_]\S*)[ \t]+\*$/$1 */gm' "$out"
    cmp -s "$f" "$out" && continue
    if $check; then
        diff -u "$f" "$out" | sed "s|$out|$f (indented)|" || true
        status=1
    else
        cp "$out" "$f"
        echo "indented $f"
    fi
done
$check && [ "$status" -eq 1 ] && echo "indent: the files above are not indented; run make indent" >&2
exit "$status"
