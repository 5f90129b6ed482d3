#!/bin/sh
# Runs inside the nested guest booted by tests/vm/run-in-vm.sh (machine q35) with PCI devices
# (issue 16): a virtio-net behind a pxb-pcie expander bound to NUMA node 1 (0000:41:00.0), an
# NVMe behind one bound to node 0 (0000:21:00.0) and a virtio-net on the root bus (numa_node
# -1). Checks that the guest kernel puts the first on node 1 and the NVMe on node 0, that
# `topomap topology` shows each there and the other NIC as of unknown locality, and that a
# guest asking for either gets its cell on that device's node (and one asking for the other
# NIC is refused with the reason; one too big for node 1 is spread from it, one too big for
# the host refused with the reason). Prints
# the host's `lstopo-no-graphics --of xml` between markers, the fixture
# tests/data/dev-vm-guest.xml was taken from. Exit 0 when every check passed, 1 otherwise.
set -u

NIC=0000:41:00.0
NVME=0000:21:00.0
. /test/vm-checks.sh

echo "== the guest kernel =="
check "numa_node of $NIC" "$(cat /sys/bus/pci/devices/$NIC/numa_node 2>/dev/null)" 1
check "local_cpulist of $NIC" "$(cat /sys/bus/pci/devices/$NIC/local_cpulist 2>/dev/null)" 2-3
check "numa_node of $NVME" "$(cat /sys/bus/pci/devices/$NVME/numa_node 2>/dev/null)" 0
check "class of $NVME" "$(cat /sys/bus/pci/devices/$NVME/class 2>/dev/null)" 0x010802
# The PCI function is there whatever the kernel: with CONFIG_BLK_DEV_NVME (the cached kernel
# has it) it also gets an nvme0n1 block device, which hwloc shows as an OS device; without
# the driver there is no nvme0n1, and topomap still sees the controller by its PCI class.
if [ -d /sys/bus/pci/devices/$NVME/nvme ]; then
	echo "     (the nvme driver is bound: $(ls /sys/bus/pci/devices/$NVME/nvme))"
else
	echo "     (no nvme driver bound to $NVME: only the PCI function)"
fi
other=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/class")" = 0x020000 ] && [ "${d##*/}" != "$NIC" ]; then
		other=${d##*/}
	fi
done
check "numa_node of the NIC on the root bus ($other)" \
	"$(cat /sys/bus/pci/devices/$other/numa_node 2>/dev/null)" -1

echo "== topomap topology =="
topology=$(topomap topology 2>&1)
echo "$topology"
# the NIC in node 1's device list: after "node 1:", before any later "node" line
node1=$(echo "$topology" | sed -n '/^node 1:/,/^node distances/p')
case "$node1" in
*"$NIC network"*) ok "$NIC is listed under node 1" ;;
*) fail "$NIC is not listed under node 1" ;;
esac
node0=$(echo "$topology" | sed -n '/^node 0:/,/^node 1:/p')
case "$node0" in
*"$NVME storage"*) ok "$NVME is listed under node 0 as storage" ;;
*) fail "$NVME is not listed under node 0 as storage" ;;
esac
case "$topology" in
*"$other network"*"locality unknown"*) ok "$other is of unknown locality" ;;
*) fail "$other is not said to be of unknown locality" ;;
esac

echo "== a guest asking for the node-1 NIC =="
plan=$(topomap plan --name nf --vcpus 2 --memory 256M --device pci=$NIC --format json 2>&1)
echo "$plan" | grep -E '"nodeset"|"pci"|"node"' | head -8
case "$plan" in
*'"cell":0,'*'"nodeset":"1"'*) ok "cell 0 is on node 1" ;;
*) fail "cell 0 is not on node 1: $plan" ;;
esac
# the table says the same
plan=$(topomap plan --name nf --vcpus 2 --memory 256M --device "pci=$NIC,policy=required" 2>&1)
case "$plan" in
*"cell 0: vcpus 0-1 -> node 1"*) ok "the table says node 1" ;;
*) fail "the table does not say node 1: $plan" ;;
esac
msg=$(topomap plan --name far --vcpus 2 --memory 256M --device "pci=$other" 2>&1)
rc=$?
check "exit of a guest asking for the NIC of unknown locality" "$rc" 3
case "$msg" in
*"no known locality"*) ok "its refusal says why" ;;
*) fail "its refusal does not say why: $msg" ;;
esac
# Too big for node 1 alone: spread from the NIC's node, its cell 0 there with the NIC.
plan=$(topomap plan --name wide --vcpus 3 --memory 256M --device "pci=$NIC" 2>&1)
case "$plan" in
*"cell 0 (proposed): vcpus 0-1 -> node 1"*"cell 1 (proposed): vcpus 2 -> node 0"*)
	ok "a guest too big for node 1 is spread from it, cell 0 on the NIC's node" ;;
