-- Test mode as its own world, and changes of a citizen's delivery channel that the holder of
-- the paper letter confirms, with a cooling-off period and a confirmation letter by post.

-- Every event carries its letter's mode, so that a test key's feed and webhooks see test
-- letters only and a live key's see live letters only.
alter table letter_event add column test bigint not null default 0;
update letter_event set test = (select l.test from letter l where l.letter_id = letter_event.letter_id);
create index letter_event_feed_mode_idx on letter_event (agency_id, test, tx_order, seq);

-- Endpoints registered with a test key receive test events only, and live ones live events.
alter table webhook_endpoint add column test bigint not null default 0;

-- Agencies' own PDFs uploaded with a test key serve test letters only.
alter table agency_document add column test bigint not null default 0;

-- Idempotency keys are per agency and mode: a live request never replays a test answer.
create table idempotency_key_by_mode (
    agency_id text not null references agency (agency_id),
    test bigint not null,
    idempotency_key text not null,
    -- SHA-256 of the canonical JSON request body.
    request_hash text not null,
    status_code bigint not null,
    response_body text not null,
    created_at text not null,
    primary key (agency_id, test, idempotency_key)
);
insert into idempotency_key_by_mode
    (agency_id, test, idempotency_key, request_hash, status_code, response_body, created_at)
    select agency_id, 0, idempotency_key, request_hash, status_code, response_body, created_at from idempotency_key;
drop table idempotency_key;
alter table idempotency_key_by_mode rename to idempotency_key;

-- A citizen's request to receive letters by e-mail, made on the verification page with a
-- letter's PIN and confirmed from the e-mail address. It takes effect only after a
-- cooling-off period, during which a confirmation letter goes to the postal address of the
-- letter the PIN came from; whoever holds that letter can stop the change with its code.
create table channel_change (
    change_id text primary key,
    citizen_id_hash text not null,
    email text not null,
    -- The letter whose PIN was used: its timeline shows the change.
    letter_id text not null references letter (letter_id),
    -- The confirmation letter posted to the citizen's address.
    confirmation_letter_id text references letter (letter_id),
    -- Keyed hash of the code printed on the confirmation letter that stops the change.
    stop_code_hash text not null unique,
    -- pending → effective | stopped | superseded
    status text not null,
    effective_at text not null,
    decided_at text,
    created_at text not null
);

create index channel_change_due_idx on channel_change (status, effective_at);
create index channel_change_citizen_idx on channel_change (citizen_id_hash, status);

-- Only what routing needs stays of the citizen id: its keyed hash (letter.citizen_id_hash)
-- and the masked form shown back to people (xxxxxxxxx0708).
update letter
set content = json_set(
    content,
    '$.recipient.citizen_id',
    'xxxxxxxxx' || substr(json_extract(content, '$.recipient.citizen_id'), 10, 4))
where length(json_extract(content, '$.recipient.citizen_id')) = 13
  and json_extract(content, '$.recipient.citizen_id') not like 'x%';
