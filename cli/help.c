/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every command's --help text. The man pages and the README say the same: tests/check-help-man.sh
 * holds them to it.
 */
#include "cli.h"

const char main_help[] =
	"Usage: topomap COMMAND [OPTIONS]\n"
	"\n"
	"Compute where the vcpus, NUMA cells, emulator threads and iothreads of guests run on\n"
	"a host, before anything is started or pinned.\n"
	"\n"
	"Commands:\n"
	"  topology   describe the host: NUMA nodes, memory, cores and their SMT siblings\n"
	"  plan       place one or more guests on the host and print the plan\n"
	"  apply      plan one guest and put the plan in force through a backend\n"
	"  verify     compare what is in force for one guest with its plan\n"
	"  backends   list the backends found, and whether each can work here\n"
	"  state      what the allocation state holds: used and free per node, each guest\n"
	"  release    free a guest's allocation in the state (its pins stay as they are)\n"
	"  reserve    show or change the PUs the state keeps from every guest\n"
	"  adopt      record a guest pinned by hand, as it is pinned\n"
	"  resize     plan a recorded guest grown or shrunk, keeping the PUs it holds\n"
	"  rebalance  the moves, at most K, that make room for the recent requests\n"
	"  host       the host's partition: show it, record housekeeping PUs, isolate it live\n"
	"  lint       the traps of isolating this host, each with its fix\n"
	"  xml-filter place a libvirt domain (its XML on stdin), record it, print the XML placed\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help (or 'topomap COMMAND --help')\n"
	"      --version  print the version\n"
	"\n"
	"Environment:\n"
	"  TOPOMAP_PLUGIN_PATH  directories of backends, separated by ':', instead of the\n"
	"                       installed one\n"
	"  TOPOMAP_STATE        the allocation state of the live host (default\n"
	"                       /var/lib/topomap/state.json)\n"
	"  NO_COLOR             when set, the table output is never coloured\n"
	"\n"
	"Exit codes: 0 ok, 1 runtime error, 2 bad input or usage, 3 the guests do not fit,\n"
	"4 verify found the plan not in force, 5 apply failed and could not put back all that\n"
	"was there (the message says what is left changed).\n"
	"\n"
	"See topomap(1) and topomap-COMMAND(1).\n";

const char topology_help[] =
	"Usage: topomap topology [--topology SRC] [--format table|json|nrt] [--node-name N]\n"
	"                        [--state FILE]\n"
	"\n"
	"Describe the host as numactl(8) does, plus the SMT sibling lists.\n"
	"\n"
	"  --topology SRC   'live' (this machine, the default), 'synthetic:DESC' for an hwloc\n"
	"                   synthetic description, 'NAME:ARG' for a host backend NAME reaches\n"
	"                   (libvirt:qemu+ssh://host/system), a FILE.json as this command's\n"
	"                   json prints, or the path of an hwloc XML file\n"
	"  --format FMT     table (default, coloured on a terminal unless NO_COLOR is set), json,\n"
	"                   or nrt: the host and what its state holds as a Kubernetes\n"
	"                   NodeResourceTopology (topology.node.k8s.io/v1alpha2)\n"
	"  --node-name N    nrt: the object's name (default: this machine's host name)\n"
	"  --state FILE     nrt: the allocation state (default as for 'topomap state')\n"
	"  -h, --help       show this help\n"
	"\n"
	"Example:\n"
	"  topomap topology --topology examples/host-2s-ht.xml --format json\n";

