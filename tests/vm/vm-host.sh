#!/bin/sh
# Runs inside the nested guest booted by tests/vm/run-in-vm.sh (busybox sh, no bash): checks
# topomap against a real 2-socket, 2-node host with SMT sibling pairs 0-1 and 2-3, node
# distance 21, and cgroup v2 with the cpuset controller.
#
# Parts: topology, plan, realtime, hugepages, cgroup-v2 always; cgroup-apply and room only when the cgroup backend was
# put in $TOPOMAP_PLUGIN_PATH. Exit 0 when every check passed, 1 otherwise.
set -u

CG=/sys/fs/cgroup
BASE=topomap-vm
SYS=/sys/devices/system
parts=
. /test/vm-checks.sh

section() {
	echo
	echo "== $* =="
}

# Kernel list syntax to one number per comma, sorted: "2-3,0" -> "0,2,3".
expand() {
	echo "$1" | tr ',' '\n' | awk -F- 'NF == 1 && $1 != "" { print $1 }
		NF == 2 { for (i = $1; i <= $2; i++) print i }' | sort -n | uniq | tr '\n' ',' |
		sed 's/,$//'
}

# Values of one string key in compact JSON, one a line, in order.
json_strings() {
	grep -o "\"$1\":\"[^\"]*\"" | sed 's/^"[^"]*":"\(.*\)"$/\1/'
}

compact() {
	tr -d ' \n\t'
}

siblings() {
	expand "$(cat "$SYS/cpu/cpu$1/topology/thread_siblings_list")"
}

node_cpus() {
	expand "$(cat "$SYS/node/node$1/cpulist")"
}

# Pages of PID on NODE, summed over its mappings, from /proc/PID/numa_maps.
pages_on() {
	awk -v key="N$2=" '{
		for (i = 1; i <= NF; i++)
			if (index($i, key) == 1)
				sum += substr($i, length(key) + 1)
	} END { print sum + 0 }' "/proc/$1/numa_maps"
}

# run DESCRIPTION EXPECTED-STATUS COMMAND...: run a topomap command, show its output, check
# its exit status.
run() {
	desc=$1
	want=$2
	shift 2
	echo "\$ $*"
	"$@" >/tmp/out 2>&1
	st=$?
	sed 's/^/  /' /tmp/out
	check "$desc: exit status" "$st" "$want"
	[ "$st" = "$want" ]
}

echo "guest: $(uname -r), $(nproc) CPUs, nodes $(cat $SYS/node/online)"

# ------------------------------------------------------------------------------------------
section "topology: topomap topology --format json against the live host"
parts="$parts topology"
topo=$(topomap topology --format json)
st=$?
echo "$topo"
check "topology exit status" "$st" 0
topo=$(echo "$topo" | compact)
check "NUMA nodes" "$(echo "$topo" | grep -o '{"id":[0-9]*' | wc -l)" 2
check "distances" "$(echo "$topo" | grep -o '"distances":\[[^]]*\],\[[^]]*\]\]')" \
	'"distances":[[10,21],[21,10]]'
for n in 0 1; do
	# One node a line: a node object holds objects of its own (its hugepage pools).
	cores=$(echo "$topo" | sed 's/{"id":/@{"id":/g' | tr '@' '\n' | grep "^{\"id\":$n," |
		sed -n 's/.*"cores":\(\[[][0-9,]*\]\).*/\1/p')
	# What the kernel says, as topomap prints it: one [a,b] per core.
	want=$(for c in $(node_cpus "$n" | tr ',' ' '); do echo "$(siblings "$c")"; done | sort -u |
		sed 's/^/[/; s/$/]/' | tr '\n' ',' | sed 's/,$//')
	check "node $n cores (SMT siblings from sysfs)" "$cores" "[$want]"
done
check "siblings of CPU 0 and of CPU 2 (the nested host's shape)" \
	"$(siblings 0) $(siblings 2)" "0,1 2,3"

