-- Organisations, users and their sessions, patients with care-plan summaries, audit log.

CREATE TABLE organisations (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('home_care', 'gp_practice', 'hospital')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id               bigserial PRIMARY KEY,
    username         text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    display_name     text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    role             text NOT NULL CHECK (role IN ('nurse', 'advisor', 'coordinator', 'admin')),
    tier             text CHECK (tier IN ('senior_nurse', 'gp', 'specialist')),
    organisation_id  bigint REFERENCES organisations (id),
    password_hash    text NOT NULL,
    totp_secret      text,
    totp_enabled     boolean NOT NULL DEFAULT false,
    language         text NOT NULL DEFAULT 'da' CHECK (language IN ('da', 'en')),
    disabled_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT advisor_has_tier CHECK ((role = 'advisor') = (tier IS NOT NULL)),
    CONSTRAINT clinician_has_organisation CHECK (role = 'admin' OR organisation_id IS NOT NULL)
);

-- Whether a second factor is required, per role (set by an admin).
CREATE TABLE role_policies (
    role           text PRIMARY KEY CHECK (role IN ('nurse', 'advisor', 'coordinator', 'admin')),
    totp_required  boolean NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO role_policies (role) VALUES ('nurse'), ('advisor'), ('coordinator'), ('admin');

-- Server-side sessions; the cookie carries a random token, the table its SHA-256.
CREATE TABLE sessions (
    token_hash    text PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id),
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    ip            text,
    user_agent    text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE patients (
    id                       bigserial PRIMARY KEY,
    reference                text NOT NULL CHECK (length(reference) BETWEEN 1 AND 64),
    organisation_id          bigint NOT NULL REFERENCES organisations (id),
    name                     text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    gp_practice_id           bigint REFERENCES organisations (id),
    diagnosis_group          text NOT NULL CHECK (diagnosis_group IN ('cancer', 'non_cancer')),
    treatment_level          text NOT NULL DEFAULT 'full' CHECK (treatment_level IN ('full', 'limited')),
    treatment_limitations    text NOT NULL DEFAULT '',
    dnr                      boolean NOT NULL DEFAULT false,
    dnr_decided_by           text NOT NULL DEFAULT '',
    dnr_decided_on           date,
    living_will              boolean NOT NULL DEFAULT false,
    preferred_place_of_death text NOT NULL DEFAULT 'unknown'
        CHECK (preferred_place_of_death IN ('home', 'hospice', 'hospital', 'nursing_home', 'other', 'unknown')),
    people_present           text NOT NULL DEFAULT '',
    notes                    text NOT NULL DEFAULT '',
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organisation_id, reference),
    CONSTRAINT limited_has_limitations CHECK (treatment_level = 'full' OR treatment_limitations <> '')
);

-- Append-only: who did or read what, when, from where and why.
CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor_id       bigint REFERENCES users (id),
    actor_username text NOT NULL,
    action         text NOT NULL,
    target_type    text NOT NULL,
    target_id      text,
    patient_id     bigint REFERENCES patients (id),
    reason         text NOT NULL,
    ip             text,
    request_id     text,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_patient ON audit_log (patient_id, at) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
