-- Web Push subscriptions (RFC 8030): one row per browser an advisor allowed to wake them.
-- The endpoint is a capability URL of the browser's push service; it is unique, and a
-- browser that subscribes again (or is handed to another advisor) takes the row over.

CREATE TABLE push_subscriptions (
    id               bigserial PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint         text NOT NULL UNIQUE CHECK (length(endpoint) BETWEEN 1 AND 2048),
    p256dh           text NOT NULL,          -- the browser's P-256 public key, base64url
    auth             text NOT NULL,          -- the 16-byte authentication secret, base64url
    user_agent       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_success_at  timestamptz,
    failures         integer NOT NULL DEFAULT 0 CHECK (failures >= 0)
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions (user_id);
