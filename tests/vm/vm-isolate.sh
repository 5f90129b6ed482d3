#!/bin/sh
# Runs inside the nested guest booted by tests/vm/run-in-vm.sh (busybox sh): issue 15's "Done
# when" on a real host with SMT (siblings 0-1, 2-3), 2 nodes and cgroup v2 (kernel 6.1). Two
# dedicated guests in cgroups of their own with sleeping tasks, a system cgroup with
# sleeping tasks; topomap host isolate makes the guests' cgroups isolated partitions and
# narrows system.slice, moves the interrupts off the guests' PUs; verify --host exits 0; a
# task cannot be pinned onto a guest PU while it holds; a write failure injected halfway
# puts everything back; --undo puts back every file; a task pinned by hand onto a guest PU
# then makes verify --host exit 4 naming it. A third guest applied after isolate joins the
# isolation in the same call (issue 15, item 3): its partition isolated, the system tasks off
# its PU, verify --host 0, and --undo puts back its partition too. Before it, g1 grown by
# resize --apply takes a free PU into the isolation, shrunk gives it back; host set --shared-set
# of the free PU gives it to system.slice and its tasks (each isolation write refused in turn
# puts everything back), and no pool takes it back. Booted with the fragment of host show
# --format cmdline instead, it checks what the kernel made of it. Exit 0 when every check
# passed.
set -u

CG=/sys/fs/cgroup
export TOPOMAP_STATE=/tmp/state.json
passed=0
failed=0

say() {
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	echo "$1 - $2"
}

# expect DESCRIPTION STATUS COMMAND...: run it, show its output, compare its exit status.
expect() {
	what=$1
	want=$2
	shift 2
	echo "\$ $*"
	"$@" >/tmp/out 2>&1
	got=$?
	sed 's/^/  /' /tmp/out
	[ "$got" = "$want" ] && say ok "$what: exit $got" || say FAIL "$what: exit $got, not $want"
}

# Does list $1 (kernel syntax) hold PU $2?
holds() {
	echo ",$1," | tr '-' ' ' | awk -v pu="$2" -F, '{ for (i = 2; i < NF; i++) {
		n = split($i, r, " "); if ((n == 1 && r[1] == pu) || (n == 2 && pu >= r[1] && pu <= r[2])) f = 1 } }
		END { exit !f }'
}

allowed() {
	grep Cpus_allowed_list "/proc/$1/status" | awk '{ print $2 }'
}

