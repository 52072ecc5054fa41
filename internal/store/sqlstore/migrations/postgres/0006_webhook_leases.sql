-- 0006: webhook delivery leases (issue 7): the node whose delivery worker
-- holds a delivery, until when. Several nodes on one database never
-- attempt one delivery at once; a crashed node's leases expire.

ALTER TABLE webhook_deliveries ADD COLUMN lease_owner text NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN lease_until timestamptz;
