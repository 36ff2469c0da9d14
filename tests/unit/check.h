/* check.h: the smallest test harness that can fail: CHECK records a failure
 * with file and line, RUN runs one test function, check_summary() prints the
 * closing "N passed, N failed" line and returns the exit status.  */
#ifndef ACRDIAG_CHECK_H
#define ACRDIAG_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_in_test;
static int check_passed, check_failed;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__,         \
                    __LINE__, #cond);                                        \
            check_failures_in_test++;                                        \
        }                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                   \
    do {                                                                     \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);      \
        if (check_a_ != check_b_) {                                          \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",    \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_);         \
            check_failures_in_test++;                                        \
        }                                                                    \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                   \
    do {                                                                     \
        const char *check_a_ = (a), *check_b_ = (b);                         \
        if (strcmp(check_a_, check_b_) != 0) {                               \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n",      \
                    __FILE__, __LINE__, #a, check_a_, check_b_);             \
            check_failures_in_test++;                                        \
        }                                                                    \
    } while (0)

#define RUN(fn)                                                              \
    do {                                                                     \
        check_failures_in_test = 0;                                          \
        fn();                                                                \
        if (check_failures_in_test) {                                        \
            check_failed++;                                                  \
            printf("FAIL %s\n", #fn);                                        \
        } else {                                                             \
            check_passed++;                                                  \
            printf("ok   %s\n", #fn);                                        \
        }                                                                    \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
