-- Consultations routed while PostgreSQL was away are written back afterwards, possibly more
-- than once (from Redis, and from each node's spool): each timeline event carries its place
-- in the timeline so that it is added once. Marked so evaluation can tell them apart.
ALTER TABLE consultation_events ADD COLUMN outage_seq integer;
CREATE UNIQUE INDEX consultation_events_outage_seq
    ON consultation_events (consultation_id, outage_seq) WHERE outage_seq IS NOT NULL;
ALTER TABLE consultations ADD COLUMN routed_in_outage boolean NOT NULL DEFAULT false;
-- The version an outage's write back left the row at: a later write back (another node's
-- spool) may move the row on only while nothing else has (version = outage_version).
ALTER TABLE consultations ADD COLUMN outage_version integer;
