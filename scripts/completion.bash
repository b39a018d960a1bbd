# Bash completion for casebook and casebookd, installed as
# share/bash-completion/completions/casebook (and casebookd, a link).
#
# The words come from the programs' own --help, read when completing,
# so the completion never disagrees with the installed version: the
# commands listed under "Commands:", then the options and subcommands a
# command's usage lines name ("--data DIR", "create|list|revoke").

_casebook_words() {
	# $1 program, $2 command or "": the words its help offers
	if [ -z "$2" ]; then
		"$1" --help 2>/dev/null | awk '
			/^Commands:/ { on = 1; next }
			on && /^$/ { on = 0 }
			on && /^  [a-z]/ { print $1 }
			/^ *-/ {
				# "  --home DIR", "  -q, --quiet": the long names
				for (i = 1; i <= 2 && i <= NF; i++) {
					w = $i
					sub(/,$/, "", w)
					if (w ~ /^--[a-z-]+$/) print w
				}
			}'
	else
		"$1" "$2" --help 2>/dev/null | awk -v cmd="$2" '
			/^$/ { exit }
			{
				for (i = 1; i <= NF; i++) {
					w = $i
					gsub(/[][]/, "", w)
					if (w ~ /^--[a-z-]+$/) print w
					else if (w ~ /^[a-z]+(\|[a-z]+)+$/ && $(i-1) == cmd) {
						n = split(w, parts, "|")
						for (k = 1; k <= n; k++) print parts[k]
					} else if ($(i-1) == cmd && w ~ /^[a-z]+$/ && w != cmd)
						print w
				}
			}' | sort -u
	fi
}

_casebook() {
	local cur prog cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	prog=${COMP_WORDS[0]}
	cmd=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--home | --user | --passphrase-file) ((i++)) ;;
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	case ${COMP_WORDS[COMP_CWORD - 1]} in
	--home | --data | --out | --from | --protocol | --passphrase-file | \
		--tls-cert | --tls-key | --cacert | --key | --file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac
	COMPREPLY=($(compgen -W "$(_casebook_words "$prog" "$cmd")" -- "$cur"))
}

complete -F _casebook casebook casebookd
