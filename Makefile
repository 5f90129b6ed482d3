# Thin wrapper around meson for the README's quick start: `make demo` and `make check`.
# Both install the missing Debian packages first (as root), listed once in .ci/packages.

BUILDDIR ?= build
PACKAGES := $(shell cat .ci/packages)
# CI turns warnings into errors; a developer's build does not stop on a new warning.
WERROR := $(if $(filter true,$(CI)),true,false)
# Run the uninstalled tool from the top of the tree, so relative paths work.
TOPOMAP = meson devenv -C $(BUILDDIR) -w $(CURDIR) topomap

.PHONY: all deps build demo check install clean vm-assets check-sanitize nova-oracle

all: build

deps:
	@if ! command -v dpkg-query >/dev/null; then \
		echo "deps: not a Debian system; install these yourself: $(PACKAGES)"; \
		exit 0; \
	fi; \
	missing=; \
	for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q ' installed$$' || \
			missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "deps: missing packages:$$missing (run as root to install them)"; \
			exit 1; \
		fi; \
		echo "deps: installing$$missing"; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	@if [ -f $(BUILDDIR)/build.ninja ]; then \
		echo "meson setup --reconfigure -Dwerror=$(WERROR) $(BUILDDIR)"; \
		meson setup --reconfigure -Dwerror=$(WERROR) $(BUILDDIR); \
	else \
		echo "meson setup -Dwerror=$(WERROR) $(BUILDDIR)"; \
		meson setup -Dwerror=$(WERROR) $(BUILDDIR); \
	fi
	ninja -C $(BUILDDIR)

