-- Episode measures: next to the facts of each closed episode, the flat figures the
-- evaluation tables count (``advice_line.evaluation.rows.Measures``, one column each, named
-- ``m_<field>``), so a year's report reads plain columns instead of rebuilding the facts of
-- every episode in Python. Derived from the same facts in the same transaction, by
-- ``advice_line.episodes.stored_facts.write``; NULL only in rows written by older code,
-- which the fingerprint (``derived_by``) already makes the loaders ignore until
-- ``advice-line episodes rebuild-facts`` rewrites them.

ALTER TABLE episode_facts
    -- Whom the episode concerned, copied from its consultation (never changes): a report
    -- reads the stored episodes of a period without the consultations.
    ADD COLUMN patient_id             bigint,
    ADD COLUMN organisation_id        bigint,
    ADD COLUMN m_requested_at         timestamptz,
    ADD COLUMN m_weekday              smallint,
    ADD COLUMN m_hour                 smallint,
    ADD COLUMN m_channel              text,
    ADD COLUMN m_outcome              text,
    ADD COLUMN m_queued               boolean,
    ADD COLUMN m_escalation_failed    boolean,
    ADD COLUMN m_callback_requested   boolean,
    ADD COLUMN m_answered             boolean,
    ADD COLUMN m_wait                 double precision,
    ADD COLUMN m_t1                   text,
    ADD COLUMN m_t1_answered          boolean,
    ADD COLUMN m_t1_reached           boolean,
    ADD COLUMN m_t1_wait              double precision,
    ADD COLUMN m_t2                   text,
    ADD COLUMN m_t2_answered          boolean,
    ADD COLUMN m_t2_reached           boolean,
    ADD COLUMN m_t2_wait              double precision,
    ADD COLUMN m_t3                   text,
    ADD COLUMN m_t3_answered          boolean,
    ADD COLUMN m_t3_reached           boolean,
    ADD COLUMN m_t3_wait              double precision,
    ADD COLUMN m_q_reports            integer,
    ADD COLUMN m_q_rtt                double precision,
    ADD COLUMN m_q_relayed            boolean,
    ADD COLUMN m_q_loss               double precision;

-- A report selects the stored episodes of its period by the request's instant.
CREATE INDEX episode_facts_requested ON episode_facts (m_requested_at);
