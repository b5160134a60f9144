/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Minimal TAP output for the C test programs: tests/run.sh counts the lines. */
#ifndef LB_TAP_H
#define LB_TAP_H

#include <stdio.h>
#include <string.h>

/* One test program may span files: exactly one defines TAP_MAIN before including. */
#ifdef TAP_MAIN
int tap_n, tap_failed, tap_case_failed;
#else
extern int tap_n, tap_failed, tap_case_failed;
#endif

/* Inside a case: record a failed check with where and why, keep going. */
#define CHECK(cond, ...)							\
	do {									\
		if (!(cond)) {							\
			tap_case_failed = 1;					\
			printf("#   %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);					\
			printf("\n");						\
		}								\
	} while (0)

#define CHECK_EQ_U(a, b) CHECK((unsigned long long)(a) == (unsigned long long)(b), \
			       "%llu != %llu", (unsigned long long)(a), (unsigned long long)(b))
#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0, "'%s' != '%s'", (a), (b))

/* Run one case: a function returning void that uses CHECK. */
#define RUN(fn)									\
	do {									\
		tap_case_failed = 0;						\
		fn();								\
		tap_n++;							\
		printf("%sok %d - %s\n", tap_case_failed ? "not " : "", tap_n, #fn); \
		tap_failed += tap_case_failed;					\
		fflush(stdout);							\
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