/* The inline guest options, shared by plan, apply and verify. */
#define GUEST_OPTIONS_HELP \
	"One guest given inline:\n" \
	"  --name NAME            the guest's name (required with any guest option, except\n" \
	"                         on a guest apply or verify read from the target)\n" \
	"  --vcpus N              number of vcpus (required)\n" \
	"  --sockets S --cores C --threads T\n" \
	"                         guest CPU topology; S*C*T must equal N (default 1*N*1)\n" \
	"  --memory SIZE          guest memory: 4096 (MiB), 512M, 4G, 1T (default 1024M, or\n" \
	"                         the sum of the cells' memory)\n" \
	"  --cells K              K guest NUMA cells of equal size\n" \
	"  --cell cpus=LIST[,memory=SIZE][,node=N]\n" \
	"                         one guest NUMA cell (repeat for each cell); node=N puts\n" \
	"                         it on host node N, or refuses the guest\n" \
	"  --cells-share-nodes    let cells share host nodes when the guest has more cells\n" \
	"                         than the host has nodes with CPUs (refused otherwise)\n" \
	"  --pus CPUSET           pin vcpu i to the i-th host PU of CPUSET, in the order\n" \
	"                         written (--pus 2,14,3,15), or refuse the guest\n" \
	"  --cpu-policy P         dedicated (default), shared, or mixed: the vcpus of\n" \
	"                         --dedicated-cpus dedicated, the others shared\n" \
	"  --dedicated-cpus LIST  mixed: the vcpus pinned one to one (e.g. 0-1); the\n" \
	"                         others float over the shared pool\n" \
	"  --thread-policy P      prefer (default), isolate or require\n" \
	"  --emulator P           share (default), isolate or share-host\n" \
	"  --iothreads N          number of iothreads (default 0)\n" \
	"  --realtime-cpus LIST   these vcpus run SCHED_FIFO, alone on their host cores\n" \
	"                         (dedicated guests, or among a mixed guest's\n" \
	"                         --dedicated-cpus; libvirt <vcpusched>)\n" \
	"  --realtime-priority N  their SCHED_FIFO priority, 1 to 99 (default 1)\n" \
	"  --memory-mode M        strict (default), preferred, interleave or restrictive\n" \
	"  --hugepages SIZE       back the memory with hugepages of this size: 2M, 1G or\n" \
	"                         2048 (KiB), taken whole from the nodes' pools; large: the\n" \
	"                         largest size whose pools hold it; any: the same, else\n" \
	"                         normal pages\n" \
	"  --shares N             cpu shares\n" \
	"  --period US            CFS period in microseconds\n" \
	"  --quota US             CFS quota in microseconds, or -1 for unlimited\n" \
	"  --device SPEC          a host device next to a guest cell, repeated for each:\n" \
	"                         pci=BUS_ID, net=NAME, vf_of=PF or class=network|storage|\n" \
	"                         gpu|other, then ,policy=required|root|socket|preferred\n" \
	"                         and ,cell=K (e.g. net=eth2,policy=root,cell=1)\n"

const char plan_help[] =
	"Usage: topomap plan [--topology SRC] [--reserve CPUSET] [--state FILE] [--format FMT]\n"
	"                    [--shared-set CPUSET] [--cpu-overcommit R] [--memory-overcommit R]\n"
	"                    [--batch | --make-room [--max-moves K]] [GUEST OPTIONS] [FILE.json ...]\n"
	"\n"
	"Place guests, in the order given (the inline guest first, then the files), on an\n"
	"empty host and print the plan. Nothing on the host is changed.\n"
	"\n"
	"  --topology SRC         'live' (default), 'synthetic:DESC', 'NAME:ARG' (libvirt:URI),\n"
	"                         a host FILE.json, or an hwloc XML file\n"
	"  --reserve CPUSET       host PUs no guest may use, e.g. 0,12\n"
	"  --shared-set CPUSET    host PUs only shared guests use (Nova's cpu_shared_set); the\n"
	"                         state's when recorded ('topomap host set'): another is refused\n"
	"  --cpu-overcommit R     shared vcpus per pool PU, above 0 and at most 1024 (default 4)\n"
	"  --memory-overcommit R  memory overcommit of shared guests (default 1)\n"
	"  --state FILE           place around the guests this allocation state holds (default\n"
	"                         for the live host: $TOPOMAP_STATE or /var/lib/topomap/state.json)\n"
	"  --format FMT           table (default, coloured on a terminal unless NO_COLOR is set),\n"
	"                         json, libvirt, qemu, or a picture: svg or png (hwloc's lstopo)\n"
	"  --batch                place as many as fit (in the order given or largest first,\n"
	"                         whichever places more); list the others, and exit 3\n"
	"  --make-room            one guest that does not fit: place it after the fewest moves of\n"
	"                         the guests the state holds (vcpus re-pinned, cells moved with\n"
	"                         their memory; guests marked \"pinned\" stay); the plan lists them\n"
	"  --max-moves K          with --make-room: at most K moves (default 16)\n"
	"  FILE.json              guests in JSON (an object or an array); '-' reads stdin\n"
	"\n"
	GUEST_OPTIONS_HELP
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap plan --reserve 0,12 --name vm1 --vcpus 4 --memory 8G --cells 2 --format libvirt\n"
	"  topomap plan --make-room --name big --vcpus 4 --cell cpus=0-3 --format json\n"
	"  topomap plan --shared-set 2-5 --cpu-overcommit 2 --name web --vcpus 4 --cpu-policy shared\n"
	"  topomap plan --shared-set 2-5 --name db --vcpus 4 --cpu-policy mixed --dedicated-cpus 0-1\n"
	"  topomap plan --name rt --vcpus 4 --realtime-cpus 1-3 --realtime-priority 10 --emulator isolate\n";

