/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the cgroup backend's files: the project's header-only helpers
 * (common/util.h) and the public headers; nothing of the library's internals.
 */
#ifndef TOPOMAP_CGROUP_UTIL_H
#define TOPOMAP_CGROUP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <topomap/topomap.h>

#include "path.h"
#include "util.h"

#endif
