-- Retention: a controlled way for the retention command (`advice-line retention run`) to
-- delete records from the append-only tables once their retention period is over, while
-- every ordinary UPDATE, DELETE and TRUNCATE is still refused.
--
-- The command sets the transaction-local setting advice_line.retention_cutoff (an instant)
-- before it deletes one batch. The triggers then let a DELETE through only when
--   1. that cutoff is no later than the legal floor allows: local now (Europe/Copenhagen)
--      minus the floor of the record's kind, from retention_floors; and
--   2. the record's own date is before the cutoff: an episode's last entry (the latest of
--      the consultation's row, its events and its documentation versions), the latest
--      version of a patient's course outcome, an audit entry's time.
-- So even through this path nothing inside its period can go: the database checks the
-- dates itself, not only the Python code that chose the records.

CREATE TABLE retention_floors (
    kind   text PRIMARY KEY,
    floor  interval NOT NULL CHECK (floor >= interval '1 day')
);
INSERT INTO retention_floors (kind, floor) VALUES
    ('patient_records', interval '10 years'),
    ('audit', interval '2 years');

-- The cutoff the retention command set for this transaction (NULL when none), refused when
-- it is later than the floor of p_kind allows.
CREATE FUNCTION retention_cutoff(p_kind text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    raw     text := current_setting('advice_line.retention_cutoff', true);
    wanted  timestamptz;
    latest  timestamptz;
BEGIN
    IF raw IS NULL OR raw = '' THEN
        RETURN NULL;
    END IF;
    wanted := raw::timestamptz;
    SELECT ((now() AT TIME ZONE 'Europe/Copenhagen') - f.floor) AT TIME ZONE 'Europe/Copenhagen'
      INTO latest FROM retention_floors f WHERE f.kind = p_kind;
    IF latest IS NULL OR wanted > latest THEN
        RAISE EXCEPTION 'retention cutoff % is inside the retention floor of %', wanted, p_kind
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN wanted;
END $$;

-- An episode's last entry: the latest of its consultation row, its events and documentation.
CREATE FUNCTION episode_last_entry(p_consultation bigint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT greatest(
        (SELECT greatest(c.created_at, c.updated_at) FROM consultations c WHERE c.id = p_consultation),
        (SELECT max(e.at) FROM consultation_events e WHERE e.consultation_id = p_consultation),
        (SELECT max(d.created_at) FROM episode_documents d WHERE d.consultation_id = p_consultation))
$$;

CREATE OR REPLACE FUNCTION consultation_events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF episode_last_entry(OLD.consultation_id) < retention_cutoff('patient_records') THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'consultation_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION episode_records_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF TG_TABLE_NAME = 'episode_documents' THEN
            IF episode_last_entry(OLD.consultation_id) < retention_cutoff('patient_records') THEN
                RETURN OLD;
            END IF;
        ELSIF TG_TABLE_NAME = 'course_outcomes' THEN
            IF (SELECT max(o.recorded_at) FROM course_outcomes o WHERE o.patient_id = OLD.patient_id)
                   < retention_cutoff('patient_records') THEN
                RETURN OLD;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.at < retention_cutoff('audit') THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