# ------------------------------------------------------------------------------------------
section "plan: a 2-cell guest with 2 threads per core on the live host"
parts="$parts plan"
plan=$(topomap plan --format json --name vm --vcpus 4 --threads 2 --cells 2 --memory 256M)
st=$?
echo "$plan"
check "plan exit status" "$st" 0
plan=$(echo "$plan" | compact)
cells=$(echo "$plan" | grep -o '"cell":[0-9]*,[^}]*' | json_strings nodeset | tr '\n' ' ')
set -- $cells
check "number of cells" "$#" 2
case "$#:$cells" in
2:*[,-]*) fail "cells on distinct single nodes: got nodesets '$cells'" ;;
2:*) [ "$1" != "$2" ] && ok "cells on distinct single nodes: $1 and $2" ||
	fail "cells on distinct single nodes: both on node $1" ;;
*) fail "cells on distinct single nodes: got nodesets '$cells'" ;;
esac
vcpus=$(echo "$plan" | grep -o '"vcpu":[0-9]*,"cpuset":"[^"]*"' | json_strings cpuset |
	tr '\n' ' ')
set -- $vcpus
check "number of vcpus" "$#" 4
used=
while [ "$#" -ge 2 ]; do
	a=$(expand "$1")
	b=$(expand "$2")
	if [ "$a" != "$b" ] && [ "$(siblings "$a")" = "$(siblings "$b")" ]; then
		ok "guest core on host siblings: PUs $a and $b (siblings $(siblings "$a"))"
	else
		fail "guest core on host siblings: PUs '$a' and '$b' are not SMT siblings"
	fi
	used="$used $a $b"
	shift 2
done
check "every host PU used once" "$(echo $used | tr ' ' '\n' | sort -n | tr '\n' ' ')" "0 1 2 3 "

# ------------------------------------------------------------------------------------------
section "realtime: a realtime vcpu alone on its host core, siblings as sysfs says (issue 21)"
parts="$parts realtime"
plan=$(topomap plan --format json --name rt --vcpus 2 --cells 2 --memory 256M --realtime-cpus 1)
st=$?
echo "$plan"
check "plan exit status" "$st" 0
plan=$(echo "$plan" | compact)
set -- $(echo "$plan" | grep -o '"vcpu":[0-9]*,"cpuset":"[^"]*"' | json_strings cpuset)
rt=$(expand "$2")
sib=$(siblings "$rt" | tr ',' '\n' | grep -vx "$rt")
held=$(expand "$(echo "$plan" | grep -o '"held":"[^"]*"' | json_strings held)")
emu=$(expand "$(echo "$plan" | grep -o '"emulator":{[^}]*}' | json_strings cpuset)")
check "realtime object" "$(echo "$plan" | grep -o '"realtime":{[^}]*}')" \
	'"realtime":{"vcpus":"1","scheduler":"fifo","priority":1}'
[ "$(expand "$1")" != "$sib" ] && ok "vcpu 0 ($1) is not on realtime vcpu 1's sibling $sib" ||
	fail "vcpu 0 runs on realtime vcpu 1's sibling $sib"
case ",$held," in
*",$sib,"*) ok "sibling $sib of realtime vcpu 1 ($rt) is held empty (held $held)" ;;
*) fail "sibling $sib of realtime vcpu 1 ($rt) is not held (held $held)" ;;
esac
case ",$emu," in
*",$rt,"* | *",$sib,"*) fail "the emulator ($emu) runs on realtime vcpu 1's core $rt,$sib" ;;
*) ok "the emulator ($emu) is off realtime vcpu 1's core $rt,$sib" ;;
esac

# ------------------------------------------------------------------------------------------
section "hugepages: pools reserved through sysfs, as topomap topology and plan see them"
parts="$parts hugepages"
pool() {
	echo "$SYS/node/node$1/hugepages/hugepages-2048kB/nr_hugepages"
}
if [ ! -w "$(pool 0)" ] || [ ! -w "$(pool 1)" ]; then
	fail "no writable pool of 2 MiB pages in $SYS/node/node*/hugepages"
