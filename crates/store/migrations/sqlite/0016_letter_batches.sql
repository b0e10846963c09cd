-- Letters sent many at once: the API's letter batches and the console's mail merge. A batch
-- keeps its rows as submitted until each is sent or refused; every letter sent from a row
-- leaves its row key, so the same row is never sent twice (a file uploaded again, a batch
-- resumed after a crash, two nodes working on one batch).
create table letter_batch (
    batch_id text primary key,
    agency_id text not null references agency (agency_id),
    test bigint not null default 0,
    -- 'api' or 'console'.
    source text not null,
    -- The console's file name; null for the API.
    file_name text,
    -- The person who sent it from the console.
    created_by text references person (person_id),
    rows_total bigint not null,
    -- 'sending' until every row is sent or refused, then 'done'.
    status text not null,
    -- A node working on the batch holds it until then; another takes it over after.
    lease_until text,
    created_at text not null,
    finished_at text
);

create index letter_batch_agency_idx on letter_batch (agency_id, test, batch_id);
create index letter_batch_status_idx on letter_batch (status, lease_until);

create table letter_batch_row (
    batch_id text not null references letter_batch (batch_id),
    -- The row as its sender numbers it: the spreadsheet row (the header is row 1) or the
    -- index in the API's list.
    row_number bigint not null,
    -- SHA-256 of the letter's canonical JSON.
    row_key text not null,
    -- The letter as submitted, JSON.
    content text not null,
    -- 'pending', 'sent', 'sent_before' (the same letter was sent by an earlier row) or 'refused'.
    state text not null,
    letter_id text,
    error text,
    primary key (batch_id, row_number)
);

create index letter_batch_row_state_idx on letter_batch_row (batch_id, state, row_number);

-- The key of every letter sent from a batch row, per agency and mode.
create table letter_row_key (
    agency_id text not null references agency (agency_id),
    test bigint not null,
    row_key text not null,
    letter_id text not null,
    primary key (agency_id, test, row_key)
);

-- The console's mail merge before it is sent: the table read from the file, and the template,
-- common fields and column mapping chosen for it.
create table merge_draft (
    draft_id text primary key,
    agency_id text not null references agency (agency_id),
    test bigint not null default 0,
    person_id text not null references person (person_id),
    file_name text not null,
    -- {"columns": [...], "rows": [{"number": 2, "cells": [...]}, ...]}, JSON.
    sheet text not null,
    -- Template, common fields and mapping, JSON.
    settings text not null,
    batch_id text references letter_batch (batch_id),
    created_at text not null,
    updated_at text not null
);

create index merge_draft_agency_idx on merge_draft (agency_id, created_at);
