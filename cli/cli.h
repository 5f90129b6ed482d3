/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the files of the command-line tool share. The tool is a client of the public API
 * like any other: nothing here reaches into the library.
 */
#ifndef TOPOMAP_CLI_H
#define TOPOMAP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <topomap/backend.h>
#include <topomap/session.h>
#include <topomap/topomap.h>

enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_NOFIT = 3,
	EXIT_DRIFT = 4,
	EXIT_LEFT_CHANGED = 5,
};

#define MAX_VCPUS TMAP_MAX_VCPUS
#define MAX_THREADS TMAP_MAX_GUEST_THREADS
#define MAX_IOTHREADS TMAP_MAX_IOTHREADS
#define MIN_SHARES TMAP_QOS_SHARES_MIN
#define MAX_SHARES TMAP_QOS_SHARES_MAX
#define MIN_PERIOD TMAP_QOS_PERIOD_MIN
#define MAX_PERIOD TMAP_QOS_PERIOD_MAX
#define MIN_QUOTA TMAP_QOS_QUOTA_MIN
#define MAX_QUOTA ((uint64_t)TMAP_QOS_QUOTA_MAX)
/* Same cap as tmap_guests_load_json(), for guests read from stdin. */
#define MAX_STDIN (16u << 20)

struct choice {
	const char *name;
	int value;
};

/* The plan as a picture: formats of the CLI's own, past the library's enum. */
enum {
	FORMAT_SVG = 100,
	FORMAT_PNG,
	FORMAT_NRT,	/* topology: a Kubernetes NodeResourceTopology (issue 17) */
};

/* One --cell argument. */
struct cell_arg {
	const char *arg; /* as typed, for messages */
	char *cpus;
	uint64_t memory_mib; /* 0: an even share */
	int node;	     /* node=N: the host node the cell must go to, or -1 */
};

/* The guest given with inline options. Zero means "not given" throughout. */
struct inline_guest {
	bool given;
	const char *name;
	unsigned vcpus;
	unsigned sockets, cores, threads;
	const char *memory_arg;
	uint64_t memory_mib;
	const char *cells_arg;
	unsigned cells;
	size_t ncell;
	struct cell_arg *cell;
	bool has_cpu_policy, has_thread_policy, has_emulator, has_memory_mode, has_qos;
	int cpu_policy, thread_policy, emulator, memory_mode;
	bool has_iothreads;	/* --iothreads 0 is a value too, for a described guest */
	unsigned iothreads;
	uint64_t shares, period;
	int64_t quota;
	const char *page_arg;
	uint64_t page_kib;
	size_t ndevice;		/* --device SPEC, each as typed (issue 16) */
	const char **device;
	bool cells_share_nodes;	/* --cells-share-nodes (issue 21) */
	const char *pus;	/* --pus CPUSET (issue 21) */
	const char *dedicated;	/* --dedicated-cpus LIST: a mixed guest's pinned vcpus */
	const char *realtime_cpus; /* --realtime-cpus LIST (issue 21) */
	unsigned realtime_priority; /* --realtime-priority N, 0: not given */
};

enum {
	OPT_TOPOLOGY = 0x100,
	OPT_FORMAT,
	OPT_RESERVE,
	OPT_NAME,
	OPT_VCPUS,
	OPT_SOCKETS,
	OPT_CORES,
	OPT_THREADS,
	OPT_MEMORY,
	OPT_CELLS,
	OPT_CELL,
	OPT_CPU_POLICY,
	OPT_THREAD_POLICY,
	OPT_EMULATOR,
	OPT_IOTHREADS,
	OPT_MEMORY_MODE,
	OPT_SHARES,
	OPT_PERIOD,
	OPT_QUOTA,
	OPT_HUGEPAGES,
	OPT_STATE,
	OPT_BATCH,
	OPT_BACKEND,
	OPT_DRY_RUN,
	OPT_ALL,
	OPT_DEVICE,
	OPT_MAKE_ROOM,	/* plan --make-room, resize, rebalance (cli/room.c, issue 18) */
	OPT_MAX_MOVES,
	OPT_NO_MEMORY,	/* apply --make-room --no-memory */
	OPT_CELLS_SHARE_NODES,
	OPT_PUS,	/* exact host PUs of the vcpus (issue 21) */
	OPT_DEDICATED_CPUS, /* cpu_policy mixed: the vcpus pinned one to one (issue 21) */
	OPT_REALTIME_CPUS, /* realtime vcpus, SCHED_FIFO (issue 21) */
	OPT_REALTIME_PRIORITY,
	OPT_SHARED_SET,	/* the shared pool and its ratios, as the state records them (issue 21) */
	OPT_CPU_OVERCOMMIT,
	OPT_MEMORY_OVERCOMMIT,
	/* target options: passed to the backend under their own name */
	OPT_TARGET_FIRST,
	OPT_CGROUP = OPT_TARGET_FIRST,
	OPT_CREATE,
	OPT_LAYOUT,
	OPT_MEMORY_MIGRATE,
	OPT_QMP,
	OPT_PID,
	OPT_CONNECT,
	OPT_DOMAIN,
	OPT_LIVE,
	OPT_CONFIG,
	OPT_TARGET_END,
	OPT_END = OPT_TARGET_END,
	/* reserve's own */
	OPT_ADD,
	OPT_REMOVE,
	/* release's own */
	OPT_NO_FOLLOW,
	/* topology's own */
	OPT_NODE_NAME,
};