/* The target options, shared by apply and verify. Each backend takes some of them. */
#define TARGET_LIST_HELP \
	"Target (each backend takes some; see 'topomap backends'):\n" \
	"  --cgroup PATH          cgroup backend: the cgroup, relative to the cpuset hierarchy\n" \
	"                         (machine.slice/ct1) or an absolute path inside it\n" \
	"  --create               cgroup backend: create a missing cgroup\n" \
	"  --layout L             cgroup backend: container (default) or libvirt (vcpuN,\n" \
	"                         emulator, iothreadN child cgroups)\n" \
	"  --memory-migrate       cgroup backend (v1): move existing pages with the mems\n" \
	"  --qmp SOCKET --pid PID qemu-direct backend: a running QEMU's QMP socket and pid\n" \
	"  --connect URI          libvirt backend: the connection (default: libvirt's own)\n" \
	"  --domain NAME|UUID     libvirt backend: the domain\n" \
	"  --live, --config       libvirt backend: the running domain, its persistent\n" \
	"                         definition, or both (default as virsh does)\n" \
	"  -o KEY[=VALUE]         any other option the backend takes (see 'topomap backends')\n"

#define TARGET_OPTIONS_HELP \
	TARGET_LIST_HELP \
	"Without a guest, apply and verify read it from the target where the backend can.\n" \
	"Guest options without --name then go on top of it: the policy options override\n" \
	"what was read; --vcpus, --sockets, --cores, --threads, --memory, --cells and\n" \
	"--iothreads must match the running guest, --cell is refused (exit 2).\n"

