-- Overdue approvals are re-routed, never left undecidable: the people an
-- overdue request was re-routed to are kept in escalate_to and may decide it
-- alone while it stays pending. Requests an older binary marked 'escalated'
-- (a dead end) go to the Business Manager.
UPDATE approval_requests r
   SET status = 'pending',
       decided_at = NULL,
       escalate_to = (SELECT coalesce(array_agg(p.handle ORDER BY p.handle), '{}')
                        FROM people p
                       WHERE 'business_manager' = ANY (p.roles)
                         AND p.active
                         AND p.handle <> r.requested_by)
 WHERE status = 'escalated';
