-- Which user holds each nick claim (palaver.claims): a user that moves to another node (its
-- node died, or a load balancer sent it elsewhere) takes its nick along at once instead of
-- waiting for the old node's lease to run out. NULL: not said (the claim is the node's).
ALTER TABLE nick_claims ADD COLUMN identity TEXT COLLATE "C";
