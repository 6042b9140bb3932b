/*
 * marks.h - ITM's bits in the packet mark (nfmark) and conntrack mark.
 *
 * Stages at a hook run in rule order; a stage hands a packet on by setting
 * its own bit in the packet mark and returning NF_REPEAT, so the packet
 * re-enters the hook's chain and skips every stage whose bit is set.  The
 * last rule of each hook chain clears ITM's bits again.
 *
 * A packet can also leave a hook without reaching that last rule: a stage
 * whose queue has no reader lets it through by --queue-bypass, with the
 * bits of the stages before it still set.  So the stage bits carry the
 * hook they belong to: the first rule of each hook chain, seeing another
 * hook's tag, clears the stage bits and writes its own tag, while a packet
 * repeated within the hook keeps both.
 *
 *   nfmark  bits 27..31  stage bits (5 stages per hook)
 *           bits 24..26  hook tag: the hook (1..5) the stage bits are for
 *           bits 16..23  settle request: id of a settlement (1..255) the
 *                        verdict asks to store in the flow's conntrack mark
 *   ctmark  bits 16..23  settlement of the flow's original direction
 *           bits 24..31  settlement of the flow's reply direction
 *
 * Bits 0..15 of both marks are left to the operator.
 */
#ifndef ITM_MARKS_H
#define ITM_MARKS_H

#define ITM_MARK_MASK	      0xffff0000u
#define ITM_MARK_STAGE_SHIFT  27
#define ITM_MARK_STAGE_MASK   0xff000000u /* stage bits and hook tag */
#define ITM_MARK_STAGES	      5
#define ITM_MARK_HOOK_SHIFT   24
#define ITM_MARK_HOOK_MASK    0x07000000u
#define ITM_MARK_HOOK_TAG(h)  (((uint32_t)(h) + 1) << ITM_MARK_HOOK_SHIFT)
#define ITM_MARK_SETTLE_SHIFT 16
#define ITM_MARK_SETTLE_MASK  0x00ff0000u
#define ITM_SETTLE_IDS	      255

#define ITM_CTMARK_ORIG_SHIFT  16
#define ITM_CTMARK_ORIG_MASK   0x00ff0000u
#define ITM_CTMARK_REPLY_SHIFT 24
#define ITM_CTMARK_REPLY_MASK  0xff000000u

#define ITM_STAGE_BIT(i) (1u << (ITM_MARK_STAGE_SHIFT + (i)))

#endif /* ITM_MARKS_H */
