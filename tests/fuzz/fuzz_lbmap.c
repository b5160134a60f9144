/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* lbmap's command line under libFuzzer (tests/fuzz/fuzz_tool.h). */
#define FUZZ_TOOL "lbmap"
#include "fuzz/fuzz_tool.h"