else
	echo 4 >"$(pool 0)"
	echo 2 >"$(pool 1)"
	check "pages reserved on nodes 0 and 1" "$(cat "$(pool 0)") $(cat "$(pool 1)")" "4 2"
	topo=$(topomap topology --format json | compact)
	for n in 0 1; do
		node=$(echo "$topo" | sed 's/{"id":/@{"id":/g' | tr '@' '\n' | grep "^{\"id\":$n,")
		pages=$(echo "$node" | grep -o '{"size_kib":2048,"count":[0-9]*}')
		check "node $n pool of 2 MiB pages" "$pages" \
			"{\"size_kib\":2048,\"count\":$(cat "$(pool $n)")}"
		# Normal memory: MemTotal (which holds the pool) less the pool.
		total=$(awk '/MemTotal/ { print int($4 / 1024) }' "$SYS/node/node$n/meminfo")
		mib=$(echo "$node" | sed -n 's/.*"memory_mib":\([0-9]*\).*/\1/p')
		check "node $n memory_mib is MemTotal less the pool" "$mib" \
			"$((total - 2 * $(cat "$(pool $n)")))"
	done
	# 8 MiB in 2 MiB pages: only node 0 has 4; 12 MiB: no node has 6.
	plan=$(topomap plan --format json --name hp --vcpus 1 --memory 8M --hugepages 2M | compact)
	check "8 MiB of 2 MiB pages on node 0" \
		"$(echo "$plan" | grep -o '"cell":0,[^}]*' | json_strings nodeset)" 0
	run "12 MiB of 2 MiB pages does not fit" 3 topomap plan --name hp --vcpus 1 \
		--memory 12M --hugepages 2M
	grep -q "the most free is node 0 with 4" /tmp/out &&
		ok "the refusal names the closest pool" ||
		fail "the refusal does not name node 0's pool of 4"
	echo 0 >"$(pool 0)"
	echo 0 >"$(pool 1)"
fi

# ------------------------------------------------------------------------------------------
section "cgroup-v2: the hierarchy the backend works on"
parts="$parts cgroup-v2"
check "cgroup2 mounted on $CG" "$(awk -v m=$CG '$2 == m { print $3 }' /proc/mounts)" cgroup2
controllers=$(cat $CG/cgroup.controllers)
case " $controllers " in
*" cpuset "*) ok "cpuset in $CG/cgroup.controllers ($controllers)" ;;
*) fail "cpuset not in $CG/cgroup.controllers ('$controllers')" ;;
esac

# ------------------------------------------------------------------------------------------
plugin="${TOPOMAP_PLUGIN_PATH:-}/cgroup.so"
if [ -z "${TOPOMAP_PLUGIN_PATH:-}" ] || [ ! -f "$plugin" ]; then
	section "cgroup-apply: SKIPPED (no cgroup backend in the build: '$plugin' absent)"
	parts="$parts cgroup-apply(skipped:no-plugin)"
