-- A reply whose pages did not all arrive waits until `waiting_until` for the rest, which may
-- come in later uploads at the same site; the agency is told once, when it is complete or when
-- the wait ends (naming the pages still missing). Null for a reply the agency was told of.
alter table reply add column waiting_until text;
create index reply_waiting_idx on reply (waiting_until);
-- How long a site's incomplete replies wait for their missing pages, in minutes; 0 tells the
-- agency at once.
alter table site add column reply_wait_minutes bigint not null default 1440;
-- How the reply's answer stands, for the post office's queue of answers to check by eye:
-- answered | no_answer | needs_review (a page to look at) | not_read (the page with the boxes
-- never arrived); null for a reply with no question.
alter table reply add column answer_status text;
update reply set answer_status = 'needs_review'
  where answer like '%"status":"needs_review"%' and answer not like '%"reason":"page_missing"%';
update reply set answer_status = 'not_read' where answer like '%"reason":"page_missing"%';
update reply set answer_status = 'answered' where answer like '%"status":"answered"%';
update reply set answer_status = 'no_answer' where answer like '%"status":"no_answer"%';
create index reply_answer_review_idx on reply (site_id, answer_status, created_at);
