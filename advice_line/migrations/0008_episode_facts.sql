-- Episode facts, derived and rebuildable: the facts of each closed consultation, as
-- ``advice_line.episodes.facts.derive`` computed them from its timeline, so that evaluation
-- and fees read one row per episode instead of deriving every timeline again. Never a
-- source of truth: the routing engine writes the row in the transaction of the final
-- event (with the consultation locked), ``derived_by`` names the derive code that wrote it
-- (rows by other code are ignored and derived afresh), any event appended later deletes
-- it, a row goes with its consultation (retention), and ``advice-line episodes
-- rebuild-facts`` recomputes every row from the timelines.

CREATE TABLE episode_facts (
    consultation_id  bigint PRIMARY KEY REFERENCES consultations (id) ON DELETE CASCADE,
    derived_by       text NOT NULL,          -- fingerprint of the derive code
    facts            jsonb NOT NULL
);

-- Reports and statements select consultations by when they were requested.
CREATE INDEX consultations_created ON consultations (created_at);

-- An event appended to a consultation whose facts are stored makes them stale: forget them
-- (the loaders then derive that episode from its timeline). The row lock waits for a
-- routing step on the consultation, which may be writing the facts, to commit first.
CREATE FUNCTION episode_facts_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM consultations WHERE id = NEW.consultation_id FOR KEY SHARE;
    DELETE FROM episode_facts WHERE consultation_id = NEW.consultation_id;
    RETURN NULL;
END $$;
CREATE TRIGGER consultation_events_forget_facts AFTER INSERT ON consultation_events
    FOR EACH ROW EXECUTE FUNCTION episode_facts_forget();
