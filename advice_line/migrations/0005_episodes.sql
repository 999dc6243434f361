-- Advice episodes: the advisor's documentation of a consultation (advice and outcome), and
-- the outcome of a patient's palliative course. Both are versioned and append-only: an
-- amendment is a new version with a reason; the current one is the highest version.

CREATE TABLE episode_documents (
    id                bigserial PRIMARY KEY,
    consultation_id   bigint NOT NULL REFERENCES consultations (id),
    version           integer NOT NULL,
    author_id         bigint NOT NULL REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    disposition       text NOT NULL CHECK (disposition IN ('phone_advice', 'nurse_visit',
                          'gp_visit', 'admission', 'hospice', 'died', 'other')),
    advice            text NOT NULL,
    follow_up         boolean NOT NULL,
    follow_up_note    text NOT NULL DEFAULT '',
    amendment_reason  text NOT NULL DEFAULT '',
    UNIQUE (consultation_id, version)
);

CREATE TABLE course_outcomes (
    id                bigserial PRIMARY KEY,
    patient_id        bigint NOT NULL REFERENCES patients (id),
    version           integer NOT NULL,
    recorded_by       bigint NOT NULL REFERENCES users (id),
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    course_ended_on   date NOT NULL,
    died              boolean NOT NULL,
    place_of_death    text NULL
        CHECK (place_of_death IN ('home', 'nursing_home', 'hospice', 'hospital', 'other')),
    wished_place      text NOT NULL
        CHECK (wished_place IN ('home', 'nursing_home', 'hospice', 'hospital', 'other', 'unknown')),
    note              text NOT NULL DEFAULT '',
    amendment_reason  text NOT NULL DEFAULT '',
    UNIQUE (patient_id, version),
    CHECK (died OR place_of_death IS NULL)
);

CREATE FUNCTION episode_records_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER episode_documents_no_update BEFORE UPDATE OR DELETE ON episode_documents
    FOR EACH ROW EXECUTE FUNCTION episode_records_are_append_only();
CREATE TRIGGER episode_documents_no_truncate BEFORE TRUNCATE ON episode_documents
    FOR EACH STATEMENT EXECUTE FUNCTION episode_records_are_append_only();
CREATE TRIGGER course_outcomes_no_update BEFORE UPDATE OR DELETE ON course_outcomes
    FOR EACH ROW EXECUTE FUNCTION episode_records_are_append_only();
CREATE TRIGGER course_outcomes_no_truncate BEFORE TRUNCATE ON course_outcomes
    FOR EACH STATEMENT EXECUTE FUNCTION episode_records_are_append_only();
