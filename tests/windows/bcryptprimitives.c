/* Test-harness shim for Wine 8.0 only: NEVER shipped with sct.
 *
 * Rust's standard library for Windows (1.78 and later) imports ProcessPrng from
 * bcryptprimitives.dll, which every supported Windows (10 / Server 2016 and later) has but Wine 8.0
 * does not ship, so every Rust .exe fails to start under it (status c0000135). This stand-in exports
 * the one function, filling the buffer from the system RNG (RtlGenRandom, exported by advapi32 as
 * SystemFunction036). scripts/test-windows.sh builds it into the test Wine prefix's system32.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
