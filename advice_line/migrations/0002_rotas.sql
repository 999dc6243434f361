-- Duty rotas: rotas per tier, layers (rotations) with participants, overrides, swaps,
-- and the secret tokens of personal calendar feeds.

CREATE TABLE rotas (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    tier        text NOT NULL CHECK (tier IN ('senior_nurse', 'gp', 'specialist')),
    timezone    text NOT NULL DEFAULT 'Europe/Copenhagen',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rota_layers (
    id            bigserial PRIMARY KEY,
    rota_id       bigint NOT NULL REFERENCES rotas (id) ON DELETE CASCADE,
    position      integer NOT NULL CHECK (position >= 0),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    shift_length  integer NOT NULL CHECK (shift_length BETWEEN 1 AND 10000),
    unit          text NOT NULL CHECK (unit IN ('hours', 'days', 'weeks')),
    handoff       time NOT NULL,
    start_date    date NOT NULL,
    -- [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "16:00"}, ...]; [] = always
    windows       jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rota_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE rota_participants (
    layer_id  bigint NOT NULL REFERENCES rota_layers (id) ON DELETE CASCADE,
    position  integer NOT NULL CHECK (position >= 0),
    user_id   bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (layer_id, position)
);

CREATE TABLE rota_overrides (
    id            bigserial PRIMARY KEY,
    rota_id       bigint NOT NULL REFERENCES rotas (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('replace', 'add')),
    clinician_id  bigint NOT NULL REFERENCES users (id),
    replaces_id   bigint REFERENCES users (id),
    start_at      timestamptz NOT NULL,
    end_at        timestamptz NOT NULL,
    note          text NOT NULL DEFAULT '',
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (end_at > start_at),
    CHECK (kind = 'replace' OR replaces_id IS NULL),
    CHECK (replaces_id IS DISTINCT FROM clinician_id)
);
CREATE INDEX rota_overrides_window ON rota_overrides (rota_id, start_at, end_at);

CREATE TABLE rota_swaps (
    id            bigserial PRIMARY KEY,
    rota_id       bigint NOT NULL REFERENCES rotas (id) ON DELETE CASCADE,
    first_id      bigint NOT NULL REFERENCES users (id),
    second_id     bigint NOT NULL REFERENCES users (id),
    first_start   timestamptz NOT NULL,
    first_end     timestamptz NOT NULL,
    second_start  timestamptz NOT NULL,
    second_end    timestamptz NOT NULL,
    note          text NOT NULL DEFAULT '',
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (first_end > first_start AND second_end > second_start),
    CHECK (first_id <> second_id)
);

-- One secret per user for subscribable calendar (iCalendar) feeds. Kept readable so the
-- user can copy the link again; it grants reading duty shifts only (no patient data) and
-- rotating it makes the old link useless.
CREATE TABLE calendar_tokens (
    user_id     bigint PRIMARY KEY REFERENCES users (id),
    token       text NOT NULL UNIQUE CHECK (length(token) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);
