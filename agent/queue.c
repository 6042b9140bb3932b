/*
 * queue.c - the agent's NFQUEUE numbers: AGENT_QUEUES of them from
 * --queue-base, handed to in-agent stages and process registrations.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* Mark in @bound the queue numbers of our range that some socket has
 * bound: a process module still holding the queue a previous agent gave
 * it (it lets go when it re-attaches), or another program's queue. */
static void
queues_bound(uint8_t bound[AGENT_QUEUES])
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned int q;
	char line[256];

	memset(bound, 0, AGENT_QUEUES);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u", &q) == 1 && q >= agent->cfg.queue_base &&
		    q - agent->cfg.queue_base < AGENT_QUEUES)
			bound[q - agent->cfg.queue_base] = 1;
	fclose(f);
}

int
queue_alloc(uint16_t *num)
{
	return queue_alloc_n(num, 1);
}

/* The lowest run of @n numbers neither we nor anyone else has bound. */
int
queue_alloc_n(uint16_t *first, unsigned int n)
{
	uint8_t bound[AGENT_QUEUES];
	unsigned int run = 0;

	queues_bound(bound);
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
