# bash completion for topomap(1)                                  -*- shell-script -*-
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Subcommands and their options, read from 'topomap --help' and 'topomap CMD --help' (so a
# command or option added to the help is completed with no change here; tests/
# check-completion.sh checks they are equal), option values, backend names from 'topomap
# backends', libvirt domains from 'virsh list --all --name', and cgroups under the cpuset
# hierarchy's mount.

# The commands 'topomap --help' lists under "Commands:".
_topomap_commands()
{
	"$1" --help 2>/dev/null | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
		on && /^  [a-z]/ { print $1 }'
}

# The options of one subcommand, as its --help lists them (not its example).
_topomap_options()
{
	local bin=$1 cmd=$2
	"$bin" "$cmd" --help 2>/dev/null | sed '/^Examples\{0,1\}:$/,$d' |
		grep -oE '(^|[[:space:][(|,])--?[a-z][a-z-]*' | sed 's/^[^-]*//' | sort -u |
		# state and release share a help text; --format is state's alone, --no-follow
		# release's.
		if [[ $cmd == release ]]; then grep -vx -- --format; else grep -vx -- --no-follow; fi
}

# Options that take a value (the next word, or after '=').
_topomap_takes_value()
{
	case $1 in
	--topology | --format | --reserve | --state | --backend | --name | --vcpus | --sockets | \
	--cores | --threads | --memory | --cells | --cell | --cpu-policy | --thread-policy | \
	--emulator | --iothreads | --memory-mode | --hugepages | --shares | --period | --quota | \
	--device | --max-moves | --pus | --shared-set | --cpu-overcommit | --memory-overcommit | \
	--dedicated-cpus | --realtime-cpus | --realtime-priority | \
	--cgroup | \
	--layout | --qmp | --pid | --connect | --domain | -o)
		return 0 ;;
	esac
	return 1
}

# Backend names, first column of 'topomap backends' (the modules that loaded).
_topomap_backends()
{
	"$1" backends 2>/dev/null | while read -r name abi _; do
		case $name in
		'' | BACKEND | '?') ;;
		*) [[ $name =~ ^[a-z0-9-]+$ && $abi =~ ^[0-9]+$ ]] && printf '%s\n' "$name" ;;
		esac
	done
}

# The cpuset hierarchy's mount: cgroup v1 with the cpuset controller, else cgroup v2.
# Fields are split on blanks whatever IFS the caller set (the --cgroup completion sets it to a
# newline for the directory names).
_topomap_cpuset_mount()
{
	local dir type opts v2='' IFS=$' \t\n'
	while read -r _ dir type opts _; do
		if [[ $type == cgroup && ,$opts, == *,cpuset,* ]]; then
			printf '%s\n' "$dir"
			return
		fi
		[[ $type == cgroup2 && -z $v2 ]] && v2=$dir
	done </proc/self/mounts 2>/dev/null
	[[ -n $v2 ]] && printf '%s\n' "$v2"
}

# Directories under the cpuset hierarchy: relative paths, or absolute ones inside it.
_topomap_cgroups()
{
	local cur=$1 mnt d
	mnt=$(_topomap_cpuset_mount)
	[[ -n $mnt && -d $mnt ]] || return
	if [[ $cur == /* ]]; then
		compgen -d -- "$cur"
		return
	fi
	while IFS= read -r d; do
		printf '%s/\n' "${d#"$mnt"/}"
	done < <(compgen -d -- "$mnt/$cur")
}

_topomap_domains()
{
	local connect=$1
	type -P virsh >/dev/null 2>&1 || return
	virsh ${connect:+-c "$connect"} list --all --name 2>/dev/null | sed '/^$/d'
}

# Guest names the state holds, for 'release'.
_topomap_state_guests()
{
	"$1" state --format json 2>/dev/null |
		sed -n 's/.*"name": *"\([^"]*\)".*/\1/p; s/.*"name":"\([^"]*\)".*/\1/p' | sort -u
}

