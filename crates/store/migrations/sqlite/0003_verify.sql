-- The public verification service: PIN attempts (rate limited across nodes through these
-- rows) and the single-use tokens that confirm an e-mail address left on the verification page.

-- One row per PIN attempt being checked or failed; successful attempts are deleted. Counted per
-- letter and per client in a sliding window.
create table pin_attempt (
    pin_attempt_id text primary key,
    letter_id text not null references letter (letter_id),
    -- Keyed hash of the client's IP address: the address itself is not stored.
    client_hash text not null,
    -- 'pending' while the PIN is being checked, 'failed' when it did not match.
    outcome text not null,
    created_at text not null
);

create index pin_attempt_letter_idx on pin_attempt (letter_id, created_at);
create index pin_attempt_client_idx on pin_attempt (client_hash, created_at);

-- A request to register an e-mail address as a citizen's verified e-channel, confirmed by the
-- link sent to that address.
create table optin_token (
    -- Keyed hash of the random token in the link, hex: the token itself is not stored.
    token_hash text primary key,
    letter_id text not null references letter (letter_id),
    citizen_id_hash text not null,
    email text not null,
    expires_at text not null,
    used_at text,
    created_at text not null
);

create index optin_token_expires_idx on optin_token (expires_at);