const char apply_help[] =
	"Usage: topomap apply --backend NAME [--dry-run] [TARGET OPTIONS] [--topology SRC]\n"
	"                     [--reserve CPUSET] [--shared-set CPUSET] [--cpu-overcommit R]\n"
	"                     [--memory-overcommit R] [--state FILE] [GUEST OPTIONS] [FILE.json]\n"
	"       topomap apply --make-room [--max-moves K] [--no-memory] --backend NAME ...\n"
	"\n"
	"Plan one guest as 'plan' does, then put the plan in force, all or nothing: capture what\n"
	"is there, apply, read back what the kernel or hypervisor reports, compare with the plan,\n"
	"and put the capture back on any failure or difference.\n"
	"\n"
	"  --backend NAME         the backend (see 'topomap backends')\n"
	"  --dry-run              print every write it would make, and make none\n"
	"  --make-room            a guest that does not fit: move recorded guests first (as\n"
	"                         'plan --make-room' shows), each through its recorded target,\n"
	"                         then apply it; one transaction, all put back on any failure\n"
	"  --max-moves K          with --make-room: at most K moves (default 16)\n"
	"  --no-memory            with --make-room: moved cells keep their pages where they are\n"
	"  --topology SRC         'live' (default), 'synthetic:DESC', 'NAME:ARG' (libvirt:URI),\n"
	"                         a host FILE.json, or an hwloc XML file\n"
	"  --reserve CPUSET       host PUs no guest may use, e.g. 0,12\n"
	"  --shared-set CPUSET    host PUs only shared guests use (Nova's cpu_shared_set); the\n"
	"                         state's when recorded ('topomap host set'): another is refused\n"
	"  --cpu-overcommit R     shared vcpus per pool PU, above 0 and at most 1024 (default 4)\n"
	"  --memory-overcommit R  memory overcommit of shared guests (default 1)\n"
	"  --state FILE           the allocation state to place around and record the guest in\n"
	"                         (default for the live host: $TOPOMAP_STATE or\n"
	"                         /var/lib/topomap/state.json)\n"
	"\n"
	TARGET_OPTIONS_HELP
	"\n"
	GUEST_OPTIONS_HELP
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap apply --backend cgroup --cgroup machine.slice/ct1 --create --name ct1 --vcpus 4\n"
	"  topomap apply --make-room --backend cgroup --cgroup ct2 --create --name ct2 --vcpus 4\n";

const char verify_help[] =
	"Usage: topomap verify --backend NAME [TARGET OPTIONS] [--topology SRC]\n"
	"                      [--reserve CPUSET] [--shared-set CPUSET] [--cpu-overcommit R]\n"
	"                      [--memory-overcommit R] [--state FILE] [GUEST OPTIONS] [FILE.json]\n"
	"       topomap verify --all [--topology SRC] [--state FILE]\n"
	"       topomap verify --host [--topology SRC] [--state FILE]\n"
	"\n"
	"Plan one guest as 'plan' does, read what is in force through the backend (including\n"
	"every task's Cpus_allowed_list and Mems_allowed_list) and report each difference.\n"
	"Exit 0 when the plan is in force, 4 when it drifted. Nothing is changed.\n"
	"\n"
	"  --backend NAME         the backend (see 'topomap backends')\n"
	"  --topology SRC         'live' (default), 'synthetic:DESC', 'NAME:ARG' (libvirt:URI),\n"
	"                         a host FILE.json, or an hwloc XML file\n"
	"  --reserve CPUSET       host PUs no guest may use, e.g. 0,12\n"
	"  --shared-set CPUSET    host PUs only shared guests use (Nova's cpu_shared_set); the\n"
	"                         state's when recorded ('topomap host set'): another is refused\n"
	"  --cpu-overcommit R     shared vcpus per pool PU, above 0 and at most 1024 (default 4)\n"
	"  --memory-overcommit R  memory overcommit of shared guests (default 1)\n"
	"  --state FILE           compare with the plan this allocation state recorded (default\n"
	"                         for the live host: $TOPOMAP_STATE or /var/lib/topomap/state.json)\n"
	"  --all                  every guest the state records, through the backend and target\n"
	"                         it was applied with: one line each; exit 4 if any drifted\n"
	"  --host                 the whole host: every recorded guest, the housekeeping set,\n"
	"                         and each task outside a dedicated guest that may run on its\n"
	"                         PUs (kernel threads that cannot move apart); exit 4 if any\n"
	"\n"
	TARGET_OPTIONS_HELP
	"\n"
	GUEST_OPTIONS_HELP
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap verify --backend cgroup --cgroup machine.slice/ct1 --name ct1 --vcpus 4\n"
	"  topomap verify --all\n"
	"  topomap verify --host\n";

