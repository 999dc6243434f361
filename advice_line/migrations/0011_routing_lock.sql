-- The routing lock and the check made under it, in one round trip: a step that would ring
-- someone takes the lock (held to its commit, on every node) and then asks whether any of
-- them rings for, or is in, another open call. The check is a statement of its own inside a
-- VOLATILE function, so in READ COMMITTED it takes its snapshot after the lock is granted and
-- sees every offer committed by whoever held the lock before.
CREATE FUNCTION routing_lock_then_busy(lock_key bigint, advisors bigint[], apart_from bigint,
                                       open_states text[])
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN EXISTS (
        SELECT 1 FROM consultations
         WHERE id <> apart_from AND state = ANY(open_states)
           AND (CASE WHEN state IN ('queued', 'callback') THEN participants
                     ELSE offered || participants END) && advisors);
END
$$;