*) fail "a guest too big for node 1 is not spread from it: $plan" ;;
esac
# Too big for the whole host: refused, with the NIC's node and the spread that failed.
msg=$(topomap plan --name big --vcpus 5 --memory 256M --device "pci=$NIC" 2>&1)
rc=$?
check "exit of a guest too big for the host" "$rc" 3
case "$msg" in
*"is on node 1; node 1 has 2 free PUs"*"spread from there, it does not fit either: all nodes together have 4 free PUs"*)
	ok "a guest too big for the host is refused with the reason" ;;
*) fail "refusal of a guest too big for the host: $msg" ;;
esac

echo "== a guest asking for the node-0 NVMe =="
plan=$(topomap plan --name st --vcpus 2 --memory 256M --device pci=$NVME --format json 2>&1)
echo "$plan" | grep -E '"nodeset"|"pci"|"class"' | head -8
case "$plan" in
*'"cell":0,'*'"nodeset":"0"'*) ok "cell 0 is on node 0" ;;
*) fail "cell 0 is not on node 0: $plan" ;;
esac

# Issue 16 item 4, with the cgroup backend: a guest applied holding the NIC, then the host
# isolated: the NIC's interrupts (MSI-X vectors, INTx line) are the guest's and keep their
# affinity; every other interrupt leaves the guest's PU (or is reported refused).
if [ -f /usr/lib/topomap/backends/cgroup.so ]; then
	echo "== host isolate with a guest holding $NIC =="
	export TOPOMAP_STATE=/tmp/state.json
	CG=/sys/fs/cgroup
	echo +cpuset >$CG/cgroup.subtree_control
	out=$(topomap apply --backend=cgroup --cgroup nf --create --name nf --vcpus 1 \
		--memory 64M --reserve 0 --device pci=$NIC 2>&1)
	check "exit of apply nf --device pci=$NIC" "$?" 0
	echo "$out"
	pu=$(cat $CG/nf/cpuset.cpus)
	# Its MSI/MSI-X vectors, and its INTx line when not 0 (the cached kernel binds no
	# virtio driver to it: then the INTx line is all it has).
	nic_irqs=$(ls /sys/bus/pci/devices/$NIC/msi_irqs 2>/dev/null)
	intx=$(cat /sys/bus/pci/devices/$NIC/irq 2>/dev/null)
	[ -n "$intx" ] && [ "$intx" != 0 ] && nic_irqs="$nic_irqs $intx"
	nic_irqs=$(echo $nic_irqs | tr ' ' '\n' | sort -nu)
	[ -n "$nic_irqs" ] && ok "$NIC has interrupts: $(echo $nic_irqs)" ||
		fail "$NIC has no interrupts"
	before=
	for i in $nic_irqs; do
		before="$before $i=$(cat /proc/irq/$i/smp_affinity_list)"
	done
	out=$(topomap host isolate 2>&1)
	check "exit of host isolate" "$?" 0
	echo "$out"
	for pair in $before; do
		i=${pair%%=*}
		check "irq $i of $NIC keeps its affinity" "$(cat /proc/irq/$i/smp_affinity_list)" \
			"${pair#*=}"
		case "$out" in
		*"left: irq $i: $NIC, held by nf"*) ok "host isolate says irq $i was left to nf" ;;
		*) fail "host isolate does not say irq $i was left to nf" ;;
		esac
	done
	stayed=
	for f in /proc/irq/*/smp_affinity_list; do
		i=${f#/proc/irq/}
		i=${i%/smp_affinity_list}
		case " $(echo $nic_irqs) " in *" $i "*) continue ;; esac
		echo ",$(cat "$f")," | tr '-' ' ' | awk -v pu="$pu" -F, '{ for (i = 2; i < NF; i++) {
			n = split($i, r, " ")
			if ((n == 1 && r[1] == pu) || (n == 2 && pu >= r[1] && pu <= r[2])) f = 1 } }
			END { exit !f }' && ! echo "$out" | grep -q "refused: irq $i:" &&
			stayed="$stayed $i"
	done
	[ -z "$stayed" ] && ok "every other interrupt left PU $pu" ||
		fail "interrupts still on PU $pu:$stayed"
	out=$(topomap verify --host 2>&1)
	echo "$out"
	case "$out" in
	*"irq "*": $NIC, held by nf"*) ok "verify --host lists the NIC's interrupts as nf's" ;;
	*) fail "verify --host does not list the NIC's interrupts" ;;
	esac
	topomap host isolate --undo >/dev/null 2>&1
fi

echo "==== LSTOPO-XML-BEGIN ===="
lstopo-no-graphics --of xml 2>/dev/null
echo "==== LSTOPO-XML-END ===="

echo
echo "$checks checks, $failed failed"
[ "$failed" -eq 0 ]
