-- API keys for the REST API. Only a SHA-256 hash of each secret is stored; the key itself is shown
-- once, by `streampulse keys create`. Idempotent: applied by `streampulse stack up`.
create schema if not exists api;

create table if not exists api.api_keys (
    key_id      text primary key,
    name        text        not null,
    secret_hash text        not null,
    scopes      text[]      not null default '{read}',
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz
);
