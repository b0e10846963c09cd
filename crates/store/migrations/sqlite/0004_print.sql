-- Print batches: letters grouped per print site, rendered into one PDF with a manifest,
-- printed and dispatched by the site's operators.

create table print_batch (
    batch_id text primary key,
    site_id text not null references site (site_id),
    -- closed (letters assigned) → rendering (claimed by a worker) → ready (PDF and manifest
    -- stored) → printed → dispatched.
    status text not null,
    letter_count bigint not null default 0,
    page_count bigint not null default 0,
    sheet_count bigint not null default 0,
    pdf_blob text,
    manifest_blob text,
    -- SHA-256 of the batch PDF, hex.
    pdf_sha256 text,
    -- A rendering worker's claim: whoever holds it until this time renders the batch.
    claimed_until text,
    created_at text not null,
    rendered_at text,
    printed_at text,
    dispatched_at text
);

create index print_batch_site_idx on print_batch (site_id, created_at);
create index print_batch_status_idx on print_batch (status, created_at);

create table print_batch_letter (
    batch_id text not null references print_batch (batch_id),
    -- A letter is in at most one batch at a time.
    letter_id text not null unique references letter (letter_id),
    -- Envelope order within the batch (postcode order), from 1.
    position bigint not null,
    first_page bigint,
    pages bigint,
    sheets bigint,
    tracking_number text unique,
    primary key (batch_id, position)
);

-- Why a letter is held back from printing (its last render failed), and since when.
alter table letter add column print_hold text;
create index letter_queue_idx on letter (status, test, postcode);
