-- Routing: consultations with their machine state, the append-only timeline, durable timers,
-- advisors' chosen availability, and GP commitments per patient.

CREATE TABLE consultations (
    id               bigserial PRIMARY KEY,
    patient_id       bigint NOT NULL REFERENCES patients (id),
    nurse_id         bigint NOT NULL REFERENCES users (id),
    organisation_id  bigint NOT NULL REFERENCES organisations (id),
    channel          text NOT NULL CHECK (channel IN ('video', 'audio')),
    urgency          text NOT NULL CHECK (urgency IN ('acute', 'urgent', 'routine')),
    isbar            jsonb NOT NULL,
    state            text NOT NULL,
    tier             integer NOT NULL DEFAULT 0,
    version          integer NOT NULL DEFAULT 0,
    machine          jsonb NOT NULL,          -- the pure core's Consultation, serialised
    offered          bigint[] NOT NULL DEFAULT '{}',
    participants     bigint[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consultations_open ON consultations (state)
    WHERE state NOT IN ('ended', 'cancelled', 'abandoned', 'failed');
CREATE INDEX consultations_offered ON consultations USING gin (offered);
CREATE INDEX consultations_participants ON consultations USING gin (participants);
CREATE INDEX consultations_nurse ON consultations (nurse_id, created_at);

-- The timeline: every transition, with its time; evaluation and fees are computed from it.
CREATE TABLE consultation_events (
    id               bigserial PRIMARY KEY,
    consultation_id  bigint NOT NULL REFERENCES consultations (id),
    at               timestamptz NOT NULL,
    type             text NOT NULL,
    actor_id         bigint REFERENCES users (id),
    data             jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX consultation_events_by_consultation ON consultation_events (consultation_id, id);

CREATE FUNCTION consultation_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consultation_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER consultation_events_no_update BEFORE UPDATE OR DELETE ON consultation_events
    FOR EACH ROW EXECUTE FUNCTION consultation_events_are_append_only();
CREATE TRIGGER consultation_events_no_truncate BEFORE TRUNCATE ON consultation_events
    FOR EACH STATEMENT EXECUTE FUNCTION consultation_events_are_append_only();

-- Durable timers: one per consultation and kind; claimed with FOR UPDATE SKIP LOCKED by
-- whichever node is alive, so a crash neither loses nor double-fires one.
CREATE TABLE consultation_timers (
    consultation_id  bigint NOT NULL REFERENCES consultations (id),
    kind             text NOT NULL,
    seq              integer NOT NULL,
    due_at           timestamptz NOT NULL,
    PRIMARY KEY (consultation_id, kind)
);
CREATE INDEX consultation_timers_due ON consultation_timers (due_at);

-- What an advisor chose (available or away) and since when they have been idle; whether
-- they are online lives in Redis (it is gone with the connection).
CREATE TABLE advisor_presence (
    user_id     bigint PRIMARY KEY REFERENCES users (id),
    status      text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'away')),
    idle_since  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A GP's commitment to be reachable for one patient, in weekly windows (rota window format).
CREATE TABLE gp_commitments (
    id          bigserial PRIMARY KEY,
    patient_id  bigint NOT NULL REFERENCES patients (id),
    gp_id       bigint NOT NULL REFERENCES users (id),
    windows     jsonb NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date,
    note        text NOT NULL DEFAULT '',
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX gp_commitments_patient ON gp_commitments (patient_id);
