-- Agencies, post-office sites, API keys, letters with their event timelines, idempotency
-- records and the registry of citizens' verified e-channels.
-- Times are UTC RFC 3339 text with milliseconds (they sort as text); flags are 0/1.

create table agency (
    agency_id text primary key,
    name text not null,
    contact_email text,
    created_at text not null
);

create table site (
    site_id text primary key,
    name text not null,
    -- Comma-separated postcode prefixes this site prints for (e.g. "10,11").
    postcode_prefixes text not null,
    created_at text not null
);

create table api_key (
    key_id text primary key,
    -- SHA-256 of the whole key, hex. The key itself is shown once and never stored.
    key_hash text not null unique,
    -- The first characters of the key, to tell keys apart in listings.
    key_prefix text not null,
    agency_id text references agency (agency_id),
    site_id text references site (site_id),
    test bigint not null default 0,
    created_at text not null,
    revoked_at text,
    check ((agency_id is null) <> (site_id is null))
);

create table letter (
    letter_id text primary key,
    agency_id text not null references agency (agency_id),
    reference text not null,
    status text not null,
    channel text not null,
    channel_reason text not null,
    test bigint not null default 0,
    postcode text not null,
    -- Keyed hash of the recipient's citizen id, to find their e-channels without the id.
    citizen_id_hash text,
    reply_deadline text,
    -- The letter as submitted (with the address in official spelling), JSON.
    content text not null,
    created_at text not null,
    updated_at text not null
);

create index letter_agency_idx on letter (agency_id, letter_id);
create index letter_agency_status_idx on letter (agency_id, status, letter_id);

create table letter_event (
    -- Position in the global event order. SQLite has one writer, so events commit in this order.
    seq integer primary key autoincrement,
    event_id text not null unique,
    agency_id text not null references agency (agency_id),
    -- Always 0 on SQLite (see the PostgreSQL schema for its use there).
    tx_order bigint not null default 0,
    letter_id text not null references letter (letter_id),
    kind text not null,
    status text not null,
    detail text,
    request_id text,
    created_at text not null
);

create index letter_event_feed_idx on letter_event (agency_id, tx_order, seq);
create index letter_event_letter_idx on letter_event (letter_id, seq);

create table idempotency_key (
    agency_id text not null references agency (agency_id),
    idempotency_key text not null,
    -- SHA-256 of the canonical JSON request body.
    request_hash text not null,
    status_code bigint not null,
    response_body text not null,
    created_at text not null,
    primary key (agency_id, idempotency_key)
);

create table e_channel (
    citizen_id_hash text primary key,
    email text not null,
    verified_at text not null,
    source text not null,
    created_at text not null
);
