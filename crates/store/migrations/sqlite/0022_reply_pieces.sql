-- A reply whose pages did not all arrive waits until `waiting_until` for the rest, which may
-- come in later uploads at the same site; the agency is told once, when it is complete or when
-- the wait ends (naming the pages still missing). Null for a reply the agency was told of.
alter table reply add column waiting_until text;
create index reply_waiting_idx on reply (waiting_until);
-- How long a site's incomplete replies wait for their missing pages, in minutes; 0 tells the
-- agency at once.
alter table site add column reply_wait_minutes bigint not null default 1440;