enum command {
	CMD_PLAN,
	CMD_APPLY,
	CMD_VERIFY,
	CMD_ADOPT,
};

/* What plan, apply and verify share: options, the guests, the session. */
struct plan_request {
	enum command cmd;
	const char *state_path;		/* --state, or NULL for the default */
	bool batch;			/* --batch: as many as fit, the rest listed */
	const char *source;		/* --topology */
	const char *remote_uri;		/* --connect of another host: its state is its own */
	const char *backend;
	bool dry_run;
	bool all;			/* verify --all: every recorded guest */
	int format;
	struct tmap_solve_options solve;
	struct inline_guest ig;
	struct tmap_target *target;
	struct tmap_guests *guests;	/* the guests asked for */
	struct tmap_session *session;
	struct tmap_topology *topology;	/* the session's host (open_session()) */
	bool described;			/* the guest was read from the target as it is */
	bool make_room;			/* plan --make-room: move placed guests to fit it */
	unsigned max_moves;
	bool no_memory;			/* apply --make-room --no-memory: pages stay */
	bool no_follow;			/* release --no-follow, xml-filter: the state alone */
	size_t notices_shown;		/* the session's notices printed so far */
	int argc;			/* the command's arguments, for those read late */
	char **argv;
};

extern const char *const command_names[];

/* main.c */
int parse_request(int argc, char *argv[], struct plan_request *req);

/* guests.c: the commands over the library's session */
int open_session(struct plan_request *req, bool write);
void close_session(struct plan_request *req);
int cmd_guests(enum command cmd, int argc, char *argv[]);
int cmd_ledger(const char *cmd, int argc, char *argv[]);



/* help.c */
extern const char main_help[], topology_help[], plan_help[], apply_help[], verify_help[],
	state_help[], backends_help[], reserve_help[], adopt_help[], host_help[], lint_help[],
	xml_filter_help[], resize_help[], rebalance_help[];

/* options.c: each returns EXIT_OK, or prints one line and returns the exit code. */
extern const struct choice formats[], topology_formats[], cpu_policies[], thread_policies[],
	emulator_policies[], memory_modes[];
int parse_choice(const char *option, const char *arg, const struct choice *choices, int *ret);
bool parse_digits(const char **s, uint64_t *ret);
int parse_number(const char *option, const char *arg, uint64_t min, uint64_t max, uint64_t *ret);
int parse_unsigned(const char *option, const char *arg, unsigned min, unsigned max,
		   unsigned *ret);
int parse_ratio(const char *option, const char *arg, double *ret);
bool parse_size(const char *s, uint64_t *ret);
int parse_page_option(const char *option, const char *arg, uint64_t *ret);
int parse_size_option(const char *option, const char *arg, uint64_t *ret);
bool is_list(const char *s);
void inline_guest_clear(struct inline_guest *g);
int parse_cell(const char *arg, struct inline_guest *g);
int inline_option(int opt, const char *name, const char *arg, struct inline_guest *g);
int add_inline_guest(const struct inline_guest *ig, struct tmap_guests *guests);
int overlay_inline_guest(const struct inline_guest *ig, const char *cmd, const char *backend,
			 struct tmap_guest *g);
