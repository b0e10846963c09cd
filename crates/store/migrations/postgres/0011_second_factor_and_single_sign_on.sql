-- A second step at sign-in (a one-time code from an authenticator app, RFC 6238) and sign-in
-- through the organisation's OpenID Connect provider.

-- The person's authenticator secret, wrapped with the service secret (AES-256-GCM, base64), as
-- the seals' private keys are: it cannot be hashed, since the service must compute the same
-- codes the app does. Set when the person starts setting up the app;
-- `totp_enabled_at` is set once they have typed a code from it, and only then is the code
-- asked at sign-in.
alter table person add column totp_secret text;
alter table person add column totp_enabled_at text;
-- The last time step (Unix time / 30 s) whose code was accepted: a code works once.
alter table person add column totp_last_step bigint;
-- Who the person is at the OpenID provider (`issuer` space `sub`), remembered at their first
-- sign-in through it.
alter table person add column oidc_subject text;

create unique index person_oidc_subject_idx on person (oidc_subject);

-- A sign-in whose password was right and whose one-time code is still to come. The browser
-- holds a random token (only its SHA-256 is kept); it works for a few minutes, once.
create table signin_challenge (
    token_hash text primary key,
    person_id text not null references person (person_id),
    created_at text not null,
    expires_at text not null
);

create index signin_challenge_person_idx on signin_challenge (person_id);

-- A sign-in sent to the OpenID provider and not yet back: the `state` it carries (SHA-256),
-- the PKCE verifier and the nonce the ID token must repeat. Used once, within minutes.
create table oidc_attempt (
    state_hash text primary key,
    pkce_verifier text not null,
    nonce text not null,
    created_at text not null,
    expires_at text not null
);
