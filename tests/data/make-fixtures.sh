#!/bin/bash
# How the hwloc XML fixtures in this directory were made (hwloc 2.9, Debian 12). Rerun only to
# change them; the tests read the committed XML, as topomap reads what a real host exports.
set -euo pipefail
cd "$(dirname "$0")"

# distances FILE: name=NUMALatency, kind 5 (FROM_OS | MEANS_LATENCY), N objects, then values.
distances() {
	local out=$1 n=$2; shift 2
	{ echo "name=NUMALatency"; echo 5; echo "$n"
	  for ((i = 0; i < n; i++)); do echo "numa:$i"; done
	  printf '%s\n' "$@"; } > "$out"
}

# A 2-socket Intel host as `virsh capabilities` shows it: 12 cores, SMT siblings numbered 12
# apart (0 and 12), one NUMA node per socket, distances 10/21.
indexes=$(for c in $(seq 0 11); do printf '%d,%d,' "$c" $((c + 12)); done)
lstopo-no-graphics --of xml -i "pack:2 numa:1(memory=64GiB) l3:1 core:6 pu:2(indexes=${indexes%,})" host-intel-2s.raw.xml
distances /tmp/d2 2 10 21 21 10
hwloc-annotate host-intel-2s.raw.xml host-intel-2s.xml -- none -- distances /tmp/d2
rm host-intel-2s.raw.xml

# 4 nodes of different sizes (3, 5, 4 and 8 cores, no SMT), where node 0's closest neighbour
# is node 2, not node 1: a ring where numbering lies about distance.
lstopo-no-graphics --of xml -i "pack:1 numa:4(memory=8GiB) core:8 pu:1" host-4n.raw.xml
distances /tmp/d4 4 10 31 12 21  31 10 21 12  12 21 10 31  21 12 31 10
hwloc-annotate host-4n.raw.xml host-4n.xml -- none -- distances /tmp/d4
rm host-4n.raw.xml

# Offline or reserved PUs make nodes of different sizes: node 0 keeps PUs 0-2, node 1 8-12,
# node 2 16-19, node 3 24-31 (allowed_cpuset 0xff0f1f07); node 1 also has twice the memory.
sed -i -e '0,/allowed_cpuset="0xffffffff"/s//allowed_cpuset="0xff0f1f07"/' \
	-e '0,/local_memory="8589934592"/! {0,/local_memory="8589934592"/s//local_memory="17179869184"/}' host-4n.xml

# A memory-only node (CXL or PMEM style): node 2 has 32 GiB and no CPU of its own. hwloc
# attaches such a node to the Machine, so its cpuset is every PU: locality, not ownership.
lstopo-no-graphics --of xml -i "pack:2 numa:1(memory=16GiB) core:2 pu:2" host-cxl.xml
sed -i -e '0,/nodeset="0x00000003" complete_nodeset="0x00000003" allowed_nodeset="0x00000003"/s//nodeset="0x00000007" complete_nodeset="0x00000007" allowed_nodeset="0x00000007"/' \
	-e '0,/<object type="Package"/s//<object type="NUMANode" os_index="2" cpuset="0x000000ff" complete_cpuset="0x000000ff" nodeset="0x00000004" complete_nodeset="0x00000004" gp_index="90" local_memory="34359738368"\/>\n    &/' host-cxl.xml

# Hugepage pools, as hwloc reads them from /sys/devices/system/node/nodeN/hugepages: the
# 2-socket Intel host with node 0 holding 1024 pages of 2 MiB and 4 of 1 GiB, node 1 512 of
# 2 MiB and no 1 GiB pool. local_memory is MemTotal, pools included (64 GiB of normal memory
# each), and the 4 KiB count is what is left, as on a live host.
awk '/local_memory="68719476736"/ { sub(/68719476736/, ++m == 1 ? "75161927680" : "69793218560") }
	{ print }
	/page_type size="4096"/ && ++p == 1 {
		print "        <page_type size=\"2097152\" count=\"1024\"/>"
		print "        <page_type size=\"1073741824\" count=\"4\"/>"
	}
	/page_type size="4096"/ && p == 2 { print "        <page_type size=\"2097152\" count=\"512\"/>" }' \
	host-intel-2s.xml > host-hugepages.xml

# A host file in hwloc 3's own XML format (<topology version="3.0">, <pci_locality> elements,
# no page counts): dev-2s-sriov.xml (make-dev-fixtures.py) as hwloc 3's lstopo exports it, from
# the build `make check-hwloc-3` caches (3.0.0a1, master 3b37b024a). Kept when there is none.
lstopo3=${HWLOC3_PREFIX:-/var/cache/topomap-hwloc-new/3.0.0a1-git}/bin/lstopo-no-graphics
if [[ -x "$lstopo3" ]]; then
	"$lstopo3" -i dev-2s-sriov.xml --of xml dev-2s-sriov-hwloc3.xml
fi
