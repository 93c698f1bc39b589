-- Principals (banks, guarantors, the regulator), their client certificates and their
-- bearer tokens. Certificates and tokens are stored only as SHA-256 hex digests.
CREATE TABLE principals (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('bank', 'guarantor', 'regulator')),
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

CREATE TABLE principal_certs (
    sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    principal_id bigint NOT NULL REFERENCES principals (id),
    subject      text NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX principal_certs_principal ON principal_certs (principal_id);

CREATE TABLE principal_tokens (
    sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    principal_id bigint NOT NULL REFERENCES principals (id),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX principal_tokens_principal ON principal_tokens (principal_id);