const char state_help[] =
	"Usage: topomap state [--state FILE] [--topology SRC] [--format table|json]\n"
	"       topomap release NAME [--no-follow] [--state FILE] [--topology SRC]\n"
	"\n"
	"The allocation state records every guest apply placed, so later plans and applies go\n"
	"around them. FILE defaults to $TOPOMAP_STATE or /var/lib/topomap/state.json for the live\n"
	"host. 'state' shows used and free capacity per node and what each guest holds;\n"
	"'release' frees a guest's allocation (undo its pins with the hypervisor's own tools);\n"
	"without a given shared pool, the shared guests of its nodes grow back over its PUs,\n"
	"each applied again through its recorded target, in one transaction with the release.\n"
	"\n"
	"  --no-follow            release only: edit the state alone, the shared guests left as\n"
	"                         they are until the next apply or release (libvirt's hook)\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json; required for another host)\n"
	"  --topology SRC         the host the state belongs to: 'live' (default),\n"
	"                         'synthetic:DESC', 'NAME:ARG', a host FILE.json, or an hwloc XML file\n"
	"  --format FMT           state only: table (default, coloured on a terminal unless\n"
	"                         NO_COLOR is set) or json\n"
	"  -h, --help             show this help\n"
	"\n"
	"Examples:\n"
	"  topomap state --format json\n"
	"  topomap release ct1\n";

const char adopt_help[] =
	"Usage: topomap adopt --backend NAME [TARGET OPTIONS] [--name NAME] [--state FILE]\n"
	"                     [--topology SRC]\n"
	"\n"
	"Record a guest that was pinned by hand (virsh vcpupin, taskset, a cgroup's cpuset), as it\n"
	"is pinned: the backend reads the guest and what is in force for it, which becomes its\n"
	"recorded plan. Nothing is written to the target. Refused when the guest's PUs overlap a\n"
	"recorded guest (named) or the reserve, when a guest of that name is recorded, and for a\n"
	"guest whose vcpus float over several PUs (adopt records dedicated guests).\n"
	"\n"
	"  --backend NAME         the backend that reads the target (see 'topomap backends')\n"
	"  --name NAME            record the guest under this name (default: the name the\n"
	"                         backend reads, such as the domain's)\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json; required for another host)\n"
	"  --topology SRC         the host the state belongs to (default 'live')\n"
	"\n"
	TARGET_LIST_HELP
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap adopt --backend=cgroup --cgroup machine.slice/legacy --name legacy\n";

const char reserve_help[] =
	"Usage: topomap reserve [--add LIST] [--remove LIST] [--state FILE] [--topology SRC]\n"
	"\n"
	"Show or change the host PUs the state keeps from every guest (for the host's own\n"
	"daemons). The recorded reserve is a set: each reserve given to apply is added to it,\n"
	"--add adds PUs, --remove takes them out. A PU a recorded guest holds cannot be reserved:\n"
	"the message names the guest to release first.\n"
	"\n"
	"  --add LIST             host PUs to add to the reserve, list syntax (0,12 or 0-3)\n"
	"  --remove LIST          host PUs to take out of the reserve\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json; required for another host)\n"
	"  --topology SRC         the host the state belongs to (default 'live')\n"
	"  -h, --help             show this help\n"
	"\n"
	"Examples:\n"
	"  topomap reserve --add 0,24\n"
	"  topomap reserve --remove 24\n";

const char resize_help[] =
	"Usage: topomap resize NAME --vcpus N [--memory SIZE] [--max-moves K] [--state FILE]\n"
	"                      [--topology SRC] [--format FMT] [--apply [--no-memory]]\n"
	"\n"
	"Plan a recorded guest of one cell with N vcpus (and SIZE of memory): it keeps every PU\n"
	"and the node it holds when it can (shrinking, or growing into free PUs of its node as\n"
	"its policy takes them), else it is placed anew after the fewest moves of the others,\n"
	"which the plan lists. Nothing is changed without --apply. The new pins apply to the\n"
	"vcpus the guest runs; it must be started with N vcpus for the rest.\n"
	"\n"
	"  --vcpus N              the new number of vcpus (required)\n"
	"  --memory SIZE          the new memory: 4096 (MiB), 512M, 4G (default: as it is)\n"
	"  --max-moves K          when it cannot keep its PUs: at most K moves (default 16)\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json; required for another host)\n"
	"  --topology SRC         the host the state belongs to (default 'live')\n"
	"  --format FMT           table (default) or json\n"
	"  --apply                put it in force: the moves, each through its guest's recorded\n"
	"                         target, then the guest through its own; one transaction, all\n"
	"                         put back on any failure\n"
	"  --no-memory            with --apply: moved cells keep their pages where they are\n"
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap resize vm1 --vcpus 6 --memory 8G\n"
	"  topomap resize ct1 --vcpus 2 --apply\n";