int add_stdin_guests(struct tmap_guests *guests);
int read_stdin(const char *what, char **ret, size_t *ret_len);
int unknown_option(const char *cmd, const struct option *options, int optopt_,
		   char *const argv[], int optind_);
int missing_value(const char *cmd, char *const argv[], int optind_);

/* source.c: --topology SRC, the one reader of a host's source string (issue 19) */
enum source_kind { SOURCE_LIVE, SOURCE_SYNTHETIC, SOURCE_BACKEND, SOURCE_JSON, SOURCE_XML };
struct source {
	enum source_kind kind;
	const char *text;	/* the whole string */
	const char *value;	/* the description, the backend's argument or the file */
	size_t name_len;	/* SOURCE_BACKEND: the name is text's first name_len bytes */
};
/* Which constructor text means: EXIT_OK, or EXIT_USAGE after one line naming text. */
int source_parse(const char *text, struct source *ret);
/* The host text names: EXIT_OK, or the exit code after one line naming text. */
int source_topology(const char *text, struct tmap_topology **ret);
/* source_parse() for an option's value, the result dropped. */
int check_source(const char *text);

/* room.c: making room, resize and rebalance (issue 18) */
int room_plan(struct tmap_session *session, const struct tmap_guests *guests, unsigned max_moves,
	      struct tmap_plan **ret, struct tmap_error *err);
/* guests.c: one recorded guest through the backend and target it was applied with, a line
 * on out; 0 in force, 1 drifted, -1 not checked. */
int verify_line(struct tmap_session *session, const char *name, FILE *out);
/* host.c, host-verify.c, lint.c (issue 15) */
int cmd_host(int argc, char *argv[]);
int cmd_verify_host(int argc, char *argv[]);
int cmd_lint(int argc, char *argv[]);
/* xml-filter.c */
int cmd_xml_filter(int argc, char *argv[]);

/* nrt.c: topology --format nrt */
int topology_nrt(const char *source, const char *state_path, const char *node_name);
/* room.c: resize (issue 18) */
int cmd_resize(int argc, char *argv[]);
/* room.c: the options resize and rebalance share */
struct room_args {
	unsigned vcpus;		/* resize --vcpus */
	uint64_t memory_mib;	/* resize --memory */
	bool apply;
};
int room_args_parse(const char *cmd, const char *help, const struct option *options, int argc,
		    char *argv[], struct plan_request *req, struct room_args *a);
/* room.c: one of resize and rebalance, from its options to its plan printed. */
struct room_command {
	const char *name;
	/* EXIT_OK, -1 after --help, or the exit code of a message printed */
	int (*options)(int argc, char *argv[], struct plan_request *req, struct room_args *a);
	/* the library's call, the plan or with a->apply the plan in force: 0 or -errno;
	 * guest: the argument after the options, or NULL */
	int (*run)(struct plan_request *req, const struct room_args *a, const char *guest,
		   const struct tmap_room_options *o, struct tmap_plan **ret,
		   struct tmap_report **ret_report, struct tmap_error *err);
	bool changes_in_place;	/* applied, it changes its guest even without a move */
};
int room_command(const struct room_command *cmd, int argc, char *argv[]);
/* rebalance.c (issue 18) */
int cmd_rebalance(int argc, char *argv[]);
/* guests.c: the report's pending lines after text (freed); NULL when out of memory */
char *add_pending(char *text, const struct tmap_report *report);
/* guests.c: a session call's failure, its exit code from the step it failed at */
int fail_step(struct plan_request *req, int r, const struct tmap_error *err);
/* Print the session's notices not printed yet. */
void print_notices(struct plan_request *req);
/* room.c: apply --make-room (issue 18) */
int room_apply(struct plan_request *req, const struct tmap_guest *guest, struct tmap_report **ret,
	       struct tmap_error *err);

/* output.c */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int exit_code(int r, bool user_input);
int fail_lib(int r, bool user_input, const struct tmap_error *err, const char *what);
int emit(const char *text);
int emit_done(const char *text, const char *done);
unsigned table_flags(void);
char *report_text(const char *header, size_t n,
		  const char *(*line)(const struct tmap_report *, size_t),
		  const struct tmap_report *report);
int draw_plan(const struct tmap_topology *topology, const struct tmap_plan *plan, const char *reserve,
	      const char *kept_reserve, int format);

#endif