# The live host first, with guests small enough for any machine (examples/*.json), then the
# bundled 2-socket host with the guests written for it.
demo: build
	@echo; echo "== This host =="
	@$(TOPOMAP) topology
	@echo; echo "== Plan for examples/*.json on this host =="
	@$(TOPOMAP) plan examples/*.json
	@echo; echo "== The example host examples/host-2s-ht.xml =="
	@$(TOPOMAP) topology --topology examples/host-2s-ht.xml
	@echo; echo "== Plan for examples/host-2s-ht/*.json on it =="
	@$(TOPOMAP) plan --topology examples/host-2s-ht.xml examples/host-2s-ht/*.json

# Nova's own unit tests (python3-nova's test_hardware.py) as an oracle for the fitter's
# answers (bench/nova-oracle.py): not part of `make check`, python3-nova is no CI dependency.
nova-oracle:
	ninja -C $(BUILDDIR) bench/topomap-bench
	/usr/bin/python3 bench/nova-oracle.py --bench $(BUILDDIR)/bench/topomap-bench

# The nested guest's kernel and busybox (Debian packages, unpacked into /var/cache/topomap-vm
# or $TOPOMAP_VM_ASSETS) for the vm-host test: a real 2-node host with SMT and cgroup v2.
vm-assets:
	tests/vm/fetch-assets.sh

# Each step timed; at the end, the time of each step and of each suite of tests (unit,
# integration, system, vm, docs: tests/meson.build), whether the tests passed or not.
CHECK_TIMES = $(BUILDDIR)/check-step-times
step_timed = t0=$$(date +%s%N); $(MAKE) --no-print-directory $(1) || exit; \
	echo "$(1) $$((($$(date +%s%N) - t0) / 1000000))" >>$(CHECK_TIMES)
check:
	@mkdir -p $(BUILDDIR) && rm -f $(CHECK_TIMES)
	@$(call step_timed,build)
	@$(call step_timed,vm-assets)
	@$(call step_timed,fuzz-check)
	@t0=$$(date +%s%N); meson test -C $(BUILDDIR) --print-errorlogs; s=$$?; \
	echo "meson-test $$((($$(date +%s%N) - t0) / 1000000))" >>$(CHECK_TIMES); echo; \
	python3 tests/suite-times.py --steps $(CHECK_TIMES) $(BUILDDIR)/meson-logs/testlog.json; \
	exit $$s

# libFuzzer targets (fuzz/), in a clang build of their own with ASan and UBSan. `make check`
# runs each FUZZ_CHECK_SECONDS over its seeds (about 30 s in all); `make fuzz` runs each
# FUZZ_SECONDS (10 minutes by default), e.g. `make fuzz FUZZ_SECONDS=3600 FUZZERS=qmp`.
FUZZ_BUILDDIR ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_CHECK_SECONDS ?= 3
FUZZERS ?= $(notdir $(wildcard fuzz/corpus/*))

.PHONY: fuzz-build fuzz fuzz-check

fuzz-build: deps
	@if [ ! -f $(FUZZ_BUILDDIR)/build.ninja ]; then \
		echo "CC=clang meson setup -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false $(FUZZ_BUILDDIR)"; \
		CC=clang meson setup -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
			$(FUZZ_BUILDDIR); \
	fi
	ninja -C $(FUZZ_BUILDDIR) $(addprefix fuzz/fuzz-,$(FUZZERS))

fuzz-check: fuzz-build
	fuzz/run.sh $(FUZZ_BUILDDIR) $(FUZZ_CHECK_SECONDS) $(FUZZERS)

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILDDIR) $(FUZZ_SECONDS) $(FUZZERS)

install: build
	meson install -C $(BUILDDIR)

# The Debian packages (debian/): built from a copy of the tree with dpkg-buildpackage,
# installed (as root: dpkg -i, purged at the end; otherwise unpacked with dpkg -x), and the
# README's library example compiled against them with pkg-config. Apart from `check`: a
# package build takes a while. CI runs it after `make check`.
.PHONY: deb-check
deb-check: deps
	tests/deb-check.sh

# topomap against a newer hwloc than Debian 12's 2.9 (issue 19): hwloc built from
# HWLOC_NEW_SRC (a release tree or tarball, or a git repository and HWLOC_NEW_REF, default its
# newest 2.x tag) into /var/cache/topomap-hwloc-new, topomap built against it in
# build-hwloc-new, the unit and integration suites run there, and the loaded library checked.
# check-hwloc-3 does the same with hwloc 3.x (its newest 3.x tag, or master until there is
# one), in build-hwloc-3. Apart from `check` and CI: they need hwloc's source, and building
# it takes minutes.
.PHONY: check-hwloc-new check-hwloc-3
check-hwloc-new: deps
	tests/hwloc-new.sh
check-hwloc-3: deps
	HWLOC_NEW_MAJOR=3 HWLOC_NEW_BUILDDIR=$${HWLOC_NEW_BUILDDIR:-$(CURDIR)/build-hwloc-3} \
		tests/hwloc-new.sh

clean:
	rm -rf $(BUILDDIR)

# Every test again under AddressSanitizer and UndefinedBehaviorSanitizer (CI runs it after
# `make check`), leaks fatal. Left out: the nested guest (QEMU and bash, not our code). The
# libvirt suite runs on its own with libtirpc preloaded: ASan's interceptors for the xdr_*
# functions glibc once had find no glibc function to call and jump to NULL when libvirt's
# RPC client calls libtirpc's xdr_string (llvm-project#81470); preloaded, libtirpc's own
# functions come first and are not intercepted.
#
# intercept_tls_get_addr=0: GCC 12's sanitizer runtime (the heuristic lasted until GCC 13 and
# LLVM 16) takes a dynamic TLS block that malloc() put 16 bytes past a page boundary for a
# block of glibc 2.19 to 2.24 with a header, reads the two words of ASan's chunk header in
# front of it as that block's size and start, and LeakSanitizer's tracer dies of SIGSEGV
# scanning them (google/sanitizers#1322, fixed in LLVM 17 by "Fix tls_get_addr handling for
# glibc >=2.25"). The command meets it in libvirt.so, which its plugin dlopen()s: a run hits
# it or not by where the heap puts libvirt's block (test_daemon_vcpu_class's verify --live
# did, every time: "DTLS 8 at 0x00000000003e-0x000400001140"). Without the interceptor the
# scan has fewer roots, so it can report more, never less; the suite reports nothing more.
SANITIZE_BUILDDIR ?= build-asan
LSAN_ENV := detect_leaks=1:intercept_tls_get_addr=0
UBSAN_ENV := UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TIRPC := $(realpath $(shell $(CC) -print-file-name=libtirpc.so.3))
check-sanitize: deps
	@if [ ! -f $(SANITIZE_BUILDDIR)/build.ninja ]; then \
		echo "meson setup -Db_sanitize=address,undefined -Db_lundef=false $(SANITIZE_BUILDDIR)"; \
		meson setup -Db_sanitize=address,undefined -Db_lundef=false $(SANITIZE_BUILDDIR); \
	fi
	ninja -C $(SANITIZE_BUILDDIR)
	ASAN_OPTIONS=$(LSAN_ENV) $(UBSAN_ENV) meson test -C $(SANITIZE_BUILDDIR) --print-errorlogs \
		--no-suite vm --no-suite libvirt
	ASAN_OPTIONS=$(LSAN_ENV):verify_asan_link_order=0 $(UBSAN_ENV) LD_PRELOAD=$(TIRPC) \
		meson test -C $(SANITIZE_BUILDDIR) --print-errorlogs --suite libvirt
