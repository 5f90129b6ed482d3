#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device fixtures tests/data/dev-*.xml (issue 16), made from hwloc's own synthetic export
(lstopo-no-graphics --of xml -i DESC) with PCI objects added where Linux hwloc puts them: a
host bridge per root complex under the CPU object the devices are local to (a node's group),
its PCI devices, their OS devices, a VF's PF as the "SRIOVPhysFn" info (what topomap keeps for
the live host), and a device of unknown locality (numa_node -1) under the machine.

Rerun only to change them (hwloc 2.9): the tests read the committed XML, as topomap reads
what a real host exports. Each fixture is read back by lstopo to check hwloc takes it."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
OSDEV = {"network": "2", "storage": "0", "gpu": "1", "other": "5"}
CLASS = {"network": "0200", "storage": "0108", "gpu": "0302", "other": "0b40"}
IDS = {"network": ("8086", "1572"), "vf": ("8086", "154c"), "storage": ("144d", "a808"),
       "gpu": ("10de", "20b0"), "other": ("8086", "0b25")}


class Gen:
    def __init__(self, desc):
        text = subprocess.run(["lstopo-no-graphics", "--of", "xml", "-i", desc],
                              check=True, capture_output=True, text=True).stdout
        self.root = ET.fromstring(text)
        self.gp = 1000
        self.parent = {c: p for p in self.root.iter() for c in p}

    def objects(self, kind):
        return [o for o in self.root.iter("object") if o.get("type") == kind]

    def node_group(self, node):
        """The CPU object a NUMA node hangs off: what its devices are local to."""
        for n in self.objects("NUMANode"):
            if n.get("os_index") == str(node):
                return self.parent[n]
        raise KeyError(node)

    def machine(self):
        return self.objects("Machine")[0]

    def next_gp(self):
        self.gp += 1
        return str(self.gp)

    def add_cpuless_node(self, beside, node, memory):
        """A memory-only node (CXL) attached beside node `beside`: same cpuset, its own bit in
        the nodesets of every ancestor."""
        group = self.node_group(beside)
        bit = 1 << node
        el = ET.Element("object", {"type": "NUMANode", "os_index": str(node),
                                   "cpuset": group.get("cpuset"),
                                   "complete_cpuset": group.get("complete_cpuset"),
                                   "nodeset": "0x%08x" % bit, "complete_nodeset": "0x%08x" % bit,
                                   "gp_index": self.next_gp(), "local_memory": str(memory)})
        ET.SubElement(el, "page_type", {"size": "4096", "count": str(memory // 4096)})
        kids = list(group)
        group.insert(kids.index([k for k in kids if k.get("type") == "NUMANode"][0]) + 1, el)
        self.parent[el] = group
        obj = group
        while obj is not None and obj.tag == "object":
            for attr in ("nodeset", "complete_nodeset", "allowed_nodeset"):
                if obj.get(attr):
                    obj.set(attr, "0x%08x" % (int(obj.get(attr), 16) | bit))
            obj = self.parent.get(obj)

    def add_root(self, where, root, devices):
        """A host bridge root = (domain, first bus, last bus) under `where`, holding devices:
        (busid, class, names, physfn or None)."""
        bridge = ET.SubElement(where, "object", {
            "type": "Bridge", "gp_index": self.next_gp(), "bridge_type": "0-1", "depth": "0",
            "bridge_pci": "%04x:[%02x-%02x]" % root})
        for busid, cls, names, physfn in devices:
            vendor, device = IDS["vf" if physfn else cls]
            pci = ET.SubElement(bridge, "object", {
                "type": "PCIDev", "gp_index": self.next_gp(), "pci_busid": busid,
                "pci_type": "%s [%s:%s] [0000:0000] 00" % (CLASS[cls], vendor, device),
                "pci_link_speed": "0.000000"})
            if physfn:
                ET.SubElement(pci, "info", {"name": "SRIOVPhysFn", "value": physfn})
            for name in names:
                ET.SubElement(pci, "object", {"type": "OSDev", "gp_index": self.next_gp(),
                                              "name": name, "osdev_type": OSDEV[cls]})

    def write(self, name):
        path = os.path.join(HERE, name)
        ET.indent(self.root)
        with open(path, "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n')
            f.write(ET.tostring(self.root, encoding="unicode"))
            f.write("\n")
        subprocess.run(["lstopo-no-graphics", "-i", path, "--of", "console"], check=True,
                       capture_output=True)


def nic(bus, name, vfs):
    """A PF at bus:00.0 and its VFs from bus:02.0 on, 8 functions a device."""
    pf = "0000:%02x:00.0" % bus
    out = [(pf, "network", [name], None)]
    out += [("0000:%02x:%02x.%d" % (bus, 2 + k // 8, k % 8), "network", ["%sv%d" % (name, k)],
             pf) for k in range(vfs)]
    return out


def two_socket():
    """Two sockets, one node each: a GPU on each socket, a NIC with 4 VFs on node 0, one with
    2 VFs and an NVMe on node 1 (two root complexes there), a NIC of unknown locality."""
    g = Gen("pack:2 numa:1(memory=32GiB) core:4 pu:2")
    g.add_root(g.node_group(0), (0, 0x16, 0x17), [("0000:17:00.0", "gpu", ["card0"], None)])
    g.add_root(g.node_group(0), (0, 0x3a, 0x3b), nic(0x3b, "eth2", 4))
    g.add_root(g.node_group(1), (0, 0x85, 0x86), nic(0x86, "eth3", 2) +
               [("0000:86:00.1", "storage", ["nvme0n1"], None)])
    g.add_root(g.node_group(1), (0, 0xae, 0xaf), [("0000:af:00.0", "gpu", ["card1"], None)])
    g.add_root(g.machine(), (0, 0x00, 0x00), [("0000:00:1f.6", "network", ["eth0"], None)])
    g.write("dev-2s-sriov.xml")


def four_node_cpuless():
    """Two sockets of two nodes each, a CXL node beside node 3: several root complexes per
    node (node 1: three), GPUs on both sockets, a NIC local to node 3 and the CXL node 4."""
    g = Gen("pack:2 numa:2(memory=16GiB) core:4 pu:2")
    g.add_cpuless_node(3, 4, 64 << 30)
    g.add_root(g.node_group(0), (0, 0x10, 0x11), [("0000:11:00.0", "gpu", ["card0"], None)])
    g.add_root(g.node_group(1), (0, 0x20, 0x21), nic(0x21, "eth1", 2))
    g.add_root(g.node_group(1), (0, 0x30, 0x31), [("0000:31:00.0", "storage", ["nvme0n1"], None)])
    g.add_root(g.node_group(1), (0, 0x40, 0x41), [("0000:41:00.0", "storage", ["nvme1n1"], None)])
    g.add_root(g.node_group(2), (0, 0x80, 0x81), [("0000:81:00.0", "gpu", ["card1"], None)])
    g.add_root(g.node_group(3), (0, 0x90, 0x91), nic(0x91, "eth4", 2))
    g.add_root(g.machine(), (0, 0x00, 0x00), [("0000:00:1f.2", "storage", ["sda"], None)])
    g.write("dev-4n-cpuless.xml")


def four_node_even():
    """Devices spread evenly: each of 4 nodes has a NIC with 15 VFs and an NVMe, each on its
    own root complex: what a device-blind solver is compared with."""
    g = Gen("pack:2 numa:2(memory=64GiB) core:8 pu:2")
    for node in range(4):
        bus = 0x20 + 0x20 * node
        g.add_root(g.node_group(node), (0, bus - 1, bus), nic(bus, "eth%d" % node, 15))
        g.add_root(g.node_group(node), (0, bus + 0x10, bus + 0x11),
                   [("0000:%02x:00.0" % (bus + 0x11), "storage", ["nvme%dn1" % node], None)])
    g.write("dev-4n-even.xml")


if __name__ == "__main__":
    two_socket()
    four_node_cpuless()
    four_node_even()
    sys.exit(0)