_topomap_value()
{
	local bin=$1 cmd=$2 opt=$3 cur=$4 connect=$5
	case $opt in
	--format)
		case $cmd in
		plan) COMPREPLY=($(compgen -W 'table json libvirt qemu svg png' -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W 'table json' -- "$cur")) ;;
		esac ;;
	--topology)
		COMPREPLY=($(compgen -W 'live synthetic:' -- "$cur"))
		COMPREPLY+=($(compgen -f -- "$cur"))
		compopt -o filenames -o nospace 2>/dev/null ;;
	--state | --qmp)
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null ;;
	--backend)
		COMPREPLY=($(compgen -W "$(_topomap_backends "$bin")" -- "$cur")) ;;
	--domain)
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(_topomap_domains "$connect")" -- "$cur")) ;;
	--cgroup)
		local IFS=$'\n'
		COMPREPLY=($(_topomap_cgroups "$cur"))
		compopt -o nospace 2>/dev/null ;;
	--cpu-policy) COMPREPLY=($(compgen -W 'dedicated shared mixed' -- "$cur")) ;;
	--thread-policy) COMPREPLY=($(compgen -W 'prefer isolate require' -- "$cur")) ;;
	--emulator) COMPREPLY=($(compgen -W 'share isolate share-host' -- "$cur")) ;;
	--memory-mode) COMPREPLY=($(compgen -W 'strict preferred interleave restrictive' -- "$cur")) ;;
	--hugepages) COMPREPLY=($(compgen -W '2M 1G' -- "$cur")) ;;
	--layout) COMPREPLY=($(compgen -W 'container libvirt' -- "$cur")) ;;
	--cell) COMPREPLY=($(compgen -W 'cpus=' -- "$cur")); compopt -o nospace 2>/dev/null ;;
	--device) COMPREPLY=($(compgen -W 'pci= net= vf_of= class=' -- "$cur"))
		compopt -o nospace 2>/dev/null ;;
	--pid) COMPREPLY=($(compgen -W "$(pgrep qemu 2>/dev/null)" -- "$cur")) ;;
	*) COMPREPLY=() ;;
	esac
}

_topomap()
{
	local cur=${COMP_WORDS[COMP_CWORD]} bin=${COMP_WORDS[0]}
	local commands cmd='' connect='' i w opt=''
	COMPREPLY=()
	type -P "$bin" >/dev/null 2>&1 || bin=topomap

	# The subcommand, and a --connect given earlier (for --domain).
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd && $w != -* ]]; then
			cmd=$w
		elif [[ $w == --connect=* ]]; then
			connect=${w#--connect=}
		elif [[ $w == --connect ]]; then
			connect=${COMP_WORDS[i + 1]}
			[[ $connect == = ]] && connect=${COMP_WORDS[i + 2]}
		fi
	done

	if [[ -z $cmd ]]; then
		commands=$(_topomap_commands "$bin")
		COMPREPLY=($(compgen -W "$commands --help -h --version" -- "$cur"))
		return
	fi

	# The value of an option: "--opt VALUE", "--opt=VALUE" split by COMP_WORDBREAKS into
	# "--opt" "=" "VALUE", or one word "--opt=VALUE".
	local prev=${COMP_WORDS[COMP_CWORD - 1]}
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		cur=${cur#*=}
	elif [[ $cur == = ]] && _topomap_takes_value "$prev"; then
		opt=$prev
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif _topomap_takes_value "$prev"; then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		_topomap_value "$bin" "$cmd" "$opt" "$cur" "$connect"
		return
	fi

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_topomap_options "$bin" "$cmd")" -- "$cur"))
		return
	fi
	case $cmd in
	plan | apply | verify)
		COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
		compopt -o filenames 2>/dev/null ;;
	release)
		COMPREPLY=($(compgen -W "$(_topomap_state_guests "$bin")" -- "$cur")) ;;
	esac
} &&
	complete -F _topomap topomap

# ex: filetype=sh
