#!/bin/bash
# The layer table (README "Layout"): each folder includes only the project
# folders and third-party headers it may use, and a folder's private header
# (*_impl.h) only from that folder. A stray include fails here even where
# the compiler would find the header anyway.
. "$(dirname "$0")/lib.sh"
cd "${TOP:-$(dirname "$0")/../..}" || exit 1

# folder: project folders it may include | third-party headers it may include
declare -A MAY=(
	[lib]="lib|"
	[backends]="lib backends|curl/ openssl/"
	[repo]="lib backends repo|openssl/ zstd jansson keyutils"
	[catalog]="lib repo catalog|"
	[ingest]="lib ingest|archive archive_entry jansson openssl/"
	[engine]="lib repo catalog ingest search engine|jansson archive archive_entry"
	[jobs]="lib repo catalog ingest engine jobs|ini jansson"
	[search]="lib repo catalog search|sqlite3 jansson"
	[fs]="lib repo catalog fs|fuse"
	[cli]="*|*"
)
THIRD="fuse|archive|archive_entry|jansson|zstd|openssl/|curl/|sqlite3|ini|keyutils"

for dir in "${!MAY[@]}"; do
	[ -d "$dir" ] || continue
	proj=${MAY[$dir]%%|*}
	third=${MAY[$dir]#*|}
	bad=
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -f "$f" ] || continue
		while IFS= read -r inc; do
			case $inc in
			\"*)
				p=${inc#\"}; p=${p%\"}
				top=${p%%/*}
				if [[ "$p" == *_impl.h && "$top" != "$dir" ]]; then
					bad+=" $f:$p(private)"
				elif [ "$proj" != "*" ] && [[ " $proj " != *" $top "* ]]; then
					bad+=" $f:$p"
				fi ;;
			\<*)
				h=${inc#<}; h=${h%>}
				if [[ "$h" =~ ^($THIRD) ]] && [ "$third" != "*" ]; then
					ok=0
					for t in $third; do [[ "$h" == "$t"* ]] && ok=1; done
					[ $ok = 1 ] || bad+=" $f:<$h>"
				fi ;;
			esac
		done < <(sed -n 's/^#include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' "$f")
	done
	if [ -z "$bad" ]; then
		pass "$dir/ includes only what its layer may use"
	else
		fail "$dir/ includes what its layer may not:$bad"
	fi
done

# the backend is repo/'s own business: nothing above asks for it
if grep -rn "repo_be(\|repo_backend(" catalog engine fs cli search 2>/dev/null | grep -v '^tests/'; then
	fail "a layer above repo/ reaches for the backend"
else
	pass "no layer above repo/ reaches for the backend"
fi
# traits are asked of the backend, not guessed from its name
if grep -rn '"local")' --include=*.c engine fs cli catalog repo 2>/dev/null; then
	fail "code compares a backend's name to tune itself"
else
	pass "no code tunes itself by a backend's name"
fi
