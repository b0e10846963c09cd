-- People who sign in to the consoles, their sessions, failed sign-ins (for throttling) and the
-- audit log of what they did.

-- A person works at one print site or one agency, with one role (see core::people).
create table person (
    person_id text primary key,
    -- The sign-in name, lower case.
    email text not null unique,
    name text not null,
    site_id text references site (site_id),
    agency_id text references agency (agency_id),
    role text not null,
    -- argon2id, PHC string format; null until the person sets one.
    password_hash text,
    -- A one-time sign-in code (SHA-256, hex) and when it stops working: printed by
    -- `admin create-user` or given by a supervisor, used once to set a password.
    setup_code_hash text,
    setup_expires_at text,
    disabled_at text,
    created_at text not null,
    updated_at text not null,
    check ((site_id is null) <> (agency_id is null))
);

create index person_site_idx on person (site_id);
create index person_agency_idx on person (agency_id);

-- A signed-in browser. The cookie carries a random token; only its SHA-256 is stored.
create table person_session (
    token_hash text primary key,
    person_id text not null references person (person_id),
    -- The form token of this session (CSRF), sent back in every form.
    csrf_token text not null,
    created_at text not null,
    last_seen_at text not null,
    -- Ends here whatever happens (absolute expiry); idle expiry is counted from last_seen_at.
    expires_at text not null,
    -- Signed out, disabled or replaced: the session is over on every node.
    ended_at text,
    client text
);

create index person_session_person_idx on person_session (person_id);

-- Failed sign-ins, per account (`email:…`) and per client address (`addr:…`), for throttling.
create table signin_failure (
    throttle_key text not null,
    at text not null
);

create index signin_failure_idx on signin_failure (throttle_key, at);

-- What people did: append-only (the triggers below refuse changes and deletions).
create table audit_event (
    audit_id integer primary key autoincrement,
    at text not null,
    person_id text references person (person_id),
    -- Whose log it is in: the person's site or agency.
    site_id text,
    agency_id text,
    -- What was done (batch.close, page.assign, person.create, signin, …) and to what.
    action text not null,
    target text,
    detail text,
    client text,
    request_id text
);

create index audit_event_site_idx on audit_event (site_id, audit_id);
create index audit_event_agency_idx on audit_event (agency_id, audit_id);

create trigger audit_event_no_update before update on audit_event
begin select raise(abort, 'the audit log is append-only'); end;
create trigger audit_event_no_delete before delete on audit_event
begin select raise(abort, 'the audit log is append-only'); end;
