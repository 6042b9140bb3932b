/*
 * queue.c - the agent's NFQUEUE numbers: AGENT_QUEUES of them from
 * --queue-base, handed to in-agent stages (stagerun.c, a run of one per
 * worker) and to process registrations (lease.c, one each, for life).
 */
#include <errno.h>

#include "agent.h"
#include "kernel.h"

int
queue_alloc(uint16_t *num)
{
	return queue_alloc_n(num, 1);
}

/* The lowest run of @n numbers neither we nor anyone else has bound: a
 * process module may still hold the queue a previous agent gave it (it
 * lets go when it re-attaches), another program may hold one of ours. */
int
queue_alloc_n(uint16_t *first, unsigned int n)
{
	uint8_t bound[AGENT_QUEUES];
	unsigned int run = 0;

	kern_queues_bound(agent->cfg.queue_base, AGENT_QUEUES, bound);
	for (unsigned int i = 0; i < AGENT_QUEUES && n > 0; i++) {
		run = agent->queue_used[i] || bound[i] ? 0 : run + 1;
		if (run < n)
			continue;
		for (unsigned int j = i + 1 - n; j <= i; j++)
			agent->queue_used[j] = 1;
		*first = (uint16_t)(agent->cfg.queue_base + i + 1 - n);
		return 0;
	}
	return -ENOSPC;
}

void
queue_free(uint16_t num)
{
	unsigned int i = (unsigned int)(num - agent->cfg.queue_base);

	if (i < AGENT_QUEUES)
		agent->queue_used[i] = 0;
}
