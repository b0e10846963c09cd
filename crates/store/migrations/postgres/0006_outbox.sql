-- The notification outbox: e-mails and webhooks written in the same transaction as the event
-- that causes them, delivered by the notifier with retries; every attempt is recorded. Also
-- agencies' webhook endpoints, the secure links of digital letters, and when each agency last
-- got a digest of failed notifications.

create table notification (
    -- UUIDv7; the e-mail's Message-ID local part or the webhook's `webhook-id`, the same on
    -- every retry so that receivers can drop duplicates.
    notification_id text primary key,
    -- 'email' or 'webhook'.
    kind text not null,
    -- What it is: digital_letter, reply_received, letter_returned, failure_digest (e-mails), or
    -- event (a webhook carrying one event of the feed).
    purpose text not null,
    agency_id text references agency (agency_id),
    letter_id text references letter (letter_id),
    -- The e-mail address, or the webhook endpoint id.
    recipient text not null,
    -- What to send, JSON (the template and its values, or the webhook body).
    payload text not null,
    -- pending → sent | failed | cancelled (its letter or endpoint went away before delivery).
    status text not null,
    attempts bigint not null default 0,
    -- Not before this time.
    next_attempt_at text not null,
    -- A worker's claim: whoever holds claim_token may deliver it until claimed_until.
    claimed_until text,
    claim_token text,
    last_error text,
    sent_at text,
    failed_at text,
    -- Whose fault a final failure was (recipient, ours, network) and whether a retry could help.
    fault text,
    retryable bigint,
    -- When the failure was listed in a digest to the agency.
    digested_at text,
    created_at text not null
);

create index notification_due_idx on notification (status, next_attempt_at);
create index notification_failed_idx on notification (agency_id, status, digested_at);

create table notification_attempt (
    notification_id text not null references notification (notification_id),
    attempt bigint not null,
    started_at text not null,
    -- delivered, transient, permanent
    outcome text not null,
    error text,
    duration_ms bigint not null,
    created_at text not null,
    primary key (notification_id, attempt)
);

create table webhook_endpoint (
    endpoint_id text primary key,
    agency_id text not null references agency (agency_id),
    url text not null,
    -- JSON array of event kinds; empty means every event.
    events text not null,
    -- The signing secret wrapped with AES-256-GCM under the service secret, base64.
    secret_wrapped text not null,
    created_at text not null,
    deleted_at text
);

create index webhook_endpoint_agency_idx on webhook_endpoint (agency_id, deleted_at);

create table digital_link (
    -- SHA-256 of the link token, hex. The token is in the e-mail only.
    token_hash text primary key,
    letter_id text not null unique references letter (letter_id),
    expires_at text not null,
    opened_at text,
    created_at text not null
);

create table notification_digest (
    agency_id text primary key references agency (agency_id),
    last_sent_at text not null,
    created_at text not null
);
