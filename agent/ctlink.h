/*
 * ctlink.h - the agent's link to itm-controller: join, heartbeats, rejoin.
 */
#ifndef ITM_AGENT_CTLINK_H
#define ITM_AGENT_CTLINK_H

void ctlink_start(void);
void ctlink_stop(void);

#endif /* ITM_AGENT_CTLINK_H */
