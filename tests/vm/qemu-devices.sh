#!/bin/bash
# The QEMU format's devices on a real guest kernel (issue 16): plans a guest of 2 cells with a
# device for each cell on the device fixture, starts the nested guest (tests/vm/run-in-vm.sh,
# machine q35) with the plan's -device lines, emulated virtio-net standing in for vfio-pci,
# and checks inside that each device is on the NUMA node of its cell
# (/sys/bus/pci/devices/*/numa_node).
#
# Usage: qemu-devices.sh TOPOMAP RUN_IN_VM HOST_XML
set -euo pipefail
topomap=$1 run_in_vm=$2 host=$3

lines=$("$topomap" plan --topology "$host" --name nf --vcpus 4 --cells 2 \
	--device net=eth3,cell=1 --device vf_of=eth2,cell=0 --format qemu | grep '^-device ')
args=(--qemu-arg -machine --qemu-arg q35)
expect=
declare -A bus_nr numa ports
i=0
while read -r opt val; do
	case "$val" in
	pxb-pcie,*)
		id=$(sed 's/.*id=\([^,]*\).*/\1/' <<<"$val")
		bus_nr[$id]=$(sed 's/.*bus_nr=\([0-9]*\).*/\1/' <<<"$val")
		numa[$id]=$(sed 's/.*numa_node=\([0-9]*\).*/\1/' <<<"$val")
		ports[$id]=0
		;;
	pcie-root-port,*)
		pxb=$(sed 's/.*bus=\([^,]*\).*/\1/' <<<"$val")
		ports[$pxb]=$((ports[$pxb] + 1))
		# the port's secondary bus: its expander's bus_nr plus its rank there
		expect="$expect $(printf '%02x' $((bus_nr[$pxb] + ports[$pxb]))):${numa[$pxb]}"
		;;
	vfio-pci,*)
		val=$(sed "s/vfio-pci,\(id=[^,]*,\)host=[^,]*,/virtio-net-pci,\1netdev=v$i,/" <<<"$val")
		args+=(--qemu-arg -netdev --qemu-arg "hubport,id=v$i,hubid=0")
		i=$((i + 1))
		;;
	esac
	args+=(--qemu-arg "$opt" --qemu-arg "$val")
done <<<"$lines"
echo "plan:"
echo "$lines"
echo "expected bus:node:$expect"

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'GUEST'
#!/bin/sh
failed=0
for want in $EXPECT; do
	bus=${want%%:*} node=${want#*:}
	got=$(cat /sys/bus/pci/devices/0000:$bus:00.0/numa_node 2>/dev/null)
	if [ "$got" = "$node" ]; then
		echo "ok   - the device on bus $bus is on node $node"
	else
		echo "FAIL - the device on bus $bus is on node '$got', not $node"
		failed=1
	fi
done
exit $failed
GUEST
exec "$run_in_vm" "${args[@]}" --env "EXPECT=$expect" --script "$script"
