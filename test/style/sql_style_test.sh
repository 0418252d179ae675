#!/usr/bin/env bash
# The SQL install parts (src/sql/*.sql) and upgrade steps
# (src/sql/upgrade/*/*.sql) keep one layout, the one PostgreSQL's own SQL
# and documentation use: upper-case keywords at the start of a statement
# or clause, spaces (no tabs), no trailing blanks, a final newline; and
# every function, public or internal (schema pgetl, name starting with _),
# is documented by a COMMENT ON FUNCTION in the install parts.  (pg_format
# was tried and not adopted: it lowercases or re-cases to its own style,
# moves end-of-line comments to lines of their own and spreads a 73-line
# part over 123 lines.)  Fails with each offending line.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
files=(src/sql/*.sql src/sql/upgrade/*/*.sql)
bad=0
report() { echo "$1"; bad=$((bad + 1)); }

# whitespace
while IFS= read -r hit; do report "tab: $hit"; done < <(grep -nP '\t' "${files[@]}")
while IFS= read -r hit; do report "trailing blank: $hit"; done < <(grep -nE ' +$' "${files[@]}")
while IFS= read -r hit; do report "carriage return: $hit"; done < <(grep -nP '\r' "${files[@]}")
for f in "${files[@]}"; do
    [ -z "$(tail -c1 "$f")" ] || report "no final newline: $f"
done

# keywords that start a statement or a clause are upper case (comments and
# the lines of multi-line string literals excluded by the pattern: a line
# starting with a lower-case keyword followed by a space or a parenthesis)
kw='select|insert|update|delete|create|alter|drop|comment|grant|revoke|with|from|where|join|left|right|inner|cross|order|group|having|returning|values|union|except|intersect|begin|end|if|elsif|else|loop|while|return|raise|perform|declare|for|foreach|exit|continue|execute|using|language|returns|set|security|on|limit|offset'
while IFS= read -r hit; do report "lower-case keyword: $hit"; done \
    < <(grep -nE "^ *($kw)( |\(|;|$)" "${files[@]}")

# every function has its COMMENT ON FUNCTION: a public one (README:
# Function reference) and an internal one (what it is for, who calls it)
parts=(src/sql/[0-9]*.sql)
for fn in $(grep -hoE '^CREATE (OR REPLACE )?FUNCTION (@extschema@|pgetl)\.[a-z_0-9]+' "${parts[@]}" | awk '{print $NF}' | sort -u); do
    grep -qF "COMMENT ON FUNCTION $fn(" "${parts[@]}" || report "no COMMENT ON FUNCTION for $fn"
done

if [ "$bad" -gt 0 ]; then
    echo "FAIL: $bad lines or functions of the SQL parts break the layout (see above)"
    exit 1
fi
echo "ok - ${#files[@]} SQL files: upper-case keywords, spaces only, no trailing blanks, final newline; every function (public and internal) has a COMMENT ON FUNCTION"