else
	parts="$parts cgroup-apply"
	section "cgroup-apply: topomap apply --backend=cgroup on cgroup v2"
	run "backends" 0 topomap backends
	grep -q cgroup /tmp/out && ok "backends lists cgroup" || fail "backends does not list cgroup"

	# What the plan says for the container; apply must write exactly that.
	# cputune too: v1 shares 2048 become cpu.weight 1 + 2046 * 9999 / 262142 = 79.
	guest="--name ct --vcpus 2 --memory 64M --shares 2048 --period 100000 --quota 50000"
	p=$(topomap plan --format json $guest | compact)
	want_cpus=$(expand "$(echo "$p" | grep -o '"vcpu":[0-9]*,"cpuset":"[^"]*"' |
		json_strings cpuset | tr '\n' ',' | sed 's/,$//')")
	want_mems=$(expand "$(echo "$p" | grep -o '"memory":{[^}]*}' | json_strings nodeset)")
	[ "$want_mems" = 0 ] && other=1 || other=0
	echo "plan for ct: cpus '$want_cpus', mems '$want_mems'; the other node is $other"

	ct=$CG/$BASE/ct
	if run "apply --create" 0 topomap apply --backend=cgroup --cgroup $BASE/ct --create $guest &&
		[ -d "$ct" ]; then
		ok "cgroup $ct created"
		check "$BASE/cgroup.subtree_control has cpuset" \
			"$(grep -o cpuset $CG/$BASE/cgroup.subtree_control)" cpuset
		check "cpuset.cpus" "$(expand "$(cat $ct/cpuset.cpus)")" "$want_cpus"
		check "cpuset.mems" "$(expand "$(cat $ct/cpuset.mems)")" "$want_mems"
		check "cpuset.cpus.effective" "$(expand "$(cat $ct/cpuset.cpus.effective)")" \
			"$want_cpus"
		check "cpuset.mems.effective" "$(expand "$(cat $ct/cpuset.mems.effective)")" \
			"$want_mems"
		check "cpu.weight" "$(cat $ct/cpu.weight)" 79
		check "cpu.max" "$(cat $ct/cpu.max)" "50000 100000"
		echo 100 >$ct/cpu.weight
		run "verify (cpu.weight drifted)" 4 topomap verify --backend=cgroup --cgroup $BASE/ct $guest
		grep -q "cpu.weight of '$BASE/ct' is '100', the plan says '79'" /tmp/out &&
			ok "verify names the cpu.weight drift" || fail "verify did not name the cpu.weight drift"
		echo 79 >$ct/cpu.weight
		echo "80000 200000" >$ct/cpu.max
		check "cpu.max changed behind topomap's back" "$(cat $ct/cpu.max)" "80000 200000"
		run "verify (cpu.max drifted)" 4 topomap verify --backend=cgroup --cgroup $BASE/ct $guest
		grep -q "cpu.max of '$BASE/ct' is '80000 200000', the plan says '50000 100000'" /tmp/out &&
			ok "verify names the cpu.max drift" || fail "verify did not name the cpu.max drift"
		echo "50000 100000" >$ct/cpu.max
		# A half of cpu.max the plan leaves unset stays: a quota alone is written alone (the
		# kernel keeps the period), a period alone with the quota that is there.
		run "apply --dry-run (quota only)" 0 topomap apply --backend=cgroup --dry-run \
			--cgroup $BASE/ct --name ct --vcpus 2 --memory 64M --quota 30000
		grep -q "write '30000' to $ct/cpu.max" /tmp/out &&
			ok "a quota alone is written alone" || fail "a quota alone is not written alone"
		run "apply --dry-run (period only)" 0 topomap apply --backend=cgroup --dry-run \
			--cgroup $BASE/ct --name ct --vcpus 2 --memory 64M --period 200000
		grep -q "write '50000 200000' to $ct/cpu.max" /tmp/out &&
			ok "a period alone keeps the quota" || fail "a period alone does not keep the quota"
		check "cpu.max after the dry runs" "$(cat $ct/cpu.max)" "50000 100000"

		# A "container": 48 MiB faulted in on the other node, in a staging cgroup.
		stage=$CG/$BASE/stage
		mkdir $stage
		echo "$other" >$stage/cpuset.mems
		cat $SYS/node/node$other/cpulist >$stage/cpuset.cpus
		sh -c "echo \$\$ > $stage/cgroup.procs && exec vm-memhog 48 /tmp/ready" &
		pid=$!
		i=0
		while [ ! -e /tmp/ready ] && [ $i -lt 300 ]; do
			usleep 100000
			i=$((i + 1))
		done
		pages=12288
		enough=$((pages * 95 / 100))
		before=$(pages_on $pid $other)
		[ "$before" -ge $enough ] &&
			ok "memhog $pid: $before pages on node $other before it joins ct" ||
			fail "memhog $pid: only $before pages on node $other, expected >= $enough"

		echo $pid >$ct/cgroup.procs
		check "memhog in ct" "$(cat $ct/cgroup.procs)" "$pid"
		check "Cpus_allowed_list" \
			"$(expand "$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/$pid/status)")" \
			"$want_cpus"
		check "Mems_allowed_list" \
			"$(expand "$(awk '/^Mems_allowed_list/ { print $2 }' /proc/$pid/status)")" \
			"$want_mems"
		after=$(pages_on $pid $want_mems)
		[ "$after" -ge $enough ] &&
			ok "pages followed ct's cpuset.mems: $after on node $want_mems" ||
			fail "pages did not follow cpuset.mems: $after on node $want_mems, expected >= $enough"

		run "verify (in force)" 0 topomap verify --backend=cgroup --cgroup $BASE/ct $guest

		# Drift behind topomap's back: the other node's CPUs and memory. The kernel moves the
		# pages there; verify must see it; apply must put the plan back and the pages too.
		echo "drift: ct to node $other"
		echo "$other" >$ct/cpuset.mems
		cat $SYS/node/node$other/cpulist >$ct/cpuset.cpus
		echo "  $(pages_on $pid $other) pages on node $other now"
		run "verify (drifted)" 4 topomap verify --backend=cgroup --cgroup $BASE/ct $guest
		run "apply over the drift" 0 topomap apply --backend=cgroup --cgroup $BASE/ct $guest
		check "cpuset.cpus after re-apply" "$(expand "$(cat $ct/cpuset.cpus)")" "$want_cpus"
		check "cpuset.mems after re-apply" "$(expand "$(cat $ct/cpuset.mems)")" "$want_mems"
		check "Cpus_allowed_list after re-apply" \
			"$(expand "$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/$pid/status)")" \
			"$want_cpus"
		after=$(pages_on $pid $want_mems)
		[ "$after" -ge $enough ] &&
			ok "apply moved the pages back to the planned node: $after on node $want_mems" ||
			fail "apply did not move the pages: $after on node $want_mems, expected >= $enough"
		run "verify (in force again)" 0 topomap verify --backend=cgroup --cgroup $BASE/ct $guest

		kill $pid
		wait $pid 2>/dev/null
		rmdir $stage $ct
	else
		fail "apply --create did not create $ct"
	fi

	# The allocation state recorded ct when apply succeeded; a 4-vcpu guest needs every PU
	# of this 4-PU host, so it fits only once ct is released.
	run "state shows ct" 0 topomap state --format json
	grep -q '"name":"ct"' /tmp/out && ok "the state records ct" || fail "the state does not record ct"
	run "4 vcpus do not fit beside ct" 3 topomap plan --name lv --vcpus 4 --memory 256M
	run "release ct" 0 topomap release ct
	run "state after release" 0 topomap state --format json
	grep -q '"guests":\[\]' /tmp/out && ok "release freed ct" || fail "ct is still in the state"

	# libvirt's layout: vcpuN, emulator (and iothreadN) as threaded children.
	guest="--name lv --vcpus 4 --threads 2 --cells 2 --memory 256M"
	p=$(topomap plan --format json $guest | compact)
	lv=$CG/$BASE/lv
	if run "apply --layout libvirt" 0 topomap apply --backend=cgroup --cgroup $BASE/lv \
		--create --layout libvirt $guest && [ -d "$lv" ]; then
		n=0
		for want in $(echo "$p" | grep -o '"vcpu":[0-9]*,"cpuset":"[^"]*"' |
			json_strings cpuset); do
			if [ -d $lv/vcpu$n ]; then
				check "vcpu$n/cgroup.type" "$(cat $lv/vcpu$n/cgroup.type)" threaded
				check "vcpu$n/cpuset.cpus" "$(expand "$(cat $lv/vcpu$n/cpuset.cpus)")" \
					"$(expand "$want")"
			else
				fail "no $lv/vcpu$n"
			fi
			n=$((n + 1))
		done
		if [ -d $lv/emulator ]; then
			check "emulator/cgroup.type" "$(cat $lv/emulator/cgroup.type)" threaded
		else
			fail "no $lv/emulator"
		fi
		check "$BASE/lv/cgroup.type" "$(cat $lv/cgroup.type)" "domain threaded"
		run "verify --layout libvirt" 0 topomap verify --backend=cgroup --cgroup $BASE/lv \
			--layout libvirt $guest

		# Realtime vcpus 2-3 (guest core 1): a sleeping task in vcpu2 and vcpu3 stands for
		# each one's thread, one in vcpu0 for a vcpu that stays as it is. This kernel has
		# no CONFIG_RT_GROUP_SCHED: SCHED_FIFO needs no budget in a cgroup. Without a
		# thread in vcpu3 the apply is refused first.
		sleep 300 &
		t0=$!
		sleep 300 &
		t2=$!
		sleep 300 &
		t3=$!
		for t in "$t0:vcpu0" "$t2:vcpu2"; do
			echo ${t%%:*} >$lv/cgroup.procs && echo ${t%%:*} >$lv/${t#*:}/cgroup.threads ||
				fail "cannot move task ${t%%:*} into ${t#*:}"
		done
		run "apply --realtime-cpus 2-3, vcpu3 without a thread" 2 topomap apply \
			--backend=cgroup --cgroup $BASE/lv --layout libvirt $guest --realtime-cpus 2-3
		grep -q "realtime vcpu 3 has no thread in cgroup 'topomap-vm/lv/vcpu3'" /tmp/out &&
			ok "the refusal names vcpu3" || fail "the refusal does not name vcpu3"
		echo $t3 >$lv/cgroup.procs && echo $t3 >$lv/vcpu3/cgroup.threads ||
			fail "cannot move task $t3 into vcpu3"
		# /proc/PID/stat fields 40 and 41: rt_priority and policy (1: SCHED_FIFO).
		class() { awk '{ print $41 " " $40 }' /proc/$1/stat; }
		run "apply --realtime-cpus 2-3" 0 topomap apply --backend=cgroup --cgroup $BASE/lv \
			--layout libvirt $guest --realtime-cpus 2-3 --realtime-priority 3
		check "vcpu2's task runs SCHED_FIFO priority 3" "$(class $t2)" "1 3"
		check "vcpu3's task runs SCHED_FIFO priority 3" "$(class $t3)" "1 3"
		check "vcpu0's task stays SCHED_OTHER" "$(class $t0)" "0 0"
		run "verify --realtime-cpus 2-3" 0 topomap verify --backend=cgroup --cgroup $BASE/lv \
			--layout libvirt $guest --realtime-cpus 2-3 --realtime-priority 3
		run "apply without realtime vcpus" 0 topomap apply --backend=cgroup --cgroup $BASE/lv \
			--layout libvirt $guest
		check "vcpu2's task back to SCHED_OTHER" "$(class $t2)" "0 0"
		check "vcpu3's task back to SCHED_OTHER" "$(class $t3)" "0 0"
		kill $t0 $t2 $t3
		wait $t0 $t2 $t3 2>/dev/null
	else
		fail "apply --layout libvirt did not create $lv"
	fi
fi


# ------------------------------------------------------------------------------------------
# Issue 18 on cgroup v2: the move sequences of apply --make-room and rebalance --apply put in
# force with real tasks whose pages follow cpuset.mems across the two nodes, verify clean
# after each, and a write failing at each step of the make-room putting everything back.
if [ -n "${TOPOMAP_PLUGIN_PATH:-}" ] && [ -f "$plugin" ]; then
	parts="$parts room"
	section "room: apply --make-room and rebalance --apply on cgroup v2, memory across nodes"
	RS=/tmp/room-state.json
	room_start=$(date +%s)
	rs="--state $RS"
	hogs=

	# hog NAME: a task holding 16 MiB in cgroup NAME, faulted in where its cpuset.mems says.
	hog() {
		rm -f /tmp/ready-$1
		sh -c "echo \$\$ > $CG/$BASE/$1/cgroup.procs && exec vm-memhog 16 /tmp/ready-$1" &
		eval "hog_$1=$!"
		hogs="$hogs $!"
		i=0
		while [ ! -e /tmp/ready-$1 ] && [ $i -lt 300 ]; do
			usleep 100000
			i=$((i + 1))
		done
	}
	hog_pid() {
		eval "echo \$hog_$1"
	}
	status_of() {
		expand "$(awk -v k="$2:" '$1 == k { print $2 }' /proc/$(hog_pid $1)/status)"
	}
	# Each named guest's cgroup, its task as the kernel enforces it and where its pages
	# are, then the state file: what a failed transaction must leave as it found.
	room_snapshot() {
		for g in "$@"; do
			pid=$(hog_pid $g)
			echo "$g cpus=$(cat $CG/$BASE/$g/cpuset.cpus) mems=$(cat $CG/$BASE/$g/cpuset.mems)" \
				"task=$(status_of $g Cpus_allowed_list)/$(status_of $g Mems_allowed_list)" \
				"pages0=$(($(pages_on $pid 0) * 10 / 4096)) pages1=$(($(pages_on $pid 1) * 10 / 4096))"
		done
		cat $RS
	}
	# The node of cgroup NAME's one memory node.
	node_of() {
		cat $CG/$BASE/$1/cpuset.mems
	}
	# Every page of NAME's task on the node its cgroup says.
	pages_follow() {
		n=$(node_of $1)
		got=$(pages_on $(hog_pid $1) $n)
		[ "$got" -ge 3900 ] && ok "$2: $1's pages on node $n ($got)" ||
			fail "$2: $1's pages not on node $n: $got of 4096"
	}

	# ra on node 0 and rb on node 1 (the reserve steers the solver), one PU free on each: a
	# one-cell guest of 2 vcpus fits neither node until one of them moves, pages and all.
	run "reserve 1-3" 0 topomap reserve $rs --add 1-3
	run "apply ra" 0 topomap apply $rs --backend=cgroup --cgroup $BASE/ra --create \
		--name ra --vcpus 1 --memory 16M
	run "reserve 1,3 only" 0 topomap reserve $rs --remove 2
	run "apply rb" 0 topomap apply $rs --backend=cgroup --cgroup $BASE/rb --create \
		--name rb --vcpus 1 --memory 16M
	run "no reserve" 0 topomap reserve $rs --remove 1,3
	check "ra on PU 0, node 0" "$(cat $CG/$BASE/ra/cpuset.cpus)/$(node_of ra)" "0/0"
	check "rb on PU 2, node 1" "$(cat $CG/$BASE/rb/cpuset.cpus)/$(node_of rb)" "2/1"
	hog ra
	hog rb
	pages_follow ra "before"
	pages_follow rb "before"
	big="--backend=cgroup --cgroup $BASE/rbig --create --name rbig --vcpus 2 --memory 16M --cell cpus=0-1"
	run "rbig does not fit as the host stands" 3 topomap apply $rs $big

	# --no-memory: cgroup v2 moves pages with cpuset.mems, so it cannot be done; refused
	# before any cgroup is written.
	before=$(room_snapshot ra rb)
	run "apply --make-room --no-memory on cgroup v2" 1 topomap apply --make-room --no-memory $rs $big
	grep -q "cgroup v2 moves the pages of '$BASE/r[ab]' with its cpuset.mems" /tmp/out &&
		ok "--no-memory refused: v2 moves the pages" || fail "--no-memory not refused as it should"
	[ "$(room_snapshot ra rb)" = "$before" ] && ok "--no-memory refused: nothing changed" ||
		fail "--no-memory refused: something changed"
	[ -d $CG/$BASE/rbig ] && rmdir $CG/$BASE/rbig

	# A write refused at step k (every cgroup file the transaction writes, in turn): exit 1,
	# every moved cgroup, its task, its pages and the state as they were. The first k past
	# the last write is the transaction that succeeds.
	k=1
	while [ $k -le 30 ]; do
		echo "\$ (write $k refused) topomap apply --make-room $rs $big"
		env LD_PRELOAD=/usr/lib/fault-inject.so TOPOMAP_FAULT_CALL=write \
			TOPOMAP_FAULT_AT=$k TOPOMAP_FAULT_KILL=0 topomap apply --make-room $rs $big \
			>/tmp/out 2>&1
		st=$?
		[ $st = 0 ] && break
		sed 's/^/  /' /tmp/out
		check "write $k refused: exit status" "$st" 1
		now=$(room_snapshot ra rb)
		[ "$now" = "$before" ] && ok "write $k refused: ra, rb, their tasks, pages and the state as they were" ||
			{ fail "write $k refused: something changed"; echo "$before" >/tmp/b; echo "$now" | diff /tmp/b -; }
		[ -d $CG/$BASE/rbig ] && rmdir $CG/$BASE/rbig
		k=$((k + 1))
	done
	sed 's/^/  /' /tmp/out
	check "apply --make-room succeeds once write $k is past its last write" "$st" 0
	[ $k -ge 3 ] && ok "$((k - 1)) refused writes tried, each restored" ||
		fail "only $((k - 1)) refused writes: the transaction wrote too little"
	if [ "$(node_of ra)" = 1 ]; then moved=ra; kept=rb; else moved=rb; kept=ra; fi
	check "both ra and rb on one node after the move" "$(node_of ra)" "$(node_of rb)"
	check "$moved's task follows its cgroup" "$(status_of $moved Cpus_allowed_list)" \
		"$(expand "$(cat $CG/$BASE/$moved/cpuset.cpus)")"
	pages_follow $moved "make-room"
	pages_follow $kept "make-room"
	free=$((1 - $(node_of ra)))
	check "rbig holds node $free" "$(expand "$(cat $CG/$BASE/rbig/cpuset.cpus)")/$(node_of rbig)" \
		"$(node_cpus $free)/$free"
	run "verify --all after make-room" 0 topomap verify --all $rs

	# rebalance: rbig released, then rc on the free node and rb... released, so one guest on
	# each node again with a PU free on each: the largest cell grows from 1 to 2 PUs.
	run "release rbig" 0 topomap release $rs rbig
	rmdir $CG/$BASE/rbig
	run "apply rc (on the free node)" 0 topomap apply $rs --backend=cgroup --cgroup $BASE/rc \
		--create --name rc --vcpus 1 --memory 16M
	hog rc
	run "release $kept" 0 topomap release $rs $kept
	kill $(hog_pid $kept)
	wait $(hog_pid $kept) 2>/dev/null
	rmdir $CG/$BASE/$kept
	check "rc on the free node" "$(node_of rc)" "$free"
	before=$(room_snapshot $moved rc)
	run "rebalance --apply, the first write refused" 1 env LD_PRELOAD=/usr/lib/fault-inject.so \
		TOPOMAP_FAULT_CALL=write TOPOMAP_FAULT_AT=1 TOPOMAP_FAULT_KILL=0 \
		topomap rebalance --apply $rs
	now=$(room_snapshot $moved rc)
	[ "$now" = "$before" ] && ok "rebalance refused: the guests, tasks, pages and state as they were" ||
		{ fail "rebalance refused: something changed"; echo "$before" >/tmp/b; echo "$now" | diff /tmp/b -; }
	run "rebalance --apply" 0 topomap rebalance --apply $rs
	grep -q "grows from 1 to 2 PUs" /tmp/out && ok "rebalance: the largest cell grows from 1 to 2" ||
		fail "rebalance did not say 'grows from 1 to 2 PUs'"
	check "$moved and rc on one node after rebalance" "$(node_of $moved)" "$(node_of rc)"
	pages_follow $moved "rebalance"
	pages_follow rc "rebalance"
	run "verify --all after rebalance" 0 topomap verify --all $rs
	kill $hogs 2>/dev/null
	wait 2>/dev/null
	for g in ra rb rc; do
		[ -d $CG/$BASE/$g ] && rmdir $CG/$BASE/$g
	done
	echo "room: $(($(date +%s) - room_start)) s"
fi

echo
echo "parts run:$parts"
if [ "$failed" = 0 ]; then
	echo "vm-host: all $checks checks passed"
	exit 0
fi
echo "vm-host: $failed of $checks checks FAILED"
exit 1