const char rebalance_help[] =
	"Usage: topomap rebalance [--max-moves K] [--state FILE] [--topology SRC] [--format FMT]\n"
	"                         [--apply [--no-memory]]\n"
	"\n"
	"Plan the moves of the recorded guests, at most K, after which the host could give the\n"
	"largest cell to a new dedicated guest: the most free PUs on one node with CPUs (memory\n"
	"not counted), the capacity the solver keeps largest when it chooses nodes. The plan\n"
	"lists the moves, the moved guests, and the largest cell before and after; no move when\n"
	"none makes it larger. Guests marked pinned and shared guests never move; every guest\n"
	"keeps its policies. Nothing is changed without --apply.\n"
	"\n"
	"  --max-moves K          at most K moves (default 16)\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json; required for another host)\n"
	"  --topology SRC         the host the state belongs to (default 'live')\n"
	"  --format FMT           table (default) or json\n"
	"  --apply                put the moves in force, each through its guest's recorded\n"
	"                         target; one transaction, all put back on any failure\n"
	"  --no-memory            with --apply: moved cells keep their pages where they are\n"
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap rebalance --max-moves 4\n"
	"  topomap rebalance --state host.json --topology host.xml --format json\n"
	"  topomap rebalance --apply\n";

const char backends_help[] =
	"Usage: topomap backends\n"
	"\n"
	"List every backend in the plugin directories (TOPOMAP_PLUGIN_PATH, or the installed\n"
	"one): its name, ABI, path, and whether it can work on this host now, or why not.\n"
	"\n"
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap backends\n";

const char host_help[] =
	"Usage: topomap host show [--state FILE] [--topology SRC] [--housekeeping CPUSET]\n"
	"                         [--format table|cmdline|tuned]\n"
	"       topomap host set [--housekeeping CPUSET|reserve] [--shared-set CPUSET]\n"
	"                        [--cpu-overcommit R] [--memory-overcommit R] [--state FILE]\n"
	"                        [--topology SRC]\n"
	"       topomap host isolate [--narrow CGROUP]... [--housekeeping CPUSET] [--state FILE]\n"
	"       topomap host isolate --undo [--state FILE]\n"
	"\n"
	"The host's partition, from the allocation state: the housekeeping PUs (the host's own\n"
	"daemons, kernel threads and interrupts; the reserve unless set), the shared pool, the\n"
	"PUs each dedicated guest keeps (its vcpus', an isolated emulator's, the siblings thread\n"
	"policy isolate or require keeps empty), and the free rest. 'show' prints it, with each\n"
	"trap and its fix; 'set' records the housekeeping PUs, the shared pool and its\n"
	"overcommit in the state (refused when a recorded guest contradicts them; plan, apply\n"
	"and verify then use them and refuse others). 'isolate' puts the\n"
	"partition in force live, all or nothing (every file captured, written, read back, and\n"
	"put back on any failure): on cgroup v2 each dedicated guest's cgroup becomes an isolated\n"
	"partition and system.slice, user.slice, init.scope are narrowed to the host's PUs; on\n"
	"cgroup v1 the --narrow cgroups are, children first; every interrupt is moved off the\n"
	"dedicated PUs (one the kernel keeps there is reported). What it wrote is recorded in\n"
	"the state for --undo.\n"
	"\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json)\n"
	"  --topology SRC         the host the state belongs to: 'live' (default),\n"
	"                         'synthetic:DESC', 'NAME:ARG', a host FILE.json, or an hwloc XML file\n"
	"  --housekeeping CPUSET  the housekeeping PUs (show: instead of the recorded ones; set:\n"
	"                         to record), or 'reserve' to follow the reserve\n"
	"  --shared-set CPUSET    set: the PUs only shared guests use, apart from the reserve\n"
	"                         ('' for none: each node's pool grows from its free PUs)\n"
	"  --cpu-overcommit R     set: shared vcpus per pool PU, above 0 and at most 1024\n"
	"  --memory-overcommit R  set: memory overcommit of shared guests, above 0, at most 1024\n"
	"  --format FMT           show: table (default); cmdline, the kernel's isolcpus=,\n"
	"                         nohz_full=, rcu_nocbs= and irqaffinity=; tuned, the\n"
	"                         cpu-partitioning profile's variables. Both isolate whole cores\n"
	"                         where the sibling is free\n"
	"  --narrow CGROUP        isolate: also narrow this cgroup (relative to the cpuset\n"
	"                         hierarchy, or absolute), and on v1 every cgroup below it;\n"
	"                         repeat for each\n"
	"  --undo                 isolate: put back every file the last isolation changed\n"
	"  -h, --help             show this help\n"
	"\n"
	"Examples:\n"
	"  topomap host show --format cmdline\n"
	"  topomap host set --housekeeping 0,12\n"
	"  topomap host set --shared-set 2-5,14-17 --cpu-overcommit 2 --memory-overcommit 1.5\n"
	"  topomap host isolate --narrow system.slice --narrow user.slice\n"
	"  topomap host isolate --undo\n";

