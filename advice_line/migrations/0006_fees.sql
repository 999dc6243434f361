-- Fee schedules (honoreringsmodel): each version is a TOML document kept as uploaded, with
-- its label, the date it takes effect and a SHA-256 of its text. Append-only: a schedule
-- is never changed or removed; a new version with a later effective date replaces it from
-- that date. Fee lines are not stored: they are computed on demand (deterministically)
-- from these documents, the consultation timelines, the rotas and the GP commitments.

CREATE TABLE fee_schedules (
    id              bigserial PRIMARY KEY,
    version         text NOT NULL UNIQUE CHECK (length(version) BETWEEN 1 AND 64),
    effective_from  date NOT NULL UNIQUE,
    document        text NOT NULL,
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_by     text NOT NULL,          -- the actor's username ("cli:<user>" from the CLI)
    uploaded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION fee_schedules_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'fee_schedules is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER fee_schedules_no_update BEFORE UPDATE OR DELETE ON fee_schedules
    FOR EACH ROW EXECUTE FUNCTION fee_schedules_are_append_only();
CREATE TRIGGER fee_schedules_no_truncate BEFORE TRUNCATE ON fee_schedules
    FOR EACH STATEMENT EXECUTE FUNCTION fee_schedules_are_append_only();
