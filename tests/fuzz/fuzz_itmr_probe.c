/*
 * fuzz_itmr_probe.c - libFuzzer target for itmroute's probe parser
 * (modules/itmroute/probe.c): any bytes either fail with -EBADMSG or
 * parse into a probe that encodes back to the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct itmr_probe p;
	uint8_t back[ITMR_PROBE_LEN];
	int rc = itmr_probe_decode(data, size, &p);

	if (rc != 0 && rc != -EBADMSG)
		abort();
	if (rc == 0 && (itmr_probe_encode(&p, back) != size ||
			memcmp(back, data, size) != 0))
		abort();
	return 0;
}