const char lint_help[] =
	"Usage: topomap lint [--state FILE] [--topology SRC] [--root DIR]\n"
	"\n"
	"Warn, each time with the fix, about the traps of isolating a host: a dedicated guest\n"
	"whose SMT sibling belongs to another guest or to the housekeeping set; a reserve that\n"
	"splits a core; an isolcpus= or nohz_full= on the running kernel\n"
	"(/sys/devices/system/cpu/isolated, /proc/cmdline) that disagrees with the partition;\n"
	"irqbalance's IRQBALANCE_BANNED_CPULIST that disagrees; a task allowed on several PUs\n"
	"inside the isolated set, where the scheduler never balances it. Exit 4 when any.\n"
	"\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json)\n"
	"  --topology SRC         the host the state belongs to: 'live' (default),\n"
	"                         'synthetic:DESC', 'NAME:ARG', a host FILE.json, or an hwloc XML file\n"
	"  --root DIR             read the system's files below DIR (DIR/proc, DIR/sys, DIR/etc):\n"
	"                         another host's copy of them\n"
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  topomap lint\n";
const char xml_filter_help[] =
	"Usage: topomap xml-filter [--topology SRC] [--state FILE] [--reserve CPUSET] [--dry-run]\n"
	"                          < DOMAIN.xml\n"
	"\n"
	"Read a libvirt domain's XML on stdin, place the guest it describes (vcpus, topology,\n"
	"cells, memory, hugepages, iothreads) around what the state records, record it, and print\n"
	"the same XML with <vcpu cpuset>, <cputune> pins, <numatune>, <cpu><numa> and\n"
	"<memoryBacking><hugepages> rewritten; every other element, comment and attribute is\n"
	"kept. A guest that does not fit: exit 3, one line on stderr, nothing recorded.\n"
	"\n"
	"  --topology SRC   the host, as for 'topomap topology' (default: live)\n"
	"  --state FILE     the allocation state (default as for 'topomap state')\n"
	"  --reserve CPUSET host PUs no guest may use, added to the recorded reserve\n"
	"  --dry-run        place around the state, record nothing\n"
	"  -h, --help       show this help\n"
	"\n"
	"Example:\n"
	"  topomap xml-filter --dry-run < /etc/libvirt/qemu/vm1.xml\n";
