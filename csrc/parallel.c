/* parallel.c: the thread count used by every kernel; the only file that
 * calls omp_* functions. The default comes from env CGRAD_NUM_THREADS, else
 * the number of CPUs available to the process. Without OpenMP the count is
 * stored and reported but every kernel runs serially. Kernels pass the count
 * to each parallel region with num_threads(), so a change made from any
 * Python thread takes effect everywhere.
 */
/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "common.h"

#define CG_MAX_THREADS 256

static int g_num_threads = 0; /* 0 = not yet initialised */

static int clamp_threads(long n)
{
    if (n < 1) return 1;
    if (n > CG_MAX_THREADS) return CG_MAX_THREADS;
    return (int)n;
}

static int default_threads(void)
{
    const char *env = getenv("CGRAD_NUM_THREADS");
    if (env && *env) {
        char *end = NULL;
        long n = strtol(env, &end, 10);
        if (end != env && *end == '\0' && n >= 1) return clamp_threads(n);
    }
#ifdef _OPENMP
    return clamp_threads(omp_get_num_procs());
#else
    return clamp_threads(sysconf(_SC_NPROCESSORS_ONLN));
#endif
}

int cg_get_num_threads(void)
{
    int n = g_num_threads;
    if (n <= 0) {            /* benign race: every thread computes the same value */
        n = default_threads();
        g_num_threads = n;
    }
    return n;
}

void cg_set_num_threads(int n) { g_num_threads = clamp_threads(n); }

/* Index of the calling thread in the current parallel team, 0 outside one. */
int cg_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int cg_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
