/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The qemu-direct backend: the QEMU process and its threads, as /proc shows them (proc.c). */
#ifndef TOPOMAP_QEMU_DIRECT_PROC_H
#define TOPOMAP_QEMU_DIRECT_PROC_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include <topomap/topomap.h>

#include "cpus.h"
#include "procfs.h"

/* The longest /proc file read (status is about 1.5 KiB). */
#define PROC_MAX_FILE (64u << 10)
/* The most threads a process may have for topomap to act on it. */
#define PROC_MAX_THREADS 65536

/*
 * Open /proc/PID/task of the process `text` names (a positive decimal number of a process, not
 * of a thread). Returns the directory fd, kept for the transaction: every tid is looked up
 * below it, so a thread of another process is never mistaken for one of QEMU's.
 */
int proc_open_process(const char *text, pid_t *ret_pid, struct tmap_error *err);
/*
 * A pidfd of the process proc_open_process() opened, taken right after it: it says when that
 * process exits, even once its pid names another process. *ret_pidfd is -1 where the kernel
 * (before 5.3) or valgrind has no pidfd_open: /proc then tells. -ESRCH, with a message, when
 * the process has exited already (a zombie its parent has not reaped yet counts).
 */
int proc_open_pidfd(int task_fd, pid_t pid, int *ret_pidfd, struct tmap_error *err);
/* The process's start time, field 22 of /proc/PID/stat (clock ticks after boot): with its pid,
 * what names the process and no other one that gets its pid later. -EBADMSG for a stat that
 * does not parse. */
int proc_start_time(int task_fd, pid_t pid, unsigned long long *ret);
/* Has the process exited (every thread gone, the main one a zombie at most)? Waits at most
 * wait_ms for it. */
bool proc_exited(int task_fd, pid_t pid, int pidfd, int wait_ms);
/* Is tid a thread of the process whose task directory is task_fd? 0 yes, -ENOENT no. */
int proc_task_exists(int task_fd, pid_t tid);
/* The process's thread ids, ascending. */
int proc_list_tasks(int task_fd, pid_t **ret, size_t *ret_n, struct tmap_error *err);
/* Open a file of one thread (task/TID/NAME) for reading; -errno. */
int proc_open_task_file(int task_fd, pid_t tid, const char *name);
/* Read a file of one thread (task/TID/NAME), at most PROC_MAX_FILE bytes, NUL-terminated. */
int proc_read_task_file(int task_fd, pid_t tid, const char *name, char **ret);
/* A thread's name (comm), printable characters only. */
void proc_task_name(int task_fd, pid_t tid, char *buf, size_t size);
/* The nodes holding anonymous pages of the process, from numa_maps (set bits are nodes). */
int proc_numa_maps_nodes(FILE *numa_maps, struct cpus *nodes);

#endif
