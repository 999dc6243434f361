-- The outage copy reads the patients added since its last copy every few seconds on every
-- node (advice_line/outage/directory.py): by index, not by scanning the register.
CREATE INDEX patients_created_at ON patients (created_at);
