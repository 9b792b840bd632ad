/* cpu.c: run-time CPU feature detection, done once, in one place. It picks
 * the GEMM micro-kernel ISA: the best the CPU supports, capped by env
 * CGRAD_ISA=generic|avx2|avx512 (read on first use) or by cg_set_isa().
 * The portable C kernel always exists; SIMD kernels exist only on x86 with
 * a GNU-compatible compiler (__builtin_cpu_supports, target attributes).
 */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"

static int g_isa = -1; /* -1 = not yet detected */

static int detect_isa(void)
{
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
    __builtin_cpu_init();
    /* Intel Skylake-SP/X (2017) and later Xeons, Ice Lake, Sapphire Rapids;
     * AMD Zen 4 (2022) and later. (The builtin also checks that the OS saves
     * the ZMM state.) */
    if (__builtin_cpu_supports("avx512f")) return CG_ISA_AVX512;
    /* Intel Haswell (2013) to Comet Lake, Alder Lake and later client cores;
     * AMD Zen 1-3 (2017-2020). */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CG_ISA_AVX2;
#endif
    /* Anything else: older x86-64, non-x86. */
    return CG_ISA_GENERIC;
}

static int parse_isa(const char *s)
{
    if (!s || !*s) return CG_ISA_AVX512;
    if (strcmp(s, "generic") == 0) return CG_ISA_GENERIC;
    if (strcmp(s, "avx2") == 0) return CG_ISA_AVX2;
    return CG_ISA_AVX512; /* "avx512" or unknown: no cap */
}

int cg_set_isa(int isa)
{
    int best = detect_isa();
    if (isa < CG_ISA_GENERIC) isa = CG_ISA_GENERIC;
    g_isa = isa < best ? isa : best;
    return g_isa;
}

int cg_get_isa(void)
{
    int isa = g_isa;
    if (isa < 0) isa = cg_set_isa(parse_isa(getenv("CGRAD_ISA")));
    return isa;
}

const char *cg_isa_name(int isa)
{
    switch (isa) {
    case CG_ISA_AVX512: return "avx512";
    case CG_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}