# Every file isolate may touch, as it is: the cgroups' and the interrupts'.
snapshot() {
	for f in $CG/cgroup.subtree_control $CG/*/cpuset.cpus $CG/*/cpuset.cpus.partition \
		/proc/irq/*/smp_affinity_list; do
		[ -f "$f" ] && echo "$f $(cat "$f")"
	done
}

# A snapshot without the guests' own sets (a resize may move them).
but_guests() {
	grep -v -e "^$CG/g[123]/cpuset.cpus "
}

echo "guest: $(uname -r), $(nproc) CPUs"
mkdir -p $CG/system.slice
echo +cpuset >$CG/cgroup.subtree_control
sleep 600 &
sys1=$!
sleep 600 &
sys2=$!
echo $sys1 >$CG/system.slice/cgroup.procs
echo $sys2 >$CG/system.slice/cgroup.procs

expect "apply g1" 0 topomap apply --backend=cgroup --cgroup g1 --create --name g1 --vcpus 1 \
	--memory 64M --reserve 0
expect "apply g2" 0 topomap apply --backend=cgroup --cgroup g2 --create --name g2 --vcpus 1 \
	--memory 64M
p1=$(cat $CG/g1/cpuset.cpus)
p2=$(cat $CG/g2/cpuset.cpus)
sleep 600 &
t1=$!
sleep 600 &
t2=$!
echo $t1 >$CG/g1/cgroup.procs
echo $t2 >$CG/g2/cgroup.procs
echo "g1 on PU $p1, g2 on PU $p2"
expect "host show" 0 topomap host show
iso=$(awk '$1 == "isolated" { print $2 }' /tmp/out)

# Booted with the fragment host show prints (tests/vm/meson.build passes it with --append):
# the same text, and the kernel's own sets read back equal to the partition's.
if grep -q isolcpus= /proc/cmdline; then
	expect "host show --format cmdline" 0 topomap host show --format cmdline
	booted=$(tr ' ' '\n' </proc/cmdline | grep -E '^(isolcpus|nohz_full|rcu_nocbs|irqaffinity)=' |
		tr '\n' ' ' | sed 's/ $//')
	[ "$(cat /tmp/out)" = "$booted" ] && say ok "host show prints the fragment booted: $booted" ||
		say FAIL "host show prints '$(cat /tmp/out)', booted with '$booted'"
	for f in isolated nohz_full; do
		got=$(cat /sys/devices/system/cpu/$f)
		[ "$got" = "$iso" ] && say ok "the kernel's $f reads the partition's $iso" ||
			say FAIL "the kernel's $f reads '$got', the partition isolates '$iso'"
	done
	expect "lint" 4 topomap lint
	grep -q "the running kernel isolates" /tmp/out && say FAIL "lint says the kernel disagrees" ||
		say ok "lint finds the kernel's isolation in agreement"
	kill $sys1 $sys2 $t1 $t2
	echo "vm-isolate (cmdline): $passed passed, $failed failed"
	[ $failed = 0 ]
	exit
fi

before=$(snapshot)
expect "verify --host before isolate" 4 topomap verify --host
grep -q "pid $sys1 " /tmp/out && say ok "verify --host names a system task before isolate" ||
	say FAIL "verify --host does not name system task $sys1 before isolate"

# system.slice's empty cpuset.cpus (its parent's) comes back as the PUs it had in effect: the
# kernel refuses to empty a populated cgroup's.
expected=$(echo "$before" | sed "s|^$CG/system.slice/cpuset.cpus \$|$CG/system.slice/cpuset.cpus $(cat $CG/cpuset.cpus.effective)|")
# A write that fails halfway (the third: g2's partition, after system.slice and g1's):
# everything is put back.
expect "isolate, a write failing" 1 env LD_PRELOAD=/usr/lib/fault-inject.so \
	TOPOMAP_FAULT_CALL=write TOPOMAP_FAULT_AT=3 TOPOMAP_FAULT_KILL=0 topomap host isolate
grep -q "g2/cpuset.cpus.partition" /tmp/out && say ok "the third write was g2's partition" ||
	say FAIL "the third write was not g2's partition"
[ "$(snapshot)" = "$expected" ] && say ok "the failed isolate put every file back" ||
	{ say FAIL "the failed isolate left files changed"; snapshot >/tmp/after; echo "$expected" | diff - /tmp/after; }

expect "host isolate" 0 topomap host isolate
cp /tmp/out /tmp/isolate.out
for g in g1 g2; do
	part=$(cat $CG/$g/cpuset.cpus.partition)
	[ "$part" = isolated ] && say ok "$g partition reads isolated" ||
		say FAIL "$g partition reads '$part'"
done
for t in $sys1 $sys2; do
	a=$(allowed $t)
	if holds "$a" "$p1" || holds "$a" "$p2"; then
		say FAIL "system task $t still allowed on $a"
	else
		say ok "system task $t allowed on $a only"
	fi
done
moved=0
for f in /proc/irq/*/smp_affinity_list; do
	irq=$(basename "$(dirname "$f")")
	a=$(cat "$f")
	if holds "$a" "$p1" || holds "$a" "$p2"; then
		grep -q "irq $irq:" /tmp/out && say ok "irq $irq on $a: reported as refused" ||
			say FAIL "irq $irq still on $a, not reported"
	else
		moved=$((moved + 1))
	fi
done
[ $moved -gt 0 ] && say ok "$moved interrupts off the guests' PUs" || say FAIL "no interrupt moved"

expect "verify --host after isolate" 0 topomap verify --host
sleep 600 &
x=$!
taskset -p -c "$p1" $x >/dev/null 2>&1 && say FAIL "a task was pinned onto isolated PU $p1" ||
	say ok "the kernel refuses to pin a task onto isolated PU $p1"

# resize --apply on the isolated host (issue 15, item 3): g1 grown to 2 vcpus takes a PU the
# host kept no task on but IRQs had; in the same call it becomes g1's (its partition
# isolated), the interrupts leave it and verify --host still exits 0; shrunk back, g1 gives
# it back and every file is as it was before the grow.
grown_before=$(snapshot)
expect "resize g1 to 2 vcpus" 0 topomap resize g1 --vcpus 2 --apply
pg=$(cat $CG/g1/cpuset.cpus)
part=$(cat $CG/g1/cpuset.cpus.partition)
[ "$part" = isolated ] && say ok "g1 grown onto $pg: partition reads isolated" ||
	say FAIL "g1 grown onto $pg: partition reads '$part'"
for f in /proc/irq/*/smp_affinity_list; do
	irq=$(basename "$(dirname "$f")")
	a=$(cat "$f")
	for pu in $(echo "$pg" | tr ',-' '  '); do
		if holds "$a" "$pu" && ! grep -q "irq $irq:" /tmp/out /tmp/isolate.out; then
			say FAIL "irq $irq still on $a after g1 grew onto $pg"
		fi
	done
done
for t in $sys1 $sys2; do
	a=$(allowed $t)
	for pu in $(echo "$pg" | tr ',-' '  '); do
		holds "$a" "$pu" && say FAIL "system task $t allowed on g1's PU $pu ($a)"
	done
done
expect "verify --host after the grow" 0 topomap verify --host
expect "resize g1 back to 1 vcpu" 0 topomap resize g1 --vcpus 1 --apply
# The grow moved g2 to make room (g1 took node 1's core): the guests' own sets may differ,
# nothing else.
[ "$(snapshot | but_guests)" = "$(echo "$grown_before" | but_guests)" ] &&
	say ok "the shrink gave back what the grow took" ||
	{ say FAIL "files differ after the grow and the shrink"; snapshot >/tmp/after; echo "$grown_before" | diff - /tmp/after; }
expect "verify --host after the shrink" 0 topomap verify --host

# host set on the isolated host: the host keeps the housekeeping PU and the shared pool, so a
# pool that takes the free PU gives it to system.slice and its tasks in host set's own
# transaction; each of its isolation writes refused in turn puts back every file and the
# state; the pool given up again takes the PU back. host show and verify --host agree.
p1=$(cat $CG/g1/cpuset.cpus)
p2=$(cat $CG/g2/cpuset.cpus)
pf=
for pu in 1 2 3; do
	holds "$p1" $pu || holds "$p2" $pu || pf=$pu
done
echo "g1 on PU $p1, g2 on PU $p2: PU $pf is free"
pool_before=$(snapshot)
cp $TOPOMAP_STATE /tmp/state.before
refused=0
at=1
while [ $at -le 40 ]; do
	env LD_PRELOAD=/usr/lib/fault-inject.so TOPOMAP_FAULT_CALL=write TOPOMAP_FAULT_AT=$at \
		TOPOMAP_FAULT_KILL=0 topomap host set --shared-set "$pf" >/tmp/out 2>&1
	got=$?
	[ $got = 0 ] && break
	refused=$((refused + 1))
	[ $got = 1 ] || say FAIL "host set with write $at refused: exit $got, not 1"
	grep -q "isolate: " /tmp/out || say FAIL "host set with write $at refused: not in the isolation: $(cat /tmp/out)"
	[ "$(snapshot)" = "$pool_before" ] && cmp -s $TOPOMAP_STATE /tmp/state.before ||
		{ say FAIL "host set with write $at refused left files or the state changed"; sed 's/^/  /' /tmp/out; snapshot >/tmp/after; echo "$pool_before" | diff - /tmp/after; }
	at=$((at + 1))
done
[ $refused -gt 1 ] && [ $got = 0 ] &&
	say ok "host set --shared-set $pf: each of its $refused isolation writes refused put everything back" ||
	say FAIL "host set --shared-set $pf: $refused writes refused, then exit $got"
sed 's/^/  /' /tmp/out
grep -q "^isolation made again for the new pool:" /tmp/out &&
	grep -q "to $CG/system.slice/cpuset.cpus (was '" /tmp/out &&
	say ok "host set printed what it changed in the isolation" ||
	say FAIL "host set did not print system.slice's write"
a=$(cat $CG/system.slice/cpuset.cpus)
holds "$a" "$pf" && say ok "system.slice follows the pool: $a" ||
	say FAIL "system.slice reads $a, without the pool's PU $pf"
for t in $sys1 $sys2; do
	a=$(allowed $t)
	holds "$a" "$pf" && say ok "system task $t allowed on the pool's PU $pf ($a)" ||
		say FAIL "system task $t allowed on $a, not on the pool's PU $pf"
done
expect "host show with the pool" 0 topomap host show
grep -q "^shared pool    $pf\$" /tmp/out && say ok "host show: shared pool $pf" ||
	say FAIL "host show does not show the shared pool $pf"
expect "verify --host with the pool" 0 topomap verify --host
expect "host set --shared-set ''" 0 topomap host set --shared-set ''
for t in $sys1 $sys2; do
	a=$(allowed $t)
	holds "$a" "$pf" && say FAIL "system task $t still allowed on $pf ($a) with no pool" ||
		say ok "system task $t gave the PU $pf back ($a)"
done
[ "$(snapshot)" = "$pool_before" ] && say ok "no pool again: every file as before" ||
	{ say FAIL "no pool again: files differ"; snapshot >/tmp/after; echo "$pool_before" | diff - /tmp/after; }
expect "verify --host with no pool" 0 topomap verify --host

expect "apply g3 after isolate" 0 topomap apply --backend=cgroup --cgroup g3 --create --name g3 \
	--vcpus 1 --memory 64M
p3=$(cat $CG/g3/cpuset.cpus)
sleep 600 &
t3=$!
echo $t3 >$CG/g3/cgroup.procs
part=$(cat $CG/g3/cpuset.cpus.partition)
[ "$part" = isolated ] && say ok "g3 (PU $p3), applied after isolate: partition reads isolated" ||
	say FAIL "g3 (PU $p3), applied after isolate: partition reads '$part'"
for t in $sys1 $sys2; do
	a=$(allowed $t)
	holds "$a" "$p3" && say FAIL "system task $t allowed on g3's PU $p3 ($a)" ||
		say ok "system task $t not allowed on g3's PU $p3 ($a)"
done
expect "verify --host after apply g3" 0 topomap verify --host

expect "host isolate --undo" 0 topomap host isolate --undo
[ "$(snapshot | grep -v "^$CG/g3/" | but_guests)" = "$(echo "$expected" | but_guests)" ] &&
	say ok "--undo put every file back" ||
	{ say FAIL "--undo left files changed"; snapshot >/tmp/after; echo "$expected" | diff - /tmp/after; }
part=$(cat $CG/g3/cpuset.cpus.partition)
[ "$part" = member ] && say ok "--undo put g3's partition back: member" ||
	say FAIL "g3's partition reads '$part' after --undo"

taskset -p -c "$p1" $x >/dev/null 2>&1 && say ok "task $x pinned by hand onto PU $p1" ||
	say FAIL "cannot pin task $x onto PU $p1"
expect "verify --host with a task pinned by hand" 4 topomap verify --host
grep -q "pid $x tid $x comm 'sleep' cgroup / allowed $p1\$" /tmp/out &&
	say ok "verify --host names the pinned task" || say FAIL "verify --host does not name task $x"

kill $sys1 $sys2 $t1 $t2 $t3 $x
echo "vm-isolate: $passed passed, $failed failed"
[ $failed = 0 ]
